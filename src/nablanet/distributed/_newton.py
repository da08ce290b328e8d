"""The client side of a distributed Newton fit: the in-memory solver's steps, fused passes.

The solver sees two callables that run on the cluster,
``evaluate(theta) -> (loss, grad, hess)`` (one fused pass over the data) and
``losses_along(theta, step, lengths) -> losses`` (one value-only pass), and adds the
L2 penalty ``0.5 * ||W||^2 / C`` (never on the intercept row) on the client.  Everything
it touches is (d' K) or (d' K) x (d' K): the data never reaches it.

Each iteration follows :func:`nablanet.optim.newton` step for step, with the same stop
reasons, trace and warnings; only the passes over the data are arranged differently:
1. stop if ``max |g| <= tol`` ('gradient');
2. direction from ``(H + s N N^T) d = -g`` by the in-memory solver's damped Cholesky, where
   N spans the directions along which softmax is flat (C7: H 1 = 0); the step is the
   minimum-norm one (orthogonal to N, like g), so the fit stays centred over classes;
3. ONE pass evaluates loss, gradient and Hessian at ``theta + d``; if the full step
   meets Armijo it is taken and that pass already holds the next gradient and Hessian.
   Otherwise ONE value-only pass evaluates the whole backtracking ladder t = 1/2, 1/4, ...
   (two products per block, no Hessian), the largest t meeting Armijo is taken, and a
   fused pass evaluates there.  Damped Newton takes the full step near the optimum
   (the decrement is small), so the usual cost is one pass per iteration.  If no t
   works, stop: 'roundoff' when the predicted decrease is below float64 rounding,
   else 'line_search';
4. stop on a small decrement or step ('decrement', 'step_size'), or, without penalty, when
   the iterate puts every sample strictly on its class's side ('separation': scaling it
   up drives the loss to 0, so no finite minimum exists; the in-memory objective's test,
   counted block by block in the fused pass).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from nablanet.optim.line_search import direction_is_negligible
from nablanet.optim.newton import HessianError, _stationary, newton_direction
from nablanet.optim.stopping import ConvergenceWarning, user_stacklevel

ARMIJO = 1e-4  # sufficient-decrease constant, as in nablanet.optim.line_search
LADDER = 0.5 ** np.arange(1, 51)  # backtracking lengths tried in one value-only pass
CONVERGED = ("gradient", "decrement", "step_size", "roundoff")
ADVICE = {
    "max_iter": "raise max_iter, or add L2 regularisation if the problem is ill-conditioned",
    "line_search": "no step decreased the objective along the Newton direction",
    "separation": "the classes look linearly separable, so no finite minimum exists: add L2 "
                  "regularisation (finite C)",
    "stalled": "the steps vanished away from the optimum: standardise the columns of X, or "
               "fit with penalty='l2'",
}


@dataclass
class DistributedNewtonResult:
    """Outcome of :func:`newton_minimize` (the estimators copy it to their attributes)."""

    x: np.ndarray
    fun: float
    n_iter: int
    converged: bool
    stop_reason: str
    message: str
    hessian: np.ndarray
    trace: dict = field(default_factory=dict)


class Penalty:
    """``0.5 * alpha * ||theta[mask]||^2`` with alpha = 1 / C (alpha = 0: no penalty)."""

    def __init__(self, alpha, mask):
        self.alpha = float(alpha)
        self.mask = mask.astype(float)

    def add(self, theta, loss, grad, hess, misfits):
        """The penalised ``(loss, grad, hess)`` and the data's misfit count unchanged."""
        if self.alpha == 0.0:
            return loss, grad, hess, misfits
        weighted = self.alpha * self.mask * theta
        hess = hess.copy()
        hess[np.diag_indices_from(hess)] += self.alpha * self.mask
        return loss + 0.5 * float(weighted @ theta), grad + weighted, hess, misfits

    def value(self, theta):
        return 0.5 * self.alpha * float((self.mask * theta) @ theta)


def flat_direction(hess, grad, flat_basis):
    """Newton direction with the flat directions ``flat_basis`` (orthonormal) filled in.

    Adding ``s N N^T`` (s: the largest diagonal entry of H) makes H definite along N
    without changing the step elsewhere; since g is orthogonal to N, so is the step.
    Returns ``(d, lambda^2, mu, cholesky_factor)`` as the in-memory solver's
    :func:`nablanet.optim.newton.newton_direction`.
    """
    if flat_basis.size:
        scale = max(float(np.max(np.abs(np.diag(hess)))), 1.0)
        hess = hess + scale * flat_basis @ flat_basis.T
    found = newton_direction(hess, grad)
    return tuple(found[:3]) + ((found[3],) if len(found) > 3 else (None,))


