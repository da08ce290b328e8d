"""Newton's method for roots of f(x) = 0, with the measured order of convergence (claim C6).

x_{k+1} = x_k - f(x_k) / f'(x_k), or for systems x_{k+1} = x_k - J(x_k)^{-1} f(x_k)
by a linear solve.  Near a simple root e_{k+1} ~= (f''/(2 f')) e_k^2, so the
measured order log(e_{k+1}/e_k) / log(e_k/e_{k-1}) tends to 2 and
e_{k+1}/e_k^2 to |f''(x*) / (2 f'(x*))|; at a multiple root the order drops
to 1, and the result says so rather than promising 2.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from nablanet.optim.stopping import ConvergenceWarning, user_stacklevel

#: A small step is a root only where ||f(x)|| <= this times the largest ||f|| seen, or f
#: changed sign over the step (scalars), or ||f(x)|| <= ftol: a huge f' makes steps tiny
#: anywhere, root or not (tanh(1e20 x) + 2 has none).
RESIDUAL_RTOL = 1e-8

_FAILURES = {
    "stalled": "the steps vanished but |f(x)| is not small: f has no root here (a local "
               "minimum of |f|, or a derivative so steep that every step is tiny)",
    "zero_derivative": "f'(x) is zero (or the Jacobian is singular): start elsewhere",
    "divergence": "the iterates ran away: start closer to the root",
    "cycling": "the iterates cycle: start elsewhere or use a bracketing method",
    "nan": "f or f' gave NaN/inf: check the function's domain near the iterates",
    "max_iter": "max_iter reached: raise max_iter or start closer to the root",
}


@dataclass
class RootResult:
    """What :func:`newton_root` found and how it got there.

    Attributes
    ----------
    root : float or ndarray
        The last iterate.
    iterates : list
        x_0, x_1, ..., x_n.
    errors : ndarray
        |x_k - reference| (norm for systems), reference = ``x_true`` or the last iterate.
    n_iter : int
    converged : bool
    stop_reason : str
        ``'step_tol'`` (a small step where ||f|| is small too), ``'residual'``
        (||f|| <= ftol), ``'roundoff'`` (the iterates hop between neighbouring floats at a
        small residual): converged; or one of ``'stalled'`` (small steps, large ||f||),
        ``'zero_derivative'``, ``'divergence'``, ``'cycling'``, ``'nan'``, ``'max_iter'``.
    orders, constants : ndarray
        order_k = log(e_{k+1}/e_k) / log(e_k/e_{k-1}) and C_k = e_{k+1}/e_k^2, over the
        errors above the rounding floor.
    order, constant : float
        The last measured values (NaN when fewer than three usable errors); ``constant``
        is NaN for linear convergence, where e_{k+1}/e_k^2 grows without bound.
    convergence : str
        ``'quadratic'``, ``'superlinear'``, ``'linear'`` or ``'unknown'``.
    message : str
    residual : float
        ||f|| at the last iterate.
    rate : float
        Measured linear rate e_{k+1}/e_k (median of the last step ratios; NaN unless the
        convergence is linear).  Newton's rate at a root of multiplicity m is (m - 1)/m.
    multiplicity : int
        1 / (1 - rate) rounded, for linear convergence (1 otherwise; 0 if unknown).
    """

    root: object
    iterates: list
    errors: np.ndarray
    n_iter: int
    converged: bool
    stop_reason: str
    orders: np.ndarray = field(default_factory=lambda: np.empty(0))
    constants: np.ndarray = field(default_factory=lambda: np.empty(0))
    order: float = float("nan")
    constant: float = float("nan")
    convergence: str = "unknown"
    message: str = ""
    residual: float = float("nan")
    rate: float = float("nan")
    multiplicity: int = 0


def newton_root(f, x0, fprime=None, tol=1e-12, ftol=0.0, max_iter=100, x_true=None,
                diverge_at=1e12):
    """Find a root of ``f`` by Newton's method, for a scalar or a system.

    Parameters
    ----------
    f : callable
        ``f(x)``: scalar -> scalar, or R^n -> R^n.  When ``fprime`` is None it
        must be written with nablanet operations (its Jacobian comes from
        :func:`nablanet.jacobian`).
    x0 : float or array_like
    fprime : callable, optional
        Derivative (scalar) or Jacobian matrix (system).
    tol : float, default 1e-12
        Converged when ``||step|| <= tol * (1 + ||x||)``.
    ftol : float, default 0
        Also converged when ``||f(x)|| <= ftol``.
    max_iter : int, default 100
    x_true : float or array_like, optional
        The exact root, used for the errors; otherwise the last iterate is the reference.
    diverge_at : float, default 1e12
        Stop as divergent when ``||x|| > diverge_at * (1 + ||x0||)``.

    Returns
    -------
    RootResult

    Examples
    --------
    >>> r = newton_root(lambda x: x ** 2 - 2.0, 1.0)
    >>> round(r.root, 12), r.converged, r.convergence
    (1.414213562373, True, 'quadratic')
    """
    scalar = np.ndim(x0) == 0
    x = np.asarray(x0, dtype=float).copy()
    if not np.all(np.isfinite(x)):
        raise ValueError(f"x0 must be finite, got {x0!r}")
    derivative = fprime if fprime is not None else _engine_derivative(f)
    iterates, residuals = [_out(x, scalar)], []
    reason = "max_iter"
    start_norm = float(np.linalg.norm(x))
    fx = np.asarray(f(x), dtype=float)
    for _ in range(max_iter):
        if not np.all(np.isfinite(fx)):
            reason = "nan"
            break
        residuals.append(float(np.linalg.norm(fx)))
        if residuals[-1] <= ftol:
            reason = "residual"
            break
        step, reason = _newton_step(fx, np.asarray(derivative(x), dtype=float), scalar)
        if reason is not None:
            break
        x = x - step
        iterates.append(_out(x, scalar))
        previous, fx = fx, np.asarray(f(x), dtype=float)
        reason = _check_iterate(x, step, iterates, tol, start_norm, diverge_at)
        if reason in ("step_tol", "cycling") and np.all(np.isfinite(fx)):
            residuals.append(float(np.linalg.norm(fx)))
            reason = _judge_small_steps(reason, fx, previous, residuals, ftol, scalar, x, step)
        if reason is not None:
            break
    else:
        reason = "max_iter"
    return _result(iterates, reason, x_true, scalar, residuals)


def _judge_small_steps(reason, fx, previous, residuals, ftol, scalar, x, step):
    """A small step (or a return to an old iterate) is a root only at a small residual."""
    small = (residuals[-1] <= max(ftol, RESIDUAL_RTOL * max(residuals))
             or (scalar and float(fx) * float(previous) <= 0.0))
    if reason == "cycling":
        at_rounding = float(np.linalg.norm(step)) <= 64 * np.finfo(float).eps * max(
            1.0, float(np.linalg.norm(x)))
        if small and at_rounding:
            return "roundoff"  # hopping between neighbouring floats at the root
        if residuals[-1] < 0.5 * residuals[-3 if len(residuals) > 2 else 0]:
            return None  # the residual still falls: converging, not cycling
        return "cycling"
    return "step_tol" if small else "stalled"


def _engine_derivative(f):
    from nablanet.autodiff.transforms import jacobian

    return jacobian(f)


def _newton_step(fx, deriv, scalar):
    """The Newton step f/f' (or J^{-1} f by a solve) and a failure reason, if any."""
    if not np.all(np.isfinite(deriv)):
        return None, "nan"
    if scalar:
        if deriv.size != 1:
            raise ValueError(f"f'(x) of a scalar function must be a scalar, got {deriv.shape}")
        deriv = float(deriv.reshape(()))
        if deriv == 0.0:
            return None, "zero_derivative"
        return fx.reshape(()) / deriv, None
    n = fx.size
    if deriv.shape != (n, n):
        raise ValueError(f"the Jacobian must have shape {(n, n)}, got {deriv.shape}")
    try:
        return np.linalg.solve(deriv, fx.reshape(n)).reshape(fx.shape), None
    except np.linalg.LinAlgError:
        return None, "zero_derivative"


