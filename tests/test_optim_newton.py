"""Damped Newton and Newton-CG: convergence, stop reasons, damping, separation, a published fit."""

import numpy as np
import pytest

import nablanet as nb
from nablanet.optim import ConvergenceWarning, LogisticObjective, newton, newton_cg
from nablanet.optim.newton import newton_direction


def _logistic_data(rng, n=400, d=3):
    X = rng.standard_normal((n, d))
    p = 1 / (1 + np.exp(-(X @ np.arange(1.0, d + 1) * 0.5 - 0.3)))
    return X, (rng.random(n) < p).astype(float)


def test_quadratic_in_one_step(rng):
    A = rng.standard_normal((4, 4))
    A = A @ A.T + 4 * np.eye(4)
    b = rng.standard_normal(4)
    r = newton(lambda x: 0.5 * nb.sum(x * nb.matmul(A, x)) - nb.sum(b * x), np.zeros(4))
    np.testing.assert_allclose(r.x, np.linalg.solve(A, b), rtol=1e-12)
    assert r.converged and r.n_iter <= 2 and r.trace["step_length"][0] == 1.0


def test_closed_forms_and_engine_agree_on_logistic(rng):
    X, y = _logistic_data(rng)
    obj = LogisticObjective(X, y, alpha=0.1)
    closed = newton(obj, np.zeros(4))
    engine = newton(lambda t: nb.sum(nb.log1p(nb.exp(-nb.abs(z := nb.matmul(X, t[:3]) + t[3])))
                                     + nb.maximum(z, 0.0) - y * z) + 0.05 * nb.sum(t[:3] ** 2),
                    np.zeros(4))
    # both stop on the decrement (f - f* ~ 1e-14 |f|): parameters agree to about its sqrt
    assert engine.fun == pytest.approx(closed.fun, rel=1e-13)
    np.testing.assert_allclose(engine.x, closed.x, rtol=1e-6)
    tight = newton(obj, np.zeros(4), decrement_tol=1e-30)
    np.testing.assert_allclose(tight.x, closed.x, rtol=1e-6)
    assert tight.converged and np.max(np.abs(tight.grad)) <= 1e-6  # rounding floor of a sum
    assert closed.converged and closed.n_iter <= 10
    assert closed.stop_reason in ("gradient", "decrement")
    assert set(closed.trace) == {"loss", "grad_norm", "decrement", "step_norm", "damping",
                                 "step_length"}
    assert np.all(np.diff(closed.trace["loss"]) <= 1e-12)  # monotone: Armijo


def test_newton_cg_matches_newton_with_closed_and_engine_hvp(rng):
    X, y = _logistic_data(rng)
    obj = LogisticObjective(X, y, alpha=0.1)
    reference = newton(obj, np.zeros(4))
    r = newton_cg(obj, np.zeros(4))
    assert r.converged
    # the decrement test bounds f - f*, so parameters agree to about sqrt of it
    assert r.fun == pytest.approx(reference.fun, rel=1e-13)
    np.testing.assert_allclose(r.x, reference.x, rtol=1e-6)
    # a tiny tanh network fitted by Newton-CG through the engine's hvp only; a little
    # weight decay gives it an isolated minimum (unpenalised, its loss keeps falling
    # along a flat valley, and the solver rightly does not call any point of it converged)
    x_in = np.linspace(-2, 2, 30)
    target = np.sin(x_in)

    def mlp_loss(theta):
        hidden = nb.tanh(nb.outer(x_in, theta[:4]) + theta[4:8])
        fit = 0.5 * nb.sum((nb.matmul(hidden, theta[8:12]) - target) ** 2)
        return fit + 1e-4 * nb.sum(theta * theta)

    start = np.random.default_rng(1).standard_normal(12)
    fit = newton_cg(mlp_loss, start, tol=1e-6, max_iter=200)
    assert fit.converged and fit.fun < 1e-3 * float(mlp_loss(start))


def test_singular_hessian_engages_damping_and_converges():
    # convex; at x0 = (1, 0) the Hessian diag(0, 12) is singular
    f = lambda x: (x[0] - 1.0) ** 4 + (x[1] + 1.0) ** 4  # noqa: E731
    r = newton(f, np.array([1.0, 0.0]), tol=1e-7)
    assert r.trace["damping"][0] > 0
    assert r.converged
    np.testing.assert_allclose(r.x, [1.0, -1.0], atol=1e-2)


