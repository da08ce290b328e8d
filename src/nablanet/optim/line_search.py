"""Backtracking (Armijo) line search."""

from __future__ import annotations

import math

import numpy as np


def armijo_backtracking(fun, x, f0, slope, direction, c1=1e-4, shrink=0.5, max_halvings=50):
    """Largest t in {1, shrink, shrink^2, ...} with f(x + t d) <= f(x) + c1 t g^T d.

    Parameters
    ----------
    fun : callable
        Objective, ``fun(x) -> float``.
    x : ndarray
    f0 : float
        ``fun(x)``.
    slope : float
        Directional derivative ``g^T d``; must be negative (a descent direction).
    direction : ndarray
    c1 : float, default 1e-4
        Sufficient-decrease constant (the usual choice for Newton-type methods).
    shrink : float, default 0.5
    max_halvings : int, default 50

    Returns
    -------
    t : float
        Accepted step length, or 0.0 when no step satisfied the condition.
    f_new : float
        ``fun(x + t d)`` (``f0`` when t = 0).

    Examples
    --------
    >>> import numpy as np
    >>> f = lambda x: float(x @ x)
    >>> x = np.array([1.0]); d = np.array([-4.0])
    >>> armijo_backtracking(f, x, f(x), slope=-8.0, direction=d)
    (0.25, 0.0)
    """
    if not slope < 0:
        raise ValueError(f"line search needs a descent direction (g^T d < 0), got {slope}")
    t = 1.0
    for _ in range(max_halvings):
        f_new = float(fun(x + t * direction))
        if math.isfinite(f_new) and f_new <= f0 + c1 * t * slope:
            return t, f_new
        t *= shrink
    return 0.0, f0


def direction_is_negligible(f0, slope):
    """True when the predicted decrease |g^T d| is below the rounding error of f."""
    return abs(slope) <= 1e3 * np.finfo(float).eps * max(1.0, abs(f0))
