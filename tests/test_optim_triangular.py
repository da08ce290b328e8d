"""Blocked triangular solves equal a dense solve, across block boundaries."""

import numpy as np
import pytest

from nablanet.optim._triangular import solve_lower, solve_upper


@pytest.mark.parametrize("n", [1, 5, 64, 65, 200])
def test_blocked_substitution_matches_dense_solve(n, rng):
    A = rng.standard_normal((n, n))
    L = np.linalg.cholesky(A @ A.T + n * np.eye(n))
    b = rng.standard_normal(n)
    np.testing.assert_allclose(solve_lower(L, b), np.linalg.solve(L, b), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(solve_upper(L.T, b), np.linalg.solve(L.T, b), rtol=1e-10,
                               atol=1e-12)


def test_inputs_are_not_modified(rng):
    L = np.tril(rng.standard_normal((70, 70))) + 10 * np.eye(70)
    b = rng.standard_normal(70)
    before = b.copy()
    solve_lower(L, b)
    solve_upper(L.T, b)
    np.testing.assert_array_equal(b, before)
