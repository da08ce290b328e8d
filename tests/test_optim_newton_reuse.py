"""Newton's reuse of an old Hessian factor: preconditioned CG, triangular inverse, and the
logistic objective's logits carried along H v products."""

import numpy as np
import pytest

from nablanet.optim import LogisticObjective, SoftmaxObjective, newton
from nablanet.optim._triangular import inverse_lower
from nablanet.optim.newton import pcg_direction


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.mark.parametrize("n", [1, 5, 64, 65, 200])
def test_inverse_lower_inverts(rng, n):
    A = rng.standard_normal((n, n + 3))
    L = np.linalg.cholesky(A @ A.T + n * np.eye(n))
    inverse = inverse_lower(L)
    np.testing.assert_allclose(inverse @ L, np.eye(n), atol=1e-12)
    assert np.all(np.triu(inverse, 1) == 0)


def test_pcg_direction_solves_to_its_tolerance(rng):
    A = rng.standard_normal((40, 60))
    H = A @ A.T + np.eye(40)
    g = rng.standard_normal(40)
    near = np.linalg.inv(H + 0.05 * np.diag(np.diag(H)))  # a stale preconditioner
    d, lam2, used = pcg_direction(lambda v: H @ v, g, lambda r: near @ r, max_products=40)
    exact = -np.linalg.solve(H, g)
    assert d is not None and 1 <= used < 40
    # eta = min(0.1, lambda): the error in the H-norm is at most eta times the step's
    err = d - exact
    assert err @ H @ err <= 1e-2 * (exact @ H @ exact)
    assert lam2 == pytest.approx(-(g @ d))


def test_pcg_direction_refuses_negative_curvature(rng):
    H = np.diag([1.0, -1.0, 2.0])
    d, _, used = pcg_direction(lambda v: H @ v, np.ones(3), lambda r: r, max_products=10)
    assert d is None and used >= 1


def test_pcg_direction_respects_its_product_budget(rng):
    A = rng.standard_normal((50, 50))
    H = A @ A.T + 1e-3 * np.eye(50)  # badly conditioned: plain CG needs many products
    calls = []

    def hvp(v):
        calls.append(1)
        return H @ v

    d, _, used = pcg_direction(hvp, rng.standard_normal(50), lambda r: r, max_products=3)
    assert used == len(calls) == 3


def test_logits_from_products_match_a_fresh_pass(rng):
    X = rng.standard_normal((300, 6))
    y = (rng.random(300) < 0.4).astype(int)
    obj = LogisticObjective(X, y, alpha=0.5)
    obj.shortcut_min_size = 0  # take the shortcut even on this small X
    x = rng.standard_normal(7)
    obj.value(x)
    v1, v2 = rng.standard_normal(7), rng.standard_normal(7)
    obj.hvp(x, v1)
    obj.hvp(x, v2)
    new = x + 0.7 * v1 - 0.3 * v2
    fresh = LogisticObjective(X, y, alpha=0.5)
    assert obj._step_from_products(new) is not None  # the shortcut is taken
    assert obj.value(new) == pytest.approx(fresh.value(new), rel=1e-14)
    np.testing.assert_allclose(obj.gradient(new), fresh.gradient(new), rtol=1e-12, atol=1e-12)
    other = x + rng.standard_normal(7)  # outside span(v1, v2): a full pass
    assert obj._step_from_products(other) is None
    small = LogisticObjective(X, y, alpha=0.5)  # default: no shortcut on a small X
    small.value(x)
    small.hvp(x, v1)
    assert small._step_from_products(x + 0.5 * v1) is None


@pytest.mark.parametrize("kind", ["logistic", "softmax"])
def test_newton_with_reuse_matches_fresh_hessians(rng, kind):
    X = rng.standard_normal((2000, 8)) * np.array([1, 2, 5, 1, 1, 10, 1, 3])
    if kind == "logistic":
        obj = LogisticObjective(X, (rng.random(2000) < 0.3).astype(int), alpha=1.0)
    else:
        obj = SoftmaxObjective(X, rng.integers(0, 4, 2000), alpha=1.0)
    fast = newton(obj, np.zeros(obj.n_params))
    # no closed-form H v: chord steps only, or a fresh Hessian every time
    slow = newton(obj.value, np.zeros(obj.n_params), grad=obj.gradient, hess=obj.hessian)
    assert fast.converged and slow.converged
    assert fast.fun <= slow.fun * (1 + 1e-13)
    np.testing.assert_allclose(fast.x, slow.x, rtol=1e-7, atol=1e-8)
    assert np.max(np.abs(fast.grad)) <= 1e-6
