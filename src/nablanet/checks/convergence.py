"""Convergence-order estimates and Taylor-remainder slopes.

For errors ``e_k -> 0`` with ``|e_{k+1}| ~ C |e_k|^q``, the order is estimated by
``q_k = log(e_{k+1}/e_k) / log(e_k/e_{k-1})`` and the constant by
``e_{k+1} / e_k^q``.  Errors at rounding level carry no information, so the
estimates skip errors below a floor.  For Taylor models, the error of the
order-m model at step ``h`` behaves like ``h^(m+1)``: the slope of
log(error) against log(h) is fitted by least squares.
"""

from __future__ import annotations

import numpy as np

#: Errors at or below this are rounding noise and are left out of order estimates.
DEFAULT_ERROR_FLOOR = 1e-13


def _errors(errors, floor):
    e = np.abs(np.asarray(errors, dtype=np.float64).reshape(-1))
    if not np.all(np.isfinite(e)):
        raise ValueError("errors must be finite numbers")
    keep = np.flatnonzero(e <= floor)
    return e[: keep[0]] if keep.size else e


def empirical_orders(errors, floor=DEFAULT_ERROR_FLOOR):
    """Orders ``log(e_{k+1}/e_k) / log(e_k/e_{k-1})`` from successive errors.

    Parameters
    ----------
    errors : array_like
        ``|x_k - x*|`` for k = 0, 1, ...; the sequence is cut at the first
        error at or below ``floor``.
    floor : float, default 1e-13

    Returns
    -------
    ndarray
        One estimate per triple of successive errors (may be empty).

    Examples
    --------
    >>> empirical_orders([1e-1, 1e-2, 1e-4, 1e-8])
    array([2., 2.])
    """
    e = _errors(errors, floor)
    if e.size < 3:
        return np.empty(0)
    logs = np.log(e)
    steps = np.diff(logs)
    return steps[1:] / steps[:-1]


def error_constants(errors, order=2.0, floor=DEFAULT_ERROR_FLOOR):
    """Asymptotic constants ``e_{k+1} / e_k^order``.

    Signed errors keep their sign in the numerator, so the sign of the
    error recursion can be read off (Newton: ``e_{k+1} ~ f''/(2 f') e_k^2``).

    Examples
    --------
    >>> error_constants([1e-1, 5e-3, 1.25e-5])
    array([0.5, 0.5])
    """
    signed = np.asarray(errors, dtype=np.float64).reshape(-1)
    n = _errors(signed, floor).size
    signed = signed[:n]
    if n < 2:
        return np.empty(0)
    return signed[1:] / np.abs(signed[:-1]) ** order


def estimated_order(errors, floor=DEFAULT_ERROR_FLOOR):
    """The last (most asymptotic) empirical order, or NaN when there are too few errors.

    Examples
    --------
    >>> round(estimated_order([0.5, 0.25, 0.125, 0.0625]), 12)
    1.0
    """
    orders = empirical_orders(errors, floor)
    return float(orders[-1]) if orders.size else float("nan")


def loglog_slope(steps, errors):
    """Least-squares slope of ``log(errors)`` against ``log(steps)``.

    Examples
    --------
    >>> import numpy as np
    >>> h = np.array([1e-1, 1e-2, 1e-3])
    >>> round(loglog_slope(h, 3 * h ** 2), 12)
    2.0
    """
    h = np.asarray(steps, dtype=np.float64).reshape(-1)
    e = np.asarray(errors, dtype=np.float64).reshape(-1)
    if h.shape != e.shape or h.size < 2:
        raise ValueError(
            f"need at least two (step, error) pairs of equal length, got {h.size} and {e.size}"
        )
    if np.any(h <= 0) or np.any(e <= 0):
        raise ValueError("steps and errors must be positive to take logarithms")
    slope, _ = np.polyfit(np.log(h), np.log(e), 1)
    return float(slope)


def taylor_errors(fun, x, direction, steps):
    """Errors of the first- and second-order Taylor models of scalar ``fun`` at ``x``.

    The gradient and Hessian come from nablanet's engine; for each step h the
    errors are ``|f(x+hd) - f(x) - h g.d|`` and that minus ``h^2 d.H d / 2``.

    Returns
    -------
    first, second : ndarray
        One error per step.

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> f = lambda x: nb.sum(nb.exp(x))
    >>> first, second = taylor_errors(f, np.zeros(2), np.array([1.0, 0.0]), [1e-2])
    >>> bool(abs(first[0] - 0.5e-4) < 1e-6), bool(second[0] < 1e-6)
    (True, True)
    """
    from nablanet.autodiff.transforms import grad, hessian

    x = np.asarray(x, dtype=np.float64)
    d = np.asarray(direction, dtype=np.float64)

    def value(point):
        return float(np.asarray(getattr(fun(point), "data", fun(point))))

    slope = float(np.sum(np.asarray(grad(fun)(x)) * d))
    H = np.asarray(hessian(fun)(x)).reshape(x.size, x.size)
    curvature = float(d.reshape(-1) @ H @ d.reshape(-1))
    f0 = value(x)
    first, second = [], []
    for h in np.asarray(steps, dtype=np.float64):
        change = value(x + h * d) - f0
        first.append(abs(change - h * slope))
        second.append(abs(change - h * slope - 0.5 * h * h * curvature))
    return np.array(first), np.array(second)


def taylor_slopes(fun, x, direction, steps):
    """Fitted slopes of the first- and second-order Taylor errors (about 2 and 3).

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> f = lambda x: nb.sum(nb.exp(x))
    >>> s1, s2 = taylor_slopes(f, np.zeros(2), np.array([0.6, 0.8]), np.logspace(-3, -1, 5))
    >>> round(s1), round(s2)
    (2, 3)
    """
    first, second = taylor_errors(fun, x, direction, steps)
    return loglog_slope(steps, first), loglog_slope(steps, second)
