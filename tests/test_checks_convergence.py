"""Empirical convergence orders, error constants and Taylor slopes (nablanet.checks.convergence)."""

import numpy as np
import pytest

import nablanet as nb
from nablanet.checks.convergence import (
    empirical_orders,
    error_constants,
    estimated_order,
    loglog_slope,
    taylor_errors,
    taylor_slopes,
)


def _sequence(e0, constant, order, n):
    errors = [e0]
    for _ in range(n):
        errors.append(constant * errors[-1] ** order)
    return np.array(errors)


@pytest.mark.parametrize("order", [1.0, 1.5, 2.0, 3.0])
def test_order_of_a_model_sequence_is_recovered(order):
    constant = 0.5 if order == 1.0 else 0.8
    errors = _sequence(0.3, constant, order, 6)
    assert estimated_order(errors) == pytest.approx(order, rel=1e-6)


def test_newton_on_sqrt2_is_quadratic_with_the_predicted_constant():
    x, iterates = 2.0, [2.0]
    for _ in range(8):
        x = x - (x * x - 2) / (2 * x)
        iterates.append(x)
    signed = np.array(iterates) - np.sqrt(2.0)
    assert empirical_orders(signed)[-1] == pytest.approx(2.0, abs=0.05)
    # f''/(2 f') = 2 / (4 sqrt 2): Newton's error constant, sign +
    assert error_constants(signed)[-1] == pytest.approx(1 / (2 * np.sqrt(2.0)), rel=1e-3)


def test_rounding_level_errors_are_left_out():
    errors = [1e-1, 1e-2, 1e-4, 1e-8, 1e-16, 3e-16]
    np.testing.assert_allclose(empirical_orders(errors), [2.0, 2.0])
    assert empirical_orders([1e-1, 1e-2]).size == 0
    assert np.isnan(estimated_order([1e-1]))


def test_error_constants_keep_the_sign_of_the_next_error():
    np.testing.assert_allclose(error_constants([0.1, -0.005]), [-0.5])


def test_loglog_slope_and_bad_input():
    h = np.logspace(-4, -1, 6)
    assert loglog_slope(h, 7 * h**3) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="positive"):
        loglog_slope(h, -h)
    with pytest.raises(ValueError, match="two"):
        loglog_slope([1.0], [1.0])
    with pytest.raises(ValueError, match="finite"):
        empirical_orders([1.0, np.nan])


def test_taylor_errors_of_a_quadratic_model_vanish_beyond_second_order():
    A = np.array([[2.0, 0.5], [0.5, 1.0]])

    def quadratic(x):
        return 0.5 * nb.sum(x * nb.matmul(A, x)) + nb.sum(x)

    d = np.array([0.6, 0.8])
    first, second = taylor_errors(quadratic, np.array([0.3, -0.2]), d, [1e-2, 1e-1])
    np.testing.assert_allclose(first, 0.5 * np.array([1e-4, 1e-2]) * (d @ A @ d), rtol=1e-6)
    assert np.all(second < 1e-14)


def test_taylor_slopes_are_two_and_three_for_a_smooth_function():
    f = lambda x: nb.sum(nb.exp(x[0] * x[1]) + nb.tanh(x))  # noqa: E731
    s1, s2 = taylor_slopes(f, np.array([0.4, -0.7]), np.array([0.6, 0.8]), np.logspace(-3, -1, 6))
    assert s1 == pytest.approx(2.0, abs=0.1)
    assert s2 == pytest.approx(3.0, abs=0.15)
