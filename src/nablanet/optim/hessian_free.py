"""Hessian-free optimisation (Martens 2010): Gauss-Newton-CG with Levenberg-Marquardt damping.

Each step solves ``(G + lambda I) p = -g`` approximately by conjugate gradients on
curvature-vector products ``G v`` (the GGN: PSD, so CG is well posed where the
Hessian's is not), then:

1. CG starts from the previous step's solution times ``warm_start_decay`` (Martens' 0.95);
2. CG stops on Martens' relative-progress test on the quadratic model
   ``phi(x) = x^T (G + lambda I) x / 2 + g^T x``, or at ``max_cg_iter``;
3. backtracking over the CG iterates: among iterates kept at iterations
   ``ceil(1.3^j)`` the last one is taken and stepped back from while the objective
   prefers the earlier one (later iterates fit the quadratic, not always the loss);
4. the reduction ratio ``rho = (f(x + p) - f(x)) / (q(p) - q(0))``, ``q`` the
   undamped Gauss-Newton model, adapts ``lambda``: times 3/2 when ``rho < 1/4``, times
   2/3 when ``rho > 3/4``;
5. an Armijo backtracking on the step length; a step that still does not decrease
   the objective is rejected (``x`` unchanged, ``lambda`` raised, warm start dropped).

The optimiser sees flat parameter vectors and three callables, so it serves any
model: :mod:`nablanet.curvature` supplies the GGN products for networks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Halvings of the step length tried before a step is rejected (2^-12 of the CG step).
_ARMIJO_HALVINGS = 12
#: Relative size of a predicted decrease below which rho is rounding noise (NaN, damping kept).
_ROUNDING = 1e-13


@dataclass(frozen=True)
class HessianFreeStep:
    """What one Hessian-free step did.

    Attributes
    ----------
    x : ndarray
        The new parameters (the old ones when the step was rejected).
    loss_before, loss_after : float
    rho : float
        Reduction ratio (actual over predicted decrease), NaN if nothing was predicted.
    damping : float
        ``lambda`` after this step's update.
    cg_iterations : int
    cg_stop : str
        'progress' (Martens' test), 'max_iter', 'residual' or 'negative_curvature'.
    backtracked_to : int
        The CG iteration whose iterate was taken.
    step_length : float
        Armijo's factor (1 when the full step was taken, 0 when rejected).
    accepted : bool
    """

    x: np.ndarray
    loss_before: float
    loss_after: float
    rho: float
    damping: float
    cg_iterations: int
    cg_stop: str
    backtracked_to: int
    step_length: float
    accepted: bool


class HessianFree:
    """Martens' Hessian-free optimiser on flat parameter vectors.

    Parameters
    ----------
    damping : float, default 1.0
        Initial Levenberg-Marquardt ``lambda``.
    max_cg_iter : int, default 250
    cg_tol : float, default 5e-4
        Martens' epsilon: CG stops at iteration ``i > k`` with ``k = max(10, i / 10)``
        when ``phi_i < 0`` and ``(phi_i - phi_{i-k}) / phi_i < k * cg_tol``.
    warm_start_decay : float, default 0.95
    min_damping : float, default 1e-8
        ``lambda`` never falls below this (keeps the damped system positive definite).
    armijo : float, default 1e-2
        Sufficient-decrease constant of the step-length search.

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet.optim import HessianFree
    >>> A, b = np.array([[3.0, 1.0], [1.0, 2.0]]), np.array([1.0, -1.0])
    >>> f = lambda x: 0.5 * x @ A @ x - b @ x
    >>> hf, x = HessianFree(damping=1e-3), np.zeros(2)
    >>> for _ in range(3):
    ...     x = hf.step(x, f, A @ x - b, lambda v: A @ v).x
    >>> np.allclose(x, np.linalg.solve(A, b))
    True
    """

    def __init__(self, damping=1.0, max_cg_iter=250, cg_tol=5e-4, warm_start_decay=0.95,
                 min_damping=1e-8, armijo=1e-2):
        for name, value in (("damping", damping), ("min_damping", min_damping),
                            ("cg_tol", cg_tol)):
            if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
                raise ValueError(f"HessianFree: {name} must be a positive number, got {value!r}")
        if not isinstance(max_cg_iter, (int, np.integer)) or max_cg_iter < 1:
            raise ValueError(f"HessianFree: max_cg_iter must be a positive int, got {max_cg_iter}")
        if not 0 <= warm_start_decay <= 1:
            raise ValueError(f"HessianFree: warm_start_decay must be in [0, 1], got "
                             f"{warm_start_decay}")
        self.damping = float(damping)
        self.max_cg_iter = int(max_cg_iter)
        self.cg_tol = float(cg_tol)
        self.warm_start_decay = float(warm_start_decay)
        self.min_damping = float(min_damping)
        self.armijo = float(armijo)
        self.previous_direction = None
        self.history = []

    def step(self, x, loss, gradient, curvature_product, loss_value=None):
        """One Hessian-free step from ``x``.

        Parameters
        ----------
        x : ndarray (P,)
        loss : callable
            ``x -> float``, the objective (evaluated at CG iterates while backtracking).
        gradient : ndarray (P,)
            The objective's gradient at ``x``.
        curvature_product : callable
            ``v -> G v`` at ``x`` (the GGN, or any PSD curvature).
        loss_value : float, optional
            ``loss(x)`` if already known.

        Returns
        -------
        HessianFreeStep
        """
        x = np.asarray(x, dtype=float)
        g = np.asarray(gradient, dtype=float).reshape(x.shape)
        f0 = float(loss(x)) if loss_value is None else float(loss_value)
        if not (math.isfinite(f0) and np.all(np.isfinite(g))):
            raise FloatingPointError(
                "HessianFree: the loss or gradient at the current point is not finite; lower "
                "the initial damping's step or check the data")
        lam = self.damping

        def damped(v):
            return np.asarray(curvature_product(v), dtype=float).reshape(x.shape) + lam * v

        x0 = None
        if self.previous_direction is not None and self.previous_direction.shape == x.shape:
            x0 = self.warm_start_decay * self.previous_direction
        iterates, cg_iterations, cg_stop = _conjugate_gradient(
            damped, g, x0, self.max_cg_iter, self.cg_tol)
        p, f_new, taken = _backtrack(iterates, x, loss)
        self.previous_direction = p
        # undamped Gauss-Newton model: q(p) - q(0) = g^T p + p^T G p / 2
        predicted = float(g @ p + 0.5 * (p @ damped(p) - lam * (p @ p)))
        # a predicted decrease at rounding level says nothing about the model's fit
        meaningful = predicted < -_ROUNDING * max(abs(f0), 1e-300)
        rho = (f_new - f0) / predicted if meaningful else float("nan")
        if meaningful and not rho > 0.25:
            lam *= 1.5
        elif rho > 0.75:
            lam *= 2.0 / 3.0
        self.damping = max(lam, self.min_damping)
        length, f_new = self._step_length(x, p, f0, f_new, g, loss)
        accepted = length > 0
        if not accepted:
            self.previous_direction = None
            if meaningful:
                self.damping = max(self.damping, lam * 1.5)
        result = HessianFreeStep(x + length * p if accepted else x.copy(), f0,
                                 f_new if accepted else f0, rho, self.damping, cg_iterations,
                                 cg_stop, taken, length, accepted)
        self.history.append(result)
        return result

    def _step_length(self, x, p, f0, f_new, g, loss):
        """Armijo backtracking on the step length; 0 when no length decreases the loss."""
        if not np.any(p):
            return 1.0, f0  # nothing to take (x is stationary for the model)
        slope = min(float(g @ p), 0.0)
        length = 1.0
        for _ in range(_ARMIJO_HALVINGS):
            if math.isfinite(f_new) and f_new < f0 and f_new <= f0 + self.armijo * length * slope:
                return length, f_new
            length *= 0.5
            f_new = float(loss(x + length * p))
        return 0.0, f0


def _conjugate_gradient(A, g, x0, max_iter, tol):
    """CG on ``A x = -g`` from ``x0``; returns kept iterates ``[(iteration, x)]``, count, reason."""
    x = np.zeros_like(g) if x0 is None else x0.copy()
    r = A(x) + g  # residual of A x + g = 0
    d = -r
    rr = float(r @ r)
    phi = [0.5 * float(x @ (r - g)) + float(g @ x)]  # phi(x) = x^T A x / 2 + g^T x
    keep = {math.ceil(1.3 ** j) for j in range(200)}
    iterates = []
    stop = "max_iter"
    g_norm = float(np.linalg.norm(g))
    if math.sqrt(rr) <= 1e-10 * max(g_norm, 1e-300):
        return [(0, x)], 0, "residual"  # the start already solves the system
    i = 0
    for i in range(1, max_iter + 1):
        Ad = A(d)
        curvature = float(d @ Ad)
        if curvature <= 0:
            stop = "negative_curvature"  # cannot happen for PSD G and lambda > 0 but rounding
            i -= 1
            break
        step = rr / curvature
        x = x + step * d
        r = r + step * Ad
        rr_new = float(r @ r)
        phi.append(0.5 * float(x @ (r - g)) + float(g @ x))
        if i in keep:
            iterates.append((i, x.copy()))
        if math.sqrt(rr_new) <= 1e-10 * max(g_norm, 1e-300):
            stop = "residual"
            break
        k = max(10, i // 10)
        if i > k and phi[i] < 0 and (phi[i] - phi[i - k]) / phi[i] < k * tol:
            stop = "progress"
            break
        d = -r + (rr_new / rr) * d
        rr = rr_new
    if not iterates or iterates[-1][0] != i:
        iterates.append((i, x.copy()))
    return iterates, i, stop


def _backtrack(iterates, x, loss):
    """From the last kept CG iterate, step back while the previous one has a lower loss."""
    j = len(iterates) - 1
    f_j = float(loss(x + iterates[j][1]))
    while j > 0:
        f_prev = float(loss(x + iterates[j - 1][1]))
        if not (f_prev < f_j or not math.isfinite(f_j)):
            break
        j, f_j = j - 1, f_prev
    return iterates[j][1], f_j, iterates[j][0]