def _check_iterate(x, step, iterates, tol, start_norm, diverge_at):
    if not np.all(np.isfinite(x)):
        return "nan"
    x_norm = float(np.linalg.norm(x))
    step_norm = float(np.linalg.norm(step))
    if step_norm <= tol * (1.0 + x_norm):
        return "step_tol"
    if x_norm > diverge_at * (1.0 + start_norm):
        return "divergence"
    # back at an iterate from two or more steps ago, far closer to it than the step taken:
    # a cycle (a slowly converging sequence is never that close to its past)
    for old in iterates[:-2]:
        if np.linalg.norm(np.asarray(old) - x) <= 1e-6 * step_norm:
            return "cycling"
    return None


def _out(x, scalar):
    return float(x) if scalar else x.copy()


def _result(iterates, reason, x_true, scalar, residuals):
    converged = reason in ("step_tol", "residual", "roundoff")
    errors, floor = _errors(iterates, x_true)
    orders, constants = measured_order(errors, floor)
    order = float(orders[-1]) if orders.size else float("nan")
    constant = float(constants[-1]) if constants.size else float("nan")
    kind = _classify(order)
    rate, multiplicity = linear_rate(iterates), (1 if kind in ("quadratic", "superlinear")
                                                 else 0)
    if kind == "linear":
        constant = float("nan")  # e_{k+1} / e_k^2 has no limit at a linear rate
        if 0.0 < rate < 1.0:
            multiplicity = int(round(1.0 / (1.0 - rate)))
    else:
        rate = float("nan")
    message = f"{reason}: {'converged' if converged else _FAILURES[reason]}"
    if kind == "linear" and converged:
        message += (f"; measured order ~1 (linear, rate {rate:.3g}): a multiple root "
                    f"(multiplicity ~{multiplicity}), not quadratic convergence")
    residual = residuals[-1] if residuals else float("nan")
    result = RootResult(iterates[-1], iterates, errors, len(iterates) - 1, converged, reason,
                        orders, constants, order, constant, kind, message, residual, rate,
                        multiplicity)
    if not converged:
        warnings.warn(f"newton_root stopped without converging: {message}", ConvergenceWarning,
                      stacklevel=user_stacklevel())
    return result