def _max_abs(vector):
    return float(np.max(np.abs(vector), initial=0.0))


def newton_minimize(evaluate, losses_along, theta, penalty, flat_basis, *, tol, max_iter,
                    decrement_tol=1e-16, step_tol=1e-12, callback=None):
    """Minimise the penalised objective from ``theta``; see the module docstring.

    ``callback(info)`` (if given) is called after every iteration with
    ``{"iteration", "loss", "grad_norm"}``.
    """
    f, g, H, _ = penalty.add(theta, *evaluate(theta))
    if not (np.isfinite(f) and np.all(np.isfinite(g))):
        raise HessianError(f"the objective or its gradient is not finite at the start "
                           f"(loss {f}): check X for extreme values")
    trace = {key: [] for key in ("loss", "grad_norm", "decrement", "step_norm", "damping",
                                 "step_length")}
    reason = "max_iter"
    for _ in range(max_iter):
        if _max_abs(g) <= tol:
            reason = "gradient"
            break
        step, lam2, mu, factor = flat_direction(H, g, flat_basis)
        slope = float(g @ step)
        found = _line_search(evaluate, losses_along, penalty, theta, f, slope, step)
        if found is None:
            # no decrease found: converged if the predicted one is below f's rounding
            reason = "roundoff" if direction_is_negligible(f, slope) else "line_search"
            break
        t, (f, g, H, misfits) = found
        theta = theta + t * step
        _record(trace, f, g, lam2, t * float(np.linalg.norm(step)), mu, t)
        if factor is not None and mu == 0 and t == 1.0:
            # as in memory: after a full undamped step the old factor estimates the new
            # decrement (L^{-1} g_new), which can end the run one Hessian earlier
            half = np.linalg.solve(factor, g)
            lam2 = min(lam2, float(half @ half))
        if callback is not None:
            callback({"iteration": len(trace["loss"]), "loss": f, "grad_norm": _max_abs(g)})
        reason = _stopped_after_step(f, theta, lam2, trace, decrement_tol, step_tol,
                                     separated=penalty.alpha == 0 and misfits == 0)
        if reason is not None:
            break
    else:
        reason = "gradient" if _max_abs(g) <= tol else "max_iter"
    if reason in ("step_size", "roundoff") and not _stationary(theta, f, g):
        reason = "stalled"  # as in memory: negligible steps far from stationarity
    return _finish(theta, f, H, trace, reason)


def _line_search(evaluate, losses_along, penalty, theta, f, slope, step):
    """``(t, (f, g, H) at theta + t step)`` meeting Armijo, or None if no t does."""
    full = penalty.add(theta + step, *evaluate(theta + step))
    if np.isfinite(full[0]) and full[0] <= f + ARMIJO * slope:
        return 1.0, full
    losses = np.asarray(losses_along(theta, step, LADDER), dtype=float)
    losses = losses + np.array([penalty.value(theta + t * step) for t in LADDER])
    good = np.flatnonzero(np.isfinite(losses) & (losses <= f + ARMIJO * LADDER * slope))
    if good.size == 0:
        return None
    t = float(LADDER[good[0]])
    return t, penalty.add(theta + t * step, *evaluate(theta + t * step))


def _stopped_after_step(f, theta, lam2, trace, decrement_tol, step_tol, separated):
    if 0.5 * lam2 <= decrement_tol * max(1.0, abs(f)):
        return "decrement"
    if trace["step_norm"][-1] <= step_tol * (1.0 + float(np.linalg.norm(theta))):
        return "step_size"
    if separated:  # every sample strictly on its side and no penalty: the loss -> 0 at infinity
        return "separation"
    return None


def _record(trace, f, g, lam2, step_norm, mu, t):
    row = (f, _max_abs(g), 0.5 * lam2, step_norm, mu, t)
    for key, value in zip(trace, row, strict=True):
        trace[key].append(float(value))


def _finish(theta, f, hess, trace, reason):
    converged = reason in CONVERGED
    n_iter = len(trace["loss"])
    message = f"{reason} after {n_iter} iterations: " + (
        "converged" if converged else ADVICE.get(reason, reason))
    if not converged:
        warnings.warn(f"Newton stopped without converging ({message})", ConvergenceWarning,
                      stacklevel=user_stacklevel())
    arrays = {key: np.asarray(values, dtype=float) for key, values in trace.items()}
    return DistributedNewtonResult(theta, f, n_iter, converged, reason, message, hess, arrays)
