"""Newton solvers never claim a minimum they did not reach (issue 18): saddles, maxima,
unbounded and non-finite objectives, tiny objectives, and random non-convex functions."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nablanet as nb
from nablanet.optim import ConvergenceWarning, newton, newton_cg

SOLVERS = [newton, newton_cg]


def _quiet(solve, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return solve(*args, **kwargs)


def test_convergence_warning_is_sklearns():
    from sklearn.exceptions import ConvergenceWarning as SklearnWarning

    assert issubclass(ConvergenceWarning, SklearnWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SklearnWarning)  # sklearn's filter catches ours
        with pytest.raises(SklearnWarning):
            newton(lambda x: nb.sum(nb.exp(x) - 2 * x) + nb.sum(x**4), np.array([5.0]),
                   max_iter=1)


@pytest.mark.parametrize("solve", SOLVERS)
def test_warning_points_at_the_callers_line(solve):
    with pytest.warns(ConvergenceWarning) as caught:
        solve(lambda x: nb.sum(nb.exp(x) - 2 * x) + nb.sum(x**4), np.array([5.0]), max_iter=1)
    assert caught[0].filename == __file__


@pytest.mark.parametrize("solve", SOLVERS)
def test_a_saddle_is_escaped_along_its_negative_curvature(solve):
    # from (1, 0) the gradient leads exactly to the saddle (0, 0); the minima are (0, +-1/sqrt2)
    f = lambda x: x[0] ** 2 - x[1] ** 2 + x[1] ** 4  # noqa: E731
    r = solve(f, np.array([1.0, 0.0]))
    assert r.converged
    np.testing.assert_allclose(np.abs(r.x), [0.0, 2**-0.5], atol=1e-6)
    assert np.all(np.linalg.eigvalsh(nb.hessian(f)(r.x)) > 0)


@pytest.mark.parametrize("solve", SOLVERS)
def test_a_maximum_or_an_unbounded_saddle_is_never_converged(solve):
    for f, x0 in [(lambda x: -nb.sum(x * x), [0.0, 0.0]),  # a maximum
                  (lambda x: x[0] ** 2 - x[1] ** 2, [1.0, 0.0])]:  # a saddle, unbounded
        with pytest.warns(ConvergenceWarning, match="unbounded"):
            r = solve(f, np.array(x0))
        assert not r.converged and r.stop_reason == "unbounded"


@pytest.mark.parametrize("solve", SOLVERS)
def test_a_saddle_with_no_way_down_is_reported(solve):
    # x0^2 - x1^2 on a tiny box (+inf outside): at the saddle (0, 0) no step along the
    # negative curvature is finite, so the result says 'saddle', not converged
    def fun(x):
        return x[0] ** 2 - x[1] ** 2 if np.max(np.abs(x)) < 1e-9 else np.inf

    kwargs = {"grad": lambda x: np.array([2.0 * x[0], -2.0 * x[1]])}
    if solve is newton:
        kwargs["hess"] = lambda x: np.diag([2.0, -2.0])
    else:
        kwargs["hvp"] = lambda x, v: np.array([2.0 * v[0], -2.0 * v[1]])
    with pytest.warns(ConvergenceWarning, match="saddle"):
        r = solve(fun, np.array([0.0, 0.0]), **kwargs)
    assert r.stop_reason == "saddle" and not r.converged


@pytest.mark.parametrize("solve", SOLVERS)
def test_zero_hessian_and_linear_objective_are_unbounded_not_errors(solve):
    with pytest.warns(ConvergenceWarning, match="without bound"):
        r = solve(lambda x: nb.sum(x), np.array([0.0, 1.0]))
    assert r.stop_reason == "unbounded" and not r.converged
    # f'' = 0 at the start only: the gradient's scale damps the step, and it converges
    r = solve(lambda x: nb.sum(x**4 - x), np.array([0.0]))
    assert r.converged and abs(r.x[0] - 0.25 ** (1 / 3)) < 1e-6


@pytest.mark.parametrize("solve", SOLVERS)
def test_nan_gradient_mid_run_is_a_stop_reason(solve):
    def fun(x):
        return float(np.sum((x - 3.0) ** 2))

    def grad(x):
        return np.full_like(x, np.nan) if x[0] > 1.0 else 2.0 * (x - 3.0)

    kwargs = {"grad": grad}
    if solve is newton:
        kwargs["hess"] = lambda x: 2.0 * np.eye(len(x))
    else:
        kwargs["hvp"] = lambda x, v: 2.0 * v
    with pytest.warns(ConvergenceWarning, match="NaN or infinite"):
        r = solve(fun, np.array([0.0]), **kwargs)
    assert r.stop_reason == "non_finite" and not r.converged


@pytest.mark.parametrize("solve", SOLVERS)
def test_tiny_objective_is_solved_not_stopped_at_the_start(solve):
    # every gradient is below tol, yet the minimum is at 3: the Newton step does not scale
    r = solve(lambda x: 1e-20 * nb.sum((x - 3.0) ** 4 + (x - 3.0) ** 2), np.array([0.0]))
    assert r.converged and abs(r.x[0] - 3.0) < 1e-5


@pytest.mark.parametrize("solve", SOLVERS)
def test_gradient_vanishing_at_infinity_is_not_a_minimum(solve):
    for f, x0 in [(lambda x: nb.sum(nb.exp(-x)), 0.0), (lambda x: -nb.sum(nb.log(x)), 1.0)]:
        with pytest.warns(ConvergenceWarning):
            r = solve(f, np.array([x0]))
        assert not r.converged and r.stop_reason in ("max_iter", "unbounded")


def test_a_stalled_step_size_stop_is_not_convergence():
    # steps limited to 1e-14 (a wrong Hessian 1e14 times too big) far from the minimum
    fun = lambda x: float(np.sum((x - 1.0) ** 2))  # noqa: E731
    with pytest.warns(ConvergenceWarning, match="stalled"):
        r = newton(fun, np.array([5.0]), grad=lambda x: 2.0 * (x - 1.0),
                   hess=lambda x: 1e16 * np.eye(1), step_tol=1e-10)
    assert r.stop_reason == "stalled" and not r.converged


def _random_nonconvex(seed, n):
    """A random smooth function: quadratic of random sign plus tanh ridges plus a
    quartic wall (bounded below, often with saddles and several minima)."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n))
    Q = 0.5 * (A + A.T)
    B = rng.standard_normal((3, n))
    c = rng.standard_normal(3)

    def f(x):
        quadratic = 0.5 * nb.sum(x * nb.matmul(Q, x))
        bumps = 2.0 * nb.sum(nb.tanh(nb.matmul(B, x) + c) ** 2)
        return quadratic + bumps + 0.05 * nb.sum(x**4)

    return f, rng.standard_normal(n)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 4), which=st.sampled_from([0, 1]))
def test_random_nonconvex_result_is_a_verified_minimum_or_says_not(seed, n, which):
    f, x0 = _random_nonconvex(seed, n)
    r = _quiet(SOLVERS[which], f, x0, max_iter=200)
    if r.converged:
        g = np.asarray(nb.grad(f)(r.x))
        eigenvalues = np.linalg.eigvalsh(nb.hessian(f)(r.x))
        assert np.max(np.abs(g)) <= 1e-6
        assert eigenvalues[0] >= -1e-6 * max(1.0, np.max(np.abs(eigenvalues)))
    else:
        assert r.stop_reason in ("saddle", "max_iter", "unbounded", "line_search",
                                 "stalled", "non_finite")