def test_indefinite_hessian_engages_damping_and_descends():
    f = lambda x: nb.sum(x**4 / 4 - x**2 / 2 + 0.1 * x)  # noqa: E731
    r = newton(f, np.array([0.05]))  # f'' = 3x^2 - 1 < 0 here
    assert r.trace["damping"][0] > 0 and r.converged
    x = r.x[0]
    assert abs(x**3 - x + 0.1) <= 1e-6 and 3 * x**2 - 1 > 0  # a stationary point that is a min
    H = np.array([[1.0, 2.0], [2.0, 1.0]])
    d, lam2, mu, _ = newton_direction(H, np.array([1.0, 0.0]))
    assert mu > 0 and np.all(np.linalg.eigvalsh(H + mu * np.eye(2)) > 0) and d @ [1, 0] < 0


def test_separable_data_stop_with_a_warning_and_finite_weights(rng):
    X = rng.standard_normal((100, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(float)
    with pytest.warns(ConvergenceWarning, match="separable.*L2"):
        r = newton(LogisticObjective(X, y), np.zeros(3))
    assert r.stop_reason == "separation" and not r.converged
    assert np.all(np.isfinite(r.x)) and np.linalg.norm(r.x) < 1e3
    penalised = newton(LogisticObjective(X, y, alpha=1.0), np.zeros(3))
    assert penalised.converged


def test_nan_in_data_or_start_fails_before_iterating():
    with pytest.raises(ValueError, match="NaN or inf"):
        LogisticObjective(np.array([[0.0], [np.nan], [1.0]]), np.array([0, 1, 1]))
    calls = []

    def fun(x):
        calls.append(1)
        return nb.sum(x * np.array([np.nan, 1.0]))

    with pytest.raises(ValueError, match="not finite at x0"):
        newton(fun, np.zeros(2))
    assert len(calls) == 1
    with pytest.raises(ValueError, match="x0 contains NaN"):
        newton(lambda x: nb.sum(x * x), np.array([np.nan]))


def test_max_iter_warns_and_says_what_to_change():
    with pytest.warns(ConvergenceWarning, match="raise max_iter"):
        r = newton(lambda x: nb.sum(nb.exp(x) - 2 * x) + nb.sum(x**4), np.array([5.0]),
                   max_iter=1)
    assert r.stop_reason == "max_iter" and r.n_iter == 1


def test_verbose_prints_one_line_per_iteration(rng, capsys):
    X, y = _logistic_data(rng)
    r = newton(LogisticObjective(X, y, alpha=1.0), np.zeros(4), verbose=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == r.n_iter and lines[0].startswith("iter   1  loss")


def test_spector_mazzeo_logit_table():
    """Unpenalised Newton reproduces the classic Spector-Mazzeo logit table.

    Data: Spector & Mazzeo (1980), "Probit analysis and economic education",
    J. Economic Education 11(2), 37-44, shipped as statsmodels.datasets.spector;
    the logit estimates are tabulated in W. H. Greene, Econometric Analysis
    (5th ed., ch. 21): constant -13.021 (s.e. 4.931), GPA 2.826 (1.263),
    TUCE 0.095 (0.142), PSI 2.379 (1.065); log-likelihood -12.890.
    """
    sm = pytest.importorskip("statsmodels.api")
    data = sm.datasets.spector.load_pandas()
    X = data.exog[["GPA", "TUCE", "PSI"]].to_numpy(float)
    y = data.endog.to_numpy(float)
    obj = LogisticObjective(X, y)
    r = newton(obj, np.zeros(4))
    assert r.converged and r.n_iter <= 10
    se = np.sqrt(np.diag(np.linalg.inv(obj.hessian(r.x))))
    published_coef = np.array([2.826, 0.095, 2.379, -13.021])  # GPA, TUCE, PSI, constant
    published_se = np.array([1.263, 0.142, 1.065, 4.931])
    np.testing.assert_allclose(r.x, published_coef, atol=5e-4)  # half a unit in the 3rd decimal
    np.testing.assert_allclose(se, published_se, atol=5e-4)
    assert -r.fun == pytest.approx(-12.890, abs=5e-4)
    ref = sm.Logit(y, np.column_stack([X, np.ones(len(y))])).fit(disp=0, tol=1e-12)
    np.testing.assert_allclose(r.x, ref.params, rtol=1e-7)
    np.testing.assert_allclose(se, ref.bse, rtol=1e-7)
