"""newton_root: scalars and systems, engine Jacobians, honest failures."""

import numpy as np
import pytest

import nablanet as nb
from nablanet.optim import ConvergenceWarning, measured_order, newton_root


def test_square_root_of_two_with_engine_derivative():
    r = newton_root(lambda x: x**2 - 2.0, 1.0)
    assert r.converged and r.stop_reason == "step_tol"
    assert abs(r.root - np.sqrt(2.0)) <= 1e-15
    assert r.n_iter == len(r.iterates) - 1 <= 7


def test_system_uses_engine_jacobian_and_a_solve():
    # circle x^2 + y^2 = 4 meets the line x = y at (sqrt 2, sqrt 2)
    def f(v):
        return nb.stack([v[0] ** 2 + v[1] ** 2 - 4.0, v[0] - v[1]])

    r = newton_root(f, np.array([1.0, 2.0]))
    assert r.converged
    np.testing.assert_allclose(r.root, [np.sqrt(2.0)] * 2, rtol=1e-15)
    assert r.convergence == "quadratic"


def test_closed_form_jacobian_for_a_system():
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    b = np.array([1.0, -1.0])
    r = newton_root(lambda x: A @ x - b, np.zeros(2), fprime=lambda x: A)
    np.testing.assert_allclose(r.root, np.linalg.solve(A, b), rtol=1e-14)
    assert r.n_iter <= 2


def _warns_with(reason, *args, **kwargs):
    with pytest.warns(ConvergenceWarning, match=reason):
        r = newton_root(*args, **kwargs)
    assert not r.converged and r.stop_reason == reason
    return r


def test_zero_derivative_is_reported():
    _warns_with("zero_derivative", lambda x: x**2 + 1.0, 0.0)


def test_singular_jacobian_is_reported():
    _warns_with("zero_derivative", lambda x: x * x - 1.0, np.zeros(2),
                fprime=lambda x: np.diag(2 * x))


def test_cycling_is_reported():
    # x^3 - 2x + 2 from 0: Newton jumps 0 -> 1 -> 0 -> ...
    r = _warns_with("cycling", lambda x: x**3 - 2.0 * x + 2.0, 0.0)
    assert r.iterates[:3] == [0.0, 1.0, 0.0]


def test_divergence_is_reported():
    # arctan from |x0| > 1.39 overshoots further each step
    _warns_with("divergence", np.arctan, 3.0, fprime=lambda x: 1.0 / (1.0 + x * x))


def test_nan_is_reported():
    # log from 3 jumps to a negative x, where log is NaN
    with np.errstate(invalid="ignore"):
        _warns_with("nan", np.log, 3.0, fprime=lambda x: 1.0 / x)


def test_max_iter_is_reported():
    _warns_with("max_iter", lambda x: x**3 - 2.0 * x - 5.0, 100.0, max_iter=3)


def test_bad_start_raises():
    with pytest.raises(ValueError, match="finite"):
        newton_root(lambda x: x, np.nan)


def test_measured_order_on_exact_sequences():
    orders, constants = measured_order([0.5, 0.25, 0.125, 0.0625])
    np.testing.assert_allclose(orders, 1.0)
    np.testing.assert_allclose(constants, [2.0, 4.0])
    orders, _ = measured_order([1e-1, 1e-3, 1e-9, 1e-27])
    np.testing.assert_allclose(orders, 3.0)
    assert measured_order([1e-1, 1e-2])[0].size == 0


def test_a_steep_function_without_a_root_is_not_called_converged():
    # tanh(1e20 x) + 2 >= 1 has no root; f' = 1e20 makes every step tiny
    with pytest.warns(ConvergenceWarning, match="stalled"):
        r = newton_root(lambda x: nb.tanh(1e20 * x) + 2.0, 0.0)
    assert not r.converged and r.stop_reason == "stalled" and r.residual > 1.0


@pytest.mark.parametrize("power, rate", [(2, 0.5), (3, 2.0 / 3.0), (4, 0.75)])
def test_multiple_roots_report_the_linear_rate_and_multiplicity(power, rate):
    r = newton_root(lambda x: (x - 1.0) ** power, 3.0)
    assert r.converged and r.convergence == "linear"
    assert r.rate == pytest.approx(rate, rel=1e-6) and r.multiplicity == power
    assert np.isnan(r.constant) and "multiplicity" in r.message
    assert r.residual <= 1e-20


def test_a_simple_root_reports_quadratic_convergence_and_no_rate():
    r = newton_root(lambda x: x**2 - 2.0, 1.0)
    assert r.convergence == "quadratic" and r.multiplicity == 1 and np.isnan(r.rate)
    # |f''/(2 f')| at sqrt(2)
    assert r.constant == pytest.approx(1 / (2 * np.sqrt(2)), rel=1e-2)


def test_hopping_between_neighbouring_floats_is_convergence_not_cycling():
    r = newton_root(lambda x: x**2 - 2.0, 1.0, tol=0.0)
    assert r.converged and r.stop_reason in ("roundoff", "step_tol", "residual")
    assert abs(r.root - np.sqrt(2.0)) <= 4e-16


def test_a_converging_system_is_not_cycling():
    f = lambda x: nb.stack([x[0] ** 2 - x[1], x[1] ** 2 - 1.0])  # noqa: E731
    r = newton_root(f, np.array([3.0, 3.0]), tol=0.0, max_iter=60)
    assert r.converged and r.stop_reason != "cycling"
    np.testing.assert_allclose(r.root, [1.0, 1.0], atol=1e-12)
