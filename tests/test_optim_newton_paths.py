"""The faster paths of Newton and its objectives give the same numbers as the plain ones:
Cholesky-factor solves, the softmax Hessian from per-row feature products, its float32
preconditioner copy, the one-pass logistic H v, and no value recomputed after a step."""

import numpy as np
import pytest

from nablanet.optim import LogisticObjective, SoftmaxObjective, newton
from nablanet.optim import objectives as objectives_module
from nablanet.optim._triangular import CholeskyFactor


@pytest.fixture
def rng():
    return np.random.default_rng(11)


@pytest.mark.parametrize("n", [1, 5, 127, 128, 129, 300])
def test_cholesky_factor_solves_match_dense_solves(rng, n):
    A = rng.standard_normal((n, n + 2))
    H = A @ A.T + n * np.eye(n)
    L = np.linalg.cholesky(H)
    factor, b = CholeskyFactor(L), rng.standard_normal(n)
    before = b.copy()
    np.testing.assert_allclose(factor.lower(b), np.linalg.solve(L, b), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(factor.upper(b), np.linalg.solve(L.T, b), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(factor.solve(b), np.linalg.solve(H, b), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(b, before)


@pytest.mark.parametrize("alpha, fit_intercept, weighted",
                         [(0.0, True, True), (1.0, True, False), (0.5, False, True)])
def test_softmax_hessian_paths_agree(rng, monkeypatch, alpha, fit_intercept, weighted):
    X = rng.standard_normal((200, 5)) * np.array([1.0, 3.0, 0.5, 2.0, 1.0])
    s = rng.uniform(0.5, 2.0, 200) if weighted else None
    labels = rng.integers(0, 4, 200)
    obj = SoftmaxObjective(X, labels, sample_weight=s, alpha=alpha, fit_intercept=fit_intercept)
    theta = 0.3 * rng.standard_normal(obj.n_params)
    from_pairs = obj.hessian(theta)
    single = obj.preconditioner_hessian(theta)
    assert obj._pairs  # the per-row products were used
    monkeypatch.setattr(objectives_module, "PAIR_PRODUCTS_BYTES", 0)
    fresh = SoftmaxObjective(X, labels, sample_weight=s, alpha=alpha, fit_intercept=fit_intercept)
    by_syrk = fresh.hessian(theta)
    assert not fresh._pairs  # past the cap: the rank-n update
    np.testing.assert_allclose(from_pairs, by_syrk, rtol=1e-12, atol=1e-11)
    np.testing.assert_array_equal(from_pairs, from_pairs.T)
    scale = np.abs(by_syrk).max()
    assert 0 < np.abs(single - by_syrk).max() <= 1e-5 * scale  # float32 sums, not exact
    assert np.abs(fresh.preconditioner_hessian(theta) - by_syrk).max() <= 1e-5 * scale


def test_logistic_hvp_over_many_row_blocks_equals_h_times_v(rng):
    X = rng.standard_normal((1000, 400))  # blocks of 245 rows: five of them
    obj = LogisticObjective(X, (rng.random(1000) < 0.5).astype(int), alpha=0.7)
    theta, v = 0.05 * rng.standard_normal(401), rng.standard_normal(401)
    np.testing.assert_allclose(obj.hvp(theta, v), obj.hessian(theta) @ v, rtol=1e-11,
                               atol=1e-9)


class _ExactOnly:
    """A softmax objective without the float32 preconditioner (fresh factors only)."""

    def __init__(self, obj):
        self.value, self.gradient, self.hessian, self.hvp = (obj.value, obj.gradient,
                                                             obj.hessian, obj.hvp)


def test_newton_with_a_float32_preconditioner_reaches_the_exact_optimum(rng):
    X = rng.standard_normal((600, 6)) * np.array([1, 4, 1, 0.5, 8, 1])
    labels = rng.integers(0, 5, 600)
    fast = newton(SoftmaxObjective(X, labels, alpha=1.0), np.zeros(35))
    exact = newton(_ExactOnly(SoftmaxObjective(X, labels, alpha=1.0)), np.zeros(35))
    assert fast.converged and exact.converged
    assert fast.fun == pytest.approx(exact.fun, rel=1e-14)
    np.testing.assert_allclose(fast.x, exact.x, rtol=1e-7, atol=1e-9)
    assert np.max(np.abs(fast.grad)) <= 1e-8


def test_newton_falls_back_to_the_exact_hessian_when_the_preconditioner_is_not_pd(rng):
    X = rng.standard_normal((300, 3))
    obj = SoftmaxObjective(X, rng.integers(0, 3, 300), alpha=1.0)
    calls = []

    class Broken(_ExactOnly):
        def preconditioner_hessian(self, theta):
            calls.append(1)
            return -np.eye(obj.n_params)

    result = newton(Broken(obj), np.zeros(obj.n_params))
    reference = newton(obj, np.zeros(obj.n_params))
    assert calls and result.converged
    assert result.fun == pytest.approx(reference.fun, rel=1e-14)


def test_newton_reuses_the_line_search_value(rng):
    # with closed-form value and gradient, an accepted step costs no second value call
    A = rng.standard_normal((6, 6))
    Q = A @ A.T + np.eye(6)
    calls = {"value": 0}

    def value(x):
        calls["value"] += 1
        return float(np.sum(np.cosh(x)) + 0.5 * x @ Q @ x)

    result = newton(value, np.full(6, 2.0), grad=lambda x: np.sinh(x) + Q @ x,
                    hess=lambda x: np.diag(np.cosh(x)) + Q)
    # a step of length 2^-k took k + 1 trial values (an unsearched last step: its one value)
    evaluations = int(np.sum(1 + np.round(-np.log2(result.trace["step_length"]))))
    assert result.converged and result.n_iter >= 3
    assert calls["value"] == 1 + evaluations
