"""Hessian spectra, PSD with tolerance, and null spaces (nablanet.checks.curvature)."""

import numpy as np
import pytest

import nablanet as nb
from nablanet.checks.curvature import (
    curvature_report,
    hessian_spectrum,
    is_psd,
    min_eigenvalue,
    null_space,
    null_vector_residual,
    rounding_tolerance,
    symmetry_error,
)


def test_spectrum_is_ascending_and_matches_known_eigenvalues():
    Q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((4, 4)))
    H = Q @ np.diag([3.0, -2.0, 0.5, 7.0]) @ Q.T
    np.testing.assert_allclose(hessian_spectrum(H), [-2.0, 0.5, 3.0, 7.0], atol=1e-12)
    assert min_eigenvalue(H) == pytest.approx(-2.0, abs=1e-12)


def test_sum_of_rank_one_terms_is_psd_but_nonnegative_entries_are_not_enough(rng):
    X = rng.standard_normal((50, 5))
    c = rng.uniform(0.01, 0.25, 50)
    assert is_psd((X * c[:, None]).T @ X)
    nonnegative = np.array([[1.0, 2.0], [2.0, 1.0]])
    assert np.all(nonnegative >= 0) and not is_psd(nonnegative)


def test_tolerance_decides_tiny_negative_eigenvalues():
    H = np.diag([1.0, -1e-13])
    assert not is_psd(H, tol=0.0)
    assert is_psd(H, tol=1e-12)
    assert is_psd(np.diag([1.0, -1e-15]))  # below the default rounding tolerance
    assert rounding_tolerance(np.diag([1.0, -1e-15])) == pytest.approx(100 * 2 * 2.0**-52)


def test_softmax_hessian_null_space_is_the_ones_vector(rng):
    z = rng.standard_normal(5)
    H = nb.hessian(lambda v: nb.logsumexp(v))(z)
    basis = null_space(H)
    assert basis.shape == (5, 1)
    np.testing.assert_allclose(np.abs(basis[:, 0]), np.full(5, 5**-0.5), atol=1e-10)
    assert null_vector_residual(H, np.ones(5)) < 1e-15
    assert null_vector_residual(H, np.eye(5)[0]) > 0.1


def test_report_and_symmetry():
    report = curvature_report(np.diag([0.0, 2.0, 5.0]))
    assert (report.psd, report.null_dimension, report.min_eigenvalue) == (True, 1, 0.0)
    assert symmetry_error(np.array([[1.0, 2.0], [2.5, 1.0]])) == pytest.approx(0.2)


@pytest.mark.parametrize("bad", [np.ones((2, 3)), np.ones(3), np.array([[np.nan, 0], [0, 1]])])
def test_bad_matrices_raise_value_error(bad):
    with pytest.raises(ValueError, match="square|NaN"):
        hessian_spectrum(bad)


def test_null_vector_length_must_match():
    with pytest.raises(ValueError, match="3 entries"):
        null_vector_residual(np.eye(3), np.ones(2))
