"""Newton's method for minimisation: damped Cholesky Newton and Newton-CG (claim C6, C1).

The solver follows a fixed sequence each iteration: (1) value and gradient,
(2) gradient test, (3) Newton direction (Cholesky of H, Levenberg-Marquardt
damping H + mu I when H is not positive definite; or conjugate gradients on
Hessian-vector products; :func:`newton` reuses an old factor as the CG
preconditioner while that is cheaper than a new Hessian), (4) Armijo backtracking,
(5) decrement and step tests,
(6) an optional problem-specific check (e.g. separation in logistic regression).
A test that fires is only a candidate stop (:class:`_Run`): a minimum is claimed only
where the Hessian is positive semidefinite (else a negative-curvature step, or the stop
'saddle'), the Newton step is small and the point is stationary; unbounded and
non-finite objectives end with their own stop reasons instead of an exception.
A small change in the parameters alone is a weak criterion (a stalled solver
also takes small steps), so the gradient max-norm and the Newton decrement
lambda^2 = g^T H^{-1} g, whose half estimates f(x) - f(x*), come first.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from nablanet.optim._triangular import CholeskyFactor, solve_lower, solve_upper
from nablanet.optim.line_search import armijo_backtracking, direction_is_negligible
from nablanet.optim.stopping import ConvergenceWarning, user_stacklevel

_TRACE_KEYS = ("loss", "grad_norm", "decrement", "step_norm", "damping", "step_length")
_CONVERGED = ("gradient", "decrement", "step_size", "roundoff")
_ADVICE = {
    "max_iter": "raise max_iter, or add L2 regularisation if the problem is ill-conditioned",
    "line_search": "no step decreased the objective: check that grad matches fun",
    "separation": "the data are linearly separable, so no finite minimum exists: add L2 "
                  "regularisation (alpha > 0 / finite C)",
    "saddle": "start elsewhere: no step along the negative curvature decreased the objective",
    "unbounded": "the objective keeps decreasing as ||x|| grows without bound: no minimum "
                 "exists (add a penalty or bounds to the problem)",
    "non_finite": "the objective, its gradient or its Hessian became NaN or infinite: check "
                  "the function's domain near the last iterate",
    "stalled": "rescale the variables (or check that grad matches fun): the steps are "
               "negligible but the point is not stationary",
}
_TESTS = {
    "gradient": "converged: max |g_i| <= tol (and the Newton step there is small)",
    "decrement": "converged: the Newton decrement lambda^2 / 2 <= decrement_tol max(1, |f|)",
    "step_size": "converged: the step <= step_tol (1 + ||x||) at a stationary point",
    "roundoff": "converged: the predicted decrease is below f's rounding at a stationary point",
}
#: A step-size or roundoff stop counts as convergence only where the scaled gradient
#: max_i |g_i| max(1, |x_i|) / max(1, |f|) is at most this (eps^(1/3), Dennis & Schnabel).
STATIONARY_RTOL = 6e-6
#: The gradient and decrement tests also need the Newton step d there to be small:
#: max |d_i| <= NEWTON_STEP_RTOL (1 + max |x_i|); both tests scale with f, d does not.
NEWTON_STEP_RTOL = 1e-6
#: Eigenvalues below this fraction of the largest count as flat in that check.
FLAT_RTOL = 1e-6
#: A stop claims a minimum only where lambda_min(H) >= -PSD_RTOL max |lambda(H)|.
PSD_RTOL = 1e-8
#: Iterates beyond this times (1 + max |x0_i|), f still falling: stop as 'unbounded'.
UNBOUNDED_GROWTH = 1e15


class HessianError(ValueError):
    """The Hessian is NaN or infinite, so no Newton direction exists."""




@dataclass
class NewtonResult:
    """Outcome of :func:`newton` / :func:`newton_cg`.

    Attributes
    ----------
    x : ndarray
        Final parameters.
    fun : float
        Objective at ``x``.
    grad : ndarray
        Gradient at ``x``.
    n_iter : int
        Newton steps taken.
    converged : bool
    stop_reason : str
        Converged: ``'gradient'`` (max |g| <= tol), ``'decrement'`` (lambda^2 / 2 small),
        ``'step_size'`` (negligible step), ``'roundoff'`` (predicted decrease below f's
        rounding); each only after the checks of a minimum: the Hessian is positive
        semidefinite there (unless the objective is marked ``convex``), the Newton step
        on its curved directions is small (gradient, decrement) and the scaled gradient
        is small (step_size, roundoff).  Not converged: ``'saddle'`` (gradient ~0, a
        negative eigenvalue, and no step along it decreased f), ``'unbounded'`` (f kept
        falling as ||x|| grew past 1e15 (1 + ||x0||)), ``'non_finite'`` (f, g or H became
        NaN/inf), ``'stalled'`` (negligible steps at a non-stationary point),
        ``'line_search'``, ``'max_iter'``, ``'separation'`` or another reason from
        ``check``.
    message : str
    trace : dict of ndarray
        Per iteration: loss, grad_norm (max-norm), decrement (lambda^2 / 2),
        step_norm, damping (mu added to H), step_length (Armijo t).
    n_hessian : int
        Hessians built, exact or for a preconditioner (:func:`newton`, which reuses
        an old factor for chord steps or as a CG preconditioner while that pays), or
        CG solves (:func:`newton_cg`).
    """

    x: np.ndarray
    fun: float
    grad: np.ndarray
    n_iter: int
    converged: bool
    stop_reason: str
    message: str = ""
    trace: dict = field(default_factory=dict)
    n_hessian: int = 0


def newton(fun, x0, grad=None, hess=None, tol=1e-8, max_iter=100, decrement_tol=1e-16,
           step_tol=1e-12, check=None, verbose=False):
    """Minimise a smooth function by damped Newton with an Armijo line search.

    Parameters
    ----------
    fun : callable or objective
        ``fun(x) -> float``, written with nablanet ops when ``grad``/``hess`` are
        not given.  An object with ``value``, ``gradient`` and ``hessian`` methods
        (e.g. :class:`~nablanet.optim.objectives.LogisticObjective`) supplies all
        three, and its ``check`` method, if any, is used as ``check``.  With an
        ``hvp`` method too, a ``preconditioner_hessian`` method (a cheaper, inexact H,
        or None) is factored instead of H, and every step is solved by CG on the exact
        products, so the result is as exact as with H itself.  Optional methods that
        save passes over the data: ``value_gradient_hessian`` (all three at x0 at once)
        and ``previous_step_product`` (``(v, H v)`` for the step that led to x, or None;
        CG then starts from the best multiple of v).
    x0 : array_like, shape (n,)
    grad, hess : callable, optional
        Closed forms ``grad(x) -> (n,)`` and ``hess(x) -> (n, n)``; default: the engine.
    tol : float, default 1e-8
        Converged when max |g_i| <= tol.
    max_iter : int, default 100
    decrement_tol : float, default 1e-16
        Converged when lambda^2 / 2 <= decrement_tol * max(1, |f|).  lambda is the
        H-norm of the distance to the minimiser of the quadratic model, so each
        parameter is then within about lambda standard errors (sqrt(H^-1)_ii).
    step_tol : float, default 1e-12
        Converged when ||step|| <= step_tol * (1 + ||x||) (the notes' rule).
    check : callable, optional
        ``check(x, f, g) -> None or (stop_reason, message)`` after each step.
    verbose : bool, default False
        Print one line per iteration.

    Returns
    -------
    NewtonResult

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> f = lambda x: nb.sum((x - 1.0) ** 4) + nb.sum(x ** 2)
    >>> r = newton(f, np.zeros(2))
    >>> r.converged, r.x.round(6)
    (True, array([0.410245, 0.410245]))
    """
    problem = _Problem(fun, grad, hess=hess, fused_start=True)
    stale = _StaleFactor()

    def direction(x, f, g):
        # Building H is the whole cost of an iteration on large data, and H changes little
        # between late iterations.  So reuse the last undamped factor: as the preconditioner
        # of CG on the objective's closed-form H v products (an exact-enough Newton step
        # for a fraction of a build), or, without closed-form products, as a chord step
        # while that still shrinks the decrement 100-fold.
        # CG need not shrink the decrement below a tenth of the stopping test's threshold
        enough = 0.2 * decrement_tol * max(1.0, abs(f))
        if stale.factor is not None:
            found = stale.pcg(problem, x, g, enough) if problem.closed_hvp else stale.chord(g)
            if found is not None:
                return found
        approximate = problem.approximate_hess(x) if problem.approximate_hess else None
        if approximate is not None:
            # a cheaper, inexact H (e.g. float32 sums) serves as well as a preconditioner:
            # the step comes from CG on exact products, 1-3 of them with a fresh factor
            problem.n_hessian += 1
            factor, mu = damped_cholesky(approximate)
            stale.renew(factor if mu == 0 else None)
            found = stale.pcg(problem, x, g, enough) if mu == 0 else None
            if found is not None:
                return found
        problem.n_hessian += 1
        H = problem.hessian_at(x)
        factor, mu = damped_cholesky(H, g)
        stale.renew(factor if mu == 0 else None)
        if mu > 0 and not problem.convex:
            return saddle_free_direction(H, g)
        if mu == 0:  # the factor may serve later iterations: keep its block inverses
            solver = stale.solver
            half = solver.lower(g)
            d = -solver.upper(half)
        else:
            half = solve_lower(factor, g)
            d = -solve_upper(factor.T, half)
        lam2 = float(half @ half)
        stale.lam2 = lam2
        return d, lam2, mu, (stale.solver.lower if mu == 0 else None)

    return _minimise(problem, x0, direction, tol, max_iter, decrement_tol, step_tol,
                     check if check is not None else problem.check, verbose,
                     lambda x: hessian_spectrum(problem.hess(x)))


def newton_cg(fun, x0, grad=None, hvp=None, tol=1e-8, max_iter=100, decrement_tol=1e-16,
              step_tol=1e-12, check=None, verbose=False, max_cg=None):
    """Minimise by truncated Newton: conjugate gradients on Hessian-vector products.

    Same interface and result as :func:`newton`, but the Hessian is never formed:
    ``hvp(x, v) -> H(x) v`` (default :func:`nablanet.hvp`, or the objective's
    ``hvp`` method).  CG stops at relative residual min(0.5, sqrt(||g||)) or at
    negative curvature (then the last CG iterate, or -g, is used).

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> f = lambda x: nb.sum((x - 1.0) ** 4) + nb.sum(x ** 2)
    >>> newton_cg(f, np.zeros(2)).x.round(6)
    array([0.410245, 0.410245])
    """
    problem = _Problem(fun, grad, hvp=hvp)

    def direction(x, f, g):
        problem.n_hessian += 1
        return cg_direction(lambda v: problem.hvp(x, v), g, max_cg or 2 * g.size + 10)

    return _minimise(problem, x0, direction, tol, max_iter, decrement_tol, step_tol,
                     check if check is not None else problem.check, verbose,
                     lambda x: lanczos_spectrum(lambda v: problem.hvp(x, v), x.size))


class _Problem:
    """Value, gradient, Hessian and HVP of the objective, closed forms or engine."""

    def __init__(self, fun, grad=None, hess=None, hvp=None, fused_start=False):
        from nablanet.autodiff import transforms

        self.approximate_hess = self._fused = self._primed = self.step_product = None
        self.convex = bool(getattr(fun, "convex", False))
        if all(hasattr(fun, name) for name in ("value", "gradient", "hessian")):
            if hess is None and hvp is None and hasattr(fun, "hvp"):
                # an inexact H for the preconditioner only with the objective's own H v
                self.approximate_hess = getattr(fun, "preconditioner_hessian", None)
            if fused_start and hess is None and grad is None and self.approximate_hess is None:
                self._fused = getattr(fun, "value_gradient_hessian", None)
            if hvp is None:  # the objective's own products: its last step's H v too
                self.step_product = getattr(fun, "previous_step_product", None)
            self.value, grad = fun.value, grad or fun.gradient
            hess, hvp = hess or fun.hessian, hvp or getattr(fun, "hvp", None)
            self.closed_hvp = hvp is not None
            self.check = getattr(fun, "check", None)
        else:
            self.value, self.check = fun, None
            self.closed_hvp = hvp is not None
        self.n_hessian = 0
        self._grad = grad
        self._engine_vg = transforms.value_and_grad(self.value) if grad is None else None
        self.hess = hess or transforms.hessian(self.value)
        self.hvp = hvp or transforms.hvp(self.value)

    def start(self, x):
        """``(f, g)`` at the starting point.  Newton's first direction always needs a
        fresh Hessian there, so an objective that gives all three from one pass over its
        data (``value_gradient_hessian``) is asked for them at once, and H is kept for
        :meth:`hessian_at` (wasted only if x is already optimal)."""
        if self._fused is None:
            return self.value_and_grad(x)
        f, g, H = self._fused(x)
        self._primed = (x.copy(), H)
        return float(f), np.asarray(g, dtype=float)

    def hessian_at(self, x):
        primed, self._primed = self._primed, None
        if primed is not None and np.array_equal(primed[0], x):
            return primed[1]
        return self.hess(x)

    def value_and_grad(self, x):
        if self._engine_vg is not None:
            f, g = self._engine_vg(x)
            return float(f), np.asarray(g, dtype=float)
        return float(self.value(x)), np.asarray(self._grad(x), dtype=float)

    def grad_after_line_search(self, x, f):
        """``(f, g)`` at the accepted point, whose value the line search already has:
        only the gradient is computed (the engine's pass gives both at once)."""
        if self._engine_vg is not None:
            return self.value_and_grad(x)
        return f, np.asarray(self._grad(x), dtype=float)


class _StaleFactor:
    """The Cholesky factor of an earlier Hessian, reused while it still pays.

    ``pcg`` gives preconditioned CG on one factor a budget of Hessian-vector products
    worth about half a Hessian build: a build on n rows costs ~n p^2 flops at BLAS-3
    speed, a product ~4 n p at BLAS-2 speed, so the budget is p / 8 products (at least
    3) for p parameters.  A count, not a clock, keeps fits reproducible whatever the
    machine's load.  As H moves away from the factor's, CG needs more products per
    solve: the factor is retired, and the next direction comes from a new build, when
    the budget is spent, when the last solve used more than the budget left (the next
    one would run out and be discarded), or more than :meth:`solve_cap` products.
    Solves use :class:`~nablanet.optim._triangular.CholeskyFactor` (no explicit inverse).
    """

    @staticmethod
    def solve_cap(p):
        """Most products one solve may take before the factor counts as stale: p / 64
        (at least 3; a fresh factor needs 1-3).  On digits softmax (p = 650) p / 32,
        p / 48, p / 96 and p / 128 all cost more products-plus-builds than p / 64."""
        return max(3, p // 64)

    def __init__(self):
        self.factor, self.solver, self.lam2 = None, None, math.inf
        self.products_left = self.last_used = 0

    def renew(self, factor):
        self.factor, self.lam2, self.last_used = factor, math.inf, 0
        self.solver = None if factor is None else CholeskyFactor(factor)
        self.products_left = 0 if factor is None else max(3, len(factor) // 8)

    def chord(self, g):
        half = self.solver.lower(g)
        lam2 = float(half @ half)
        if lam2 > 1e-2 * self.lam2:
            return None
        self.lam2 = lam2
        return -self.solver.upper(half), lam2, 0.0, self.solver.lower

    def pcg(self, problem, x, g, enough=0.0):
        if self.products_left < self.last_used or self.last_used > self.solve_cap(len(g)):
            # as H drifts from the factor's, each solve needs more products than the last:
            # one that would outrun the budget would be discarded, and once a solve needs
            # more than solve_cap, the few iterations left would cost more than a new
            # build: build H now instead
            self.factor = None
            return None
        start = problem.step_product(x) if problem.step_product is not None else None
        d, lam2, used = pcg_direction(lambda v: problem.hvp(x, v), g, self.solver.solve,
                                      self.products_left, enough, start)
        self.products_left -= used
        self.last_used = used
        half_solve = self.solver.lower  # still valid once the factor is retired
        if self.products_left <= 0:
            self.factor = None  # retire it: the next iteration builds H afresh
        if d is None:
            return None
        return d, lam2, 0.0, half_solve


def pcg_direction(hvp, g, precondition, max_products, enough=0.0, start=None):
    """Solve H d = -g by CG preconditioned with M^-1 ~ H^-1, with at most ``max_products``.

    Stops when the residual's M^-1-norm falls to eta times g's, eta = min(0.1, lambda)
    (lambda ~ sqrt(g^T M^-1 g), the Newton decrement: the error left in f is then of
    order eta^2 lambda^2, so the steps stay quadratically convergent), or when its
    square r^T M^-1 r, which estimates the decrement left after the step, is at most
    ``enough`` (the last step need only get below the stopping test).  ``start = (v, H v)``
    (a direction whose product is already known, e.g. the previous step) makes CG start
    from the best multiple of v instead of 0, at no product's cost: often that alone
    meets the tolerance.  Returns ``(d, -g^T d, products_used)``; ``d`` is None on
    negative curvature, or when the budget ran out first.
    """
    r = -g
    z = precondition(r)
    rz = float(r @ z)
    if not rz > 0:
        return None, 0.0, 0
    # (eta ||g||_M)^2 with eta = min(0.1, lambda) and lambda^2 ~ rz: a forcing term that
    # keeps the convergence quadratic (eta ~ sqrt(lambda) would make it only superlinear)
    target = max(min(0.1, rz**0.5) ** 2 * rz, enough)
    d = np.zeros_like(g)
    if start is not None:
        d, r, z, rz = _start_along(start, g, d, r, z, rz, precondition)
        if rz <= target:
            return d, float(-(g @ d)), 0
    p = z
    used = 0
    while True:
        Hp = np.asarray(hvp(p), dtype=float)
        used += 1
        curvature = float(p @ Hp)
        if not curvature > 0:
            return None, 0.0, used
        step = rz / curvature
        d += step * p
        r = r - step * Hp
        z = precondition(r)
        rz_new = float(r @ z)
        if rz_new <= target:
            return d, float(-(g @ d)), used
        if used >= max_products:
            # an unfinished solve is not used: a fresh Hessian gives the exact step
            return None, 0.0, used
        p = z + (rz_new / rz) * p
        rz = rz_new


def _start_along(start, g, d, r, z, rz, precondition):
    """CG's state after a first step to the minimiser of the quadratic model along v
    (a Galerkin step on span(v), exact since H v is exact); unchanged if v is useless."""
    v, Hv = start
    curvature = float(v @ Hv)
    if not (curvature > 0 and np.all(np.isfinite(Hv))):
        return d, r, z, rz
    a = -float(g @ v) / curvature
    r_new = r - a * Hv
    z_new = precondition(r_new)
    rz_new = float(r_new @ z_new)
    if not rz_new < rz:  # no better than starting from 0
        return d, r, z, rz
    return a * v, r_new, z_new, rz_new


def newton_direction(H, g):
    """Solve (H + mu I) d = -g by Cholesky, with the smallest mu in {0, 1e-8 s, 1e-7 s, ...}.

    ``s`` is the mean absolute diagonal of H.  A factor counts as positive definite
    when every squared pivot exceeds 1e-12 s (a singular H can factor with a pivot
    at rounding level, which would give a wild step).  Returns ``(d, lambda^2, mu, L)``
    with lambda^2 = g^T (H + mu I)^{-1} g.  Uses NumPy's LAPACK only (one BLAS pool).
    """
    L, mu = damped_cholesky(H)
    half = solve_lower(L, g)  # L^{-1} g, so lambda^2 = ||L^{-1} g||^2
    d = -solve_upper(L.T, half)
    return d, float(half @ half), mu, L


def damped_cholesky(H, fallback_scale=1.0):
    """``(L, mu)``: the Cholesky factor of H + mu I for the smallest mu that
    :func:`newton_direction` accepts."""
    H = np.asarray(H, dtype=float)
    # a NaN or infinite H fails every factorisation below (no up-front check: its cost
    # shows on small fits)
    scale = float(np.mean(np.abs(np.diag(H))))
    if not scale > 0:  # a zero diagonal: damp on the scale of the gradient (or 1)
        scale = max(float(np.max(np.abs(fallback_scale), initial=0.0)), 1.0)
    for power in range(-9, 21):
        mu = 0.0 if power == -9 else scale * 10.0**power
        L = _cholesky_or_none(H + mu * np.eye(len(H)) if mu else H, 1e-12 * scale)
        if L is not None:
            break
    else:
        raise HessianError("the Hessian could not be made positive definite: it is NaN or "
                           "infinite, or its entries span more than float64 can factor")
    return L, mu


def _cholesky_or_none(A, min_pivot):
    try:
        L = np.linalg.cholesky(A)
    except np.linalg.LinAlgError:
        return None
    return L if np.min(np.diag(L)) ** 2 > min_pivot else None


def saddle_free_direction(H, g):
    """``(d, g^T |H|^-1 g, -lambda_min, None)`` with d = -|H|^-1 g for an H that is not
    positive definite: the eigenvalues replaced by their magnitudes (floored at 1e-8 of
    the largest, or of |g| when H is zero), so d descends and moves away from a saddle
    along its negative curvature instead of towards it."""
    values, vectors = np.linalg.eigh(0.5 * (H + H.T))
    top = float(np.max(np.abs(values), initial=0.0))
    floor = 1e-8 * top if top > 0 else max(1e-8 * float(np.max(np.abs(g))), np.finfo(float).tiny)
    magnitudes = np.maximum(np.abs(values), floor)
    along = vectors.T @ g
    d = -vectors @ (along / magnitudes)
    return d, float(along @ (along / magnitudes)), max(-float(values[0]), floor), None


def cg_direction(hvp, g, max_cg):
    """Approximately solve H d = -g by conjugate gradients; returns (d, -g^T d, mu, None).

    On negative curvature at the first CG direction (so d is still 0), d follows that
    direction, sized by the model's curvature, with ``mu > 0`` flagging the non-convex
    model; on negative curvature later, the CG iterate so far."""
    g_norm = float(np.linalg.norm(g))
    target = min(0.5, math.sqrt(g_norm)) * g_norm
    d = np.zeros_like(g)
    r = -g.copy()
    p = r.copy()
    rr = float(r @ r)
    for _ in range(max_cg):
        Hp = np.asarray(hvp(p), dtype=float)
        curvature = float(p @ Hp)
        if curvature <= 0:
            if not d.any():  # negative curvature at once: steepest descent
                return -g.copy(), float(g @ g), max(-curvature / max(rr, 1e-300), 1e-300), None
            break
        alpha = rr / curvature
        d += alpha * p
        r -= alpha * Hp
        rr_new = float(r @ r)
        if math.sqrt(rr_new) <= target:
            break
        p = r + (rr_new / rr) * p
        rr = rr_new
    return d, float(-(g @ d)), 0.0, None


def _minimise(problem, x0, direction, tol, max_iter, decrement_tol, step_tol, check, verbose,
              spectrum=None):
    x = np.array(x0, dtype=float).reshape(-1)
    if not np.all(np.isfinite(x)):
        raise ValueError("x0 contains NaN or inf; give a finite starting point")
    f, g = problem.start(x)
    if not (math.isfinite(f) and np.all(np.isfinite(g))):
        raise ValueError(f"the objective or its gradient is not finite at x0 (f = {f})")
    run = _Run(problem, x, trace={key: [] for key in _TRACE_KEYS}, verbose=verbose,
               spectrum=None if problem.convex else spectrum)
    reason, message = "max_iter", ""
    while len(run.trace["loss"]) < max_iter:
        if run.escaped(x):
            reason = "unbounded"
            break
        small_gradient = np.max(np.abs(g), initial=0.0) <= tol
        if small_gradient:  # before the direction: a convex problem stops here at once
            reason, state = run.confirm("gradient", x, f, g)
            if state is None:
                break
            if state is not _GO_ON:
                x, f, g = state  # a negative-curvature step out of a saddle: go on
                continue
        found = _safe_direction(direction, x, f, g)
        if found is None:
            reason = "non_finite"
            break
        # lower_solve: r -> L^-1 r with the undamped factor behind d, or None
        d, lam2, mu, lower_solve = found
        if not small_gradient and _decrement_small(lam2, f, decrement_tol):
            # f - f* ~ lambda^2 / 2 is below the tolerance: finish with the full step,
            # whose decrease a line search could not even resolve in floating point
            x_new = x + d
            f_new, g_new = problem.value_and_grad(x_new)
            if not _finite(f_new, g_new):
                reason = "non_finite"
                break
            x, f, g = x_new, f_new, g_new
            run.record(f, g, lam2, float(np.linalg.norm(d)), mu, 1.0)
            reason, state = run.confirm("decrement", x, f, g)
            if state is None:
                break
            if state is not _GO_ON:
                x, f, g = state
            continue
        slope = float(g @ d)
        if not math.isfinite(slope):
            reason = "non_finite"
            break
        t, f_new = armijo_backtracking(problem.value, x, f, slope, d) if slope < 0 else (0.0, f)
        if t == 0.0:
            # no decrease found: converged if the predicted one is below f's rounding
            if not direction_is_negligible(f, slope):
                reason = "line_search"
                break
            reason, state = run.confirm("roundoff", x, f, g)
            if state is None or state is _GO_ON:
                reason = reason or "line_search"
                break
            x, f, g = state
            continue
        if t == 1.0 and mu > 0 and run.spectrum is not None:
            # a full step on a damped model of a non-convex function: go further while the
            # objective keeps falling (it may fall without bound)
            t, f_new, t_far = run.extend(x, d, f_new)
            if t is None:
                reason = "unbounded"
                x = x + t_far * d  # the farthest point tried
                f, g = problem.value_and_grad(x)
                break
        x = x + t * d
        f, g = problem.grad_after_line_search(x, f_new)
        if not _finite(f, g):
            reason = "unbounded" if f == -math.inf else "non_finite"
            break
        run.record(f, g, lam2, t * float(np.linalg.norm(d)), mu, t)
        if run.escaped(x):
            reason = "unbounded"
            break
        if lower_solve is not None and mu == 0 and t == 1.0:
            # a full undamped step: the old factor estimates the new decrement, which can
            # end the run here instead of after one more Hessian
            half = lower_solve(g)
            lam2 = float(half @ half)
        reason = _converged_after_step(f, x, lam2, run.trace, decrement_tol, step_tol)
        if reason is not None:
            reason, state = run.confirm(reason, x, f, g)
            if state is None:
                break
            if state is not _GO_ON:
                x, f, g = state
            continue
        if check is not None:
            found = check(x, f, g)
            reason, message = found if found is not None else (None, "")
        if reason is not None:
            break
    else:
        reason = "max_iter"
    return _finish(x, f, g, run.trace, reason, message, problem.n_hessian, run.note)


def _finite(f, g):
    return math.isfinite(f) and bool(np.all(np.isfinite(g)))


def _safe_direction(direction, x, f, g):
    """The solver's direction, or None when the Hessian (or a product) is NaN or inf."""
    try:
        return direction(x, f, g)  # a non-finite d shows in the slope g^T d
    except HessianError:
        return None


class _Run:
    """The trace of one minimisation and the checks made before it may claim a minimum.

    A convergence test that fires (gradient, decrement, step size, roundoff) is only a
    candidate stop; :meth:`confirm` accepts it when

    - a step-size or roundoff stop is also stationary: the scaled gradient
      max_i |g_i| max(1, |x_i|) / max(1, |f|) is at most ``STATIONARY_RTOL`` (else
      ``'stalled'``: tiny steps far from a stationary point are not convergence);
    - the Hessian there is positive semidefinite (skipped for objectives marked
      ``convex``): its lowest eigenvalue is at least ``-PSD_RTOL`` times its largest
      magnitude.  Otherwise a step along the negative-curvature direction is tried and the
      run goes on; when no such step decreases f, the stop is ``'saddle'`` (not converged).

    The gradient and decrement tests also need the Newton step there to be small (see
    :meth:`newton_step_small`): both scale with f, so a tiny objective (or one flat at
    infinity) passes them anywhere.
    """

    def __init__(self, problem, x0, trace, verbose, spectrum):
        self.problem, self.trace, self.verbose = problem, trace, verbose
        self.spectrum = spectrum
        self.start_norm = float(np.max(np.abs(x0), initial=0.0))
        self.note = ""

    def record(self, f, g, lam2, step_norm, mu, t):
        _record(self.trace, f, g, lam2, step_norm, mu, t, self.verbose)

    def escaped(self, x):
        """True when the iterate has run off beyond ``UNBOUNDED_GROWTH`` times its start
        (never for objectives marked convex: theirs are bounded below)."""
        if self.spectrum is None:
            return False
        return float(np.max(np.abs(x), initial=0.0)) > UNBOUNDED_GROWTH * (1.0 + self.start_norm)

    def extend(self, x, d, f_full):
        """``(t, f(x + t d), t)`` for the largest t in {1, 2, 4, ...} up to which f kept
        falling; ``(None, None, t)`` when it fell all the way past ``UNBOUNDED_GROWTH``
        (t: the farthest length tried)."""
        t, f_best = 1.0, f_full
        for _ in range(64):
            if self.escaped(x + 2.0 * t * d):
                return None, None, 2.0 * t
            f_next = float(self.problem.value(x + 2.0 * t * d))
            if f_next == -math.inf:
                return None, None, 2.0 * t
            if not f_next < f_best:
                break
            t, f_best = 2.0 * t, f_next
        return t, f_best, t

    def confirm(self, reason, x, f, g):
        """``(reason, None)`` to stop; ``(None, (x, f, g))`` to go on from a new point, or
        ``(None, _GO_ON)`` to go on from this one (the test fired too early)."""
        if reason in ("step_size", "roundoff") and not _stationary(x, f, g):
            self.note = (f"the {reason} test fired, but the scaled gradient "
                         f"{_scaled_gradient(x, f, g):.1e} exceeds {STATIONARY_RTOL:g}")
            return "stalled", None
        if self.spectrum is None:
            return reason, None
        try:
            values, vectors = self.spectrum(x)
        except HessianError:
            return "non_finite", None
        size = float(np.max(np.abs(values), initial=0.0))
        if values[0] < -PSD_RTOL * size:
            # a saddle point or a maximum: step along the negative curvature if that helps
            found = self._curvature_step(x, f, g, float(values[0]), vectors[:, 0])
            if found is None:
                self.note = (f"the gradient is small but the Hessian's lowest eigenvalue is "
                             f"{values[0]:.3e} < 0: a saddle point or a maximum, not a minimum")
                return "saddle", None
            return None, found
        if values[0] <= FLAT_RTOL * size:
            # H is singular there: second derivatives cannot tell a minimum (x^4) from an
            # inflection (x^3); compare f a short way along the flattest direction
            found = self._probe_flat(x, f, vectors[:, 0])
            if found is not None:
                return None, found
        if reason in ("gradient", "decrement") and not _newton_step_small(values, vectors, g, x):
            # the test scales with f: a tiny objective, or one flat at infinity, passes it
            # anywhere; the Newton step does not scale with f
            return None, _GO_ON
        return reason, None

    def _probe_flat(self, x, f, v):
        t = 1e-3 * (1.0 + float(np.max(np.abs(x), initial=0.0)))
        for sign in (1.0, -1.0):
            f_new = float(self.problem.value(x + sign * t * v))
            if math.isfinite(f_new) and f - f_new > 1e3 * np.finfo(float).eps * max(1.0, abs(f)):
                _, _, t_far = self.extend(x, sign * t * v, f_new)  # past the bound: stops
                x_new = x + sign * t * t_far * v
                f_new, g_new = self.problem.value_and_grad(x_new)
                if not _finite(f_new, g_new):
                    return None
                self.record(f_new, g_new, 0.0, float(np.linalg.norm(x_new - x)), 0.0, 1.0)
                return x_new, f_new, g_new
        return None

    def _curvature_step(self, x, f, g, lam, v):
        v = -v if float(g @ v) > 0 else v
        t = 1.0 + float(np.max(np.abs(x), initial=0.0))
        for _ in range(60):
            x_new = x + t * v
            f_new = float(self.problem.value(x_new))
            predicted = t * float(g @ v) + 0.5 * t * t * lam
            if math.isfinite(f_new) and f_new < f + 1e-4 * predicted:
                f_new, g_new = self.problem.value_and_grad(x_new)
                if not _finite(f_new, g_new):
                    return None
                self.record(f_new, g_new, 0.0, t, -lam, t)
                return x_new, f_new, g_new
            t *= 0.5
        return None


_GO_ON = object()  # _Run.confirm: the stop was premature, carry on from the same point


def _newton_step_small(values, vectors, g, x):
    """True when the Newton step on H's curved directions (eigenvalues above
    ``FLAT_RTOL`` of the largest; flat ones, as in an over-parametrised model, are
    skipped) is at most ``NEWTON_STEP_RTOL (1 + max |x_i|)``."""
    size = float(np.max(np.abs(values), initial=0.0))
    curved = values > FLAT_RTOL * size
    if not curved.any():
        return True
    d = vectors[:, curved] @ ((vectors[:, curved].T @ g) / values[curved])
    return float(np.max(np.abs(d), initial=0.0)) <= NEWTON_STEP_RTOL * (
        1.0 + float(np.max(np.abs(x), initial=0.0)))


def _scaled_gradient(x, f, g):
    return float(np.max(np.abs(g) * np.maximum(1.0, np.abs(x)), initial=0.0)) / max(1.0, abs(f))


def _stationary(x, f, g):
    return _scaled_gradient(x, f, g) <= STATIONARY_RTOL


def hessian_spectrum(H):
    """``(eigenvalues ascending, unit eigenvectors as columns)`` of a symmetric H."""
    H = np.asarray(H, dtype=float)
    if not np.all(np.isfinite(H)):
        raise HessianError("the Hessian is NaN or infinite")
    return np.linalg.eigh(0.5 * (H + H.T))


def lanczos_spectrum(hvp, n, steps=40, seed=0):
    """Ritz values (ascending) and unit Ritz vectors from ``min(n, steps)`` Lanczos steps
    on H v products (full reorthogonalisation).  Ritz values lie inside H's spectrum, so
    a negative one proves negative curvature; for n <= steps they are H's eigenvalues."""
    k = min(n, steps)
    Q = np.zeros((n, k))
    alphas, betas = np.zeros(k), np.zeros(k)
    q = np.random.default_rng(seed).standard_normal(n)
    q /= np.linalg.norm(q)
    used = 0
    for j in range(k):
        Q[:, j] = q
        w = np.asarray(hvp(q), dtype=float)
        if not np.all(np.isfinite(w)):
            raise HessianError("a Hessian-vector product is NaN or infinite")
        alphas[j] = float(q @ w)
        w -= Q[:, : j + 1] @ (Q[:, : j + 1].T @ w)
        w -= Q[:, : j + 1] @ (Q[:, : j + 1].T @ w)
        used = j + 1
        beta = float(np.linalg.norm(w))
        if beta <= 1e-12 * max(1.0, abs(alphas[j])) or j == k - 1:
            break
        betas[j] = beta
        q = w / beta
    T = np.diag(alphas[:used]) + np.diag(betas[: used - 1], 1) + np.diag(betas[: used - 1], -1)
    values, vectors = np.linalg.eigh(T)
    return values, Q[:, :used] @ vectors


def _decrement_small(lam2, f, decrement_tol):
    return 0.5 * lam2 <= decrement_tol * max(1.0, abs(f))


def _converged_after_step(f, x, lam2, trace, decrement_tol, step_tol):
    if _decrement_small(lam2, f, decrement_tol):
        return "decrement"
    if trace["step_norm"][-1] <= step_tol * (1.0 + float(np.linalg.norm(x))):
        return "step_size"
    return None


def _record(trace, f, g, lam2, step_norm, mu, t, verbose):
    row = (f, float(np.max(np.abs(g), initial=0.0)), 0.5 * lam2, step_norm, mu, t)
    for key, value in zip(_TRACE_KEYS, row, strict=True):
        trace[key].append(value)
    if verbose:
        k = len(trace["loss"])
        print(f"iter {k:3d}  loss {row[0]:.10e}  |g|max {row[1]:.3e}  dec {row[2]:.3e}  "
              f"step {row[3]:.3e}  damping {row[4]:.1e}  t {row[5]:.3g}")


def _finish(x, f, g, trace, reason, message, n_hessian, note=""):
    converged = reason in _CONVERGED
    n_iter = len(trace["loss"])
    if not message:
        message = _TESTS.get(reason, "converged") if converged else _ADVICE.get(reason, reason)
    if note:
        message = f"{note}; {message}"
    message = f"{reason} after {n_iter} iterations: {message}"
    if not converged:
        warnings.warn(f"Newton stopped without converging ({message})", ConvergenceWarning,
                      stacklevel=user_stacklevel())
    arrays = {key: np.asarray(values, dtype=float) for key, values in trace.items()}
    return NewtonResult(x, f, g, n_iter, converged, reason, message, arrays, n_hessian)
