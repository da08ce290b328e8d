"""Fewer passes over X per Newton iteration: the logistic objective's fused passes, the
previous step's H v as CG's start, and the last solve's tolerance set by the stopping test."""

import numpy as np
import pytest

from nablanet.optim import LogisticObjective, newton
from nablanet.optim._logistic_passes import LogisticState
from nablanet.optim.newton import pcg_direction


@pytest.fixture
def rng():
    return np.random.default_rng(11)


def _problem(rng, n=400, d=5, fit_intercept=True, weights=True):
    X = rng.standard_normal((n, d)) * np.arange(1, d + 1)
    y = (rng.random(n) < 0.35).astype(int)
    s = rng.uniform(0.2, 2.0, n) if weights else None
    return LogisticObjective(X, y, sample_weight=s, alpha=0.7, fit_intercept=fit_intercept)


def _fresh(obj):
    return LogisticObjective(obj.X, obj.y, sample_weight=obj.sample_weight, alpha=obj.alpha,
                             fit_intercept=obj.fit_intercept)


def test_link_terms_are_exact_and_finite_for_any_logit():
    z = np.array([-1e4, -745.0, -40.0, -1.0, -1e-300, 0.0, 1e-300, 1.0, 40.0, 745.0, 1e4])
    state = LogisticState.from_logits(z)
    # sigmoid and softplus written out with exp of a non-positive number only
    tail = np.exp(-np.abs(z))
    p = np.where(z >= 0, 1 / (1 + tail), tail / (1 + tail))
    softplus = np.maximum(z, 0) + np.log1p(tail)
    np.testing.assert_allclose(state.p, p, rtol=1e-15, atol=0)
    np.testing.assert_allclose(state.softplus, softplus, rtol=1e-15, atol=0)
    assert state.p[2] == pytest.approx(np.exp(-40.0), rel=1e-14)  # no cancellation in 1 - p
    at_zero = LogisticState.at_zero(3)
    assert np.all(at_zero.p == 0.5) and np.all(at_zero.softplus == np.log(2.0))


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_fused_passes_equal_separate_ones(rng, fit_intercept):
    obj = _problem(rng, fit_intercept=fit_intercept)
    theta = rng.standard_normal(obj.n_params)
    f, g, H = obj.value_gradient_hessian(theta)  # gradient from the Hessian's pass
    line_search = _fresh(obj)
    line_search.value(theta)  # logits by a pass over X: the gradient comes with them
    assert line_search._cache.gradient is not None
    separate = _fresh(obj)
    assert f == separate.value(theta)
    expected_g = separate.gradient(theta)
    np.testing.assert_allclose(g, expected_g, rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(line_search.gradient(theta), expected_g, rtol=1e-13, atol=1e-12)
    # the Hessian as one product of the scaled design (intercept column included)
    Xt = np.hstack([obj.X, np.ones((len(obj.X), 1))]) if fit_intercept else obj.X
    p = 1 / (1 + np.exp(-(Xt @ theta)))
    expected_H = Xt.T @ (Xt * (obj.sample_weight * p * (1 - p))[:, None])
    expected_H[: obj.n_features, : obj.n_features] += obj.alpha * np.eye(obj.n_features)
    np.testing.assert_allclose(H, expected_H, rtol=1e-12, atol=1e-12)


def test_previous_step_product_is_h_at_the_new_point_times_the_step(rng):
    obj = _problem(rng, n=3000)
    obj.shortcut_min_size = 0  # logits from products even on this small X
    x = rng.standard_normal(obj.n_params)
    obj.value(x)
    v1, v2 = rng.standard_normal(obj.n_params), rng.standard_normal(obj.n_params)
    obj.hvp(x, v1)
    obj.hvp(x, v2)
    new = x + 0.4 * v1 - 0.9 * v2
    assert obj.previous_step_product(new) is None  # no gradient pass at new yet
    fresh = _fresh(obj)
    np.testing.assert_allclose(obj.gradient(new), fresh.gradient(new), rtol=1e-12, atol=1e-11)
    step, Hstep = obj.previous_step_product(new)
    np.testing.assert_allclose(step, new - x, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(Hstep, fresh.hessian(new) @ step, rtol=1e-11, atol=1e-11)
    # the step's X~ v stays valid at the new point: one step further is still a shortcut
    further = new + 0.5 * step
    assert obj._step_from_products(further) is not None
    assert obj.value(further) == pytest.approx(fresh.value(further), rel=1e-13)


def test_pcg_start_along_the_exact_step_needs_no_product(rng):
    A = rng.standard_normal((30, 45))
    H = A @ A.T + np.eye(30)
    g = rng.standard_normal(30)
    exact = -np.linalg.solve(H, g)
    calls = []

    def hvp(v):
        calls.append(1)
        return H @ v

    precondition = np.linalg.inv(H + 0.3 * np.diag(np.diag(H))).dot
    d, lam2, used = pcg_direction(hvp, g, precondition, 50, start=(2.0 * exact, 2.0 * H @ exact))
    assert used == len(calls) == 0
    np.testing.assert_allclose(d, exact, rtol=1e-10, atol=1e-12)
    assert lam2 == pytest.approx(-(g @ exact), rel=1e-10)
    # a useless start (zero curvature) changes nothing: the same solve as without one
    plain = pcg_direction(hvp, g, precondition, 50)
    useless = pcg_direction(hvp, g, precondition, 50, start=(np.zeros(30), np.zeros(30)))
    np.testing.assert_array_equal(plain[0], useless[0])
    assert plain[2] == useless[2] >= 2


def test_pcg_stops_once_the_residual_is_below_enough(rng):
    A = rng.standard_normal((40, 40))
    H = A @ A.T + 0.05 * np.eye(40)
    g = 1e-3 * rng.standard_normal(40)
    precondition = np.linalg.inv(H + 0.5 * np.diag(np.diag(H))).dot
    strict = pcg_direction(lambda v: H @ v, g, precondition, 200)
    enough = 1e-4 * float(g @ precondition(g))
    loose = pcg_direction(lambda v: H @ v, g, precondition, 200, enough=enough)
    assert 1 <= loose[2] < strict[2]
    r = -g - H @ loose[0]
    assert r @ precondition(r) <= enough


@pytest.mark.parametrize("weights", [True, False])
def test_newton_with_fused_passes_reaches_the_same_optimum(rng, weights):
    obj = _problem(rng, n=5000, d=8, weights=weights)
    obj.shortcut_min_size = 0
    fast = newton(obj, np.zeros(obj.n_params))
    # reference: a fresh Hessian and a direct solve at every iteration
    plain = _fresh(obj)
    slow = newton(plain.value, np.zeros(obj.n_params), grad=plain.gradient, hess=plain.hessian)
    assert fast.converged and fast.stop_reason == slow.stop_reason == "decrement"
    assert fast.n_iter <= slow.n_iter + 1
    assert _fresh(obj).value(fast.x) <= slow.fun * (1 + 1e-14)
    np.testing.assert_allclose(fast.x, slow.x, rtol=1e-7, atol=1e-8)
    assert fast.n_hessian <= 2