def linear_rate(iterates):
    """Median of the last (up to 5) ratios ||s_{k+1}|| / ||s_k|| of successive steps,
    leaving out steps at the rounding level: the rate r of linear convergence (a
    geometric sequence's steps shrink by r exactly).  NaN with fewer than 3 usable steps."""
    xs = np.asarray(iterates, dtype=float).reshape(len(iterates), -1)
    steps = np.linalg.norm(np.diff(xs, axis=0), axis=1)
    scale = 1.0 + float(np.linalg.norm(xs[-1]))
    steps = steps[steps > 1e3 * np.finfo(float).eps * scale]
    if steps.size < 3:
        return float("nan")
    return float(np.median(steps[1:][-5:] / steps[:-1][-5:]))


def _errors(iterates, x_true):
    xs = np.asarray(iterates, dtype=float).reshape(len(iterates), -1)
    reference = xs[-1] if x_true is None else np.asarray(x_true, dtype=float).reshape(-1)
    errors = np.linalg.norm(xs - reference, axis=1)
    scale = 1.0 + float(np.linalg.norm(reference))
    floor = 100 * np.finfo(float).eps * scale
    if x_true is None and len(xs) > 1:
        # the reference is itself off by about the last step
        floor = max(floor, 10 * float(np.linalg.norm(xs[-1] - xs[-2])))
    return errors, floor


def measured_order(errors, floor=0.0):
    """Empirical order and constant of convergence from a sequence of errors.

    order_k = log(e_{k+1}/e_k) / log(e_k/e_{k-1}) and C_k = e_{k+1} / e_k^2,
    using only the leading errors above ``floor`` (below it rounding dominates).

    Examples
    --------
    >>> orders, constants = measured_order([1e-1, 1e-2, 1e-4, 1e-8])
    >>> orders.round(6), constants.round(6)
    (array([2., 2.]), array([1., 1.]))
    """
    e = np.asarray(errors, dtype=float)
    usable = np.flatnonzero(~(e > floor))
    e = e[: usable[0]] if usable.size else e
    if e.size < 3:
        return np.empty(0), np.empty(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.log(e[1:] / e[:-1])
        orders = ratios[1:] / ratios[:-1]
        constants = e[2:] / e[1:-1] ** 2
    return orders, constants


def _classify(order):
    if not np.isfinite(order):
        return "unknown"
    if order > 1.8:
        return "quadratic"
    if order > 1.2:
        return "superlinear"
    return "linear"
