"""Passes over X for :class:`~nablanet.optim.objectives.LogisticObjective` (claim C1).

On large X every pass costs a read of the whole matrix from memory, so each function
here reads X once, a block of rows at a time, and does all the work it can on that
block while it is in cache: logits and the gradient in one pass, the Hessian's
rank-n update and (optionally) the gradient in another.
"""

from __future__ import annotations

import numpy as np

#: Rows per block of the fused logits-and-gradient pass: ~4 MB, so that the block read
#: by ``X_b w`` is still in the last-level cache for ``X_b^T r_b``.
PASS_BLOCK_BYTES = 4 << 20
#: Rows per block of the two-vector pass: ~768 KB, read from memory by the first
#: product and from cache by the second (as in ``LogisticObjective.hvp``).
PAIR_BLOCK_BYTES = 96 << 13
#: Rows per block of the Hessian build: ~3 MB of scaled rows (measured best on 200,000 x 100).
HESSIAN_BLOCK_BYTES = 3 << 17


class LogisticState:
    """Everything at one theta that costs O(n): logits ``z``, softplus(z), p = sigmoid(z),
    and, filled when first needed, the curvature s p (1 - p) and the gradient.  When the
    logits came from the last point's H v products, ``step = (v, X~ v)`` is the step that
    led here, and ``step_product`` its H v at this point (computed with the gradient).

    ``tail = exp(-|z|)`` and ``head = 1 / (1 + tail)`` give all three without cancellation:
    softplus = max(z, 0) + log1p(tail), p = head (z >= 0) or tail * head (z < 0), and
    p (1 - p) = tail * head^2, finite for any |z|.
    """

    __slots__ = ("z", "softplus", "p", "tail", "head", "curvature", "gradient", "step",
                 "step_product")

    def __init__(self, n):
        self.z, self.softplus, self.p = np.empty(n), np.empty(n), np.empty(n)
        self.tail, self.head = np.empty(n), np.empty(n)
        self.curvature = self.gradient = self.step = self.step_product = None

    @classmethod
    def at_zero(cls, n):
        """The state at z = 0 (the usual start): constants, no pass and no exp."""
        state = cls(0)
        state.z, state.softplus = np.zeros(n), np.full(n, np.log(2.0))
        state.p, state.tail, state.head = np.full(n, 0.5), np.ones(n), np.full(n, 0.5)
        return state

    @classmethod
    def from_logits(cls, z):
        """The state for logits already known (no pass over X)."""
        state = cls(len(z))
        state.z[:] = z
        fill_link(state, slice(None))
        return state


def fill_link(state, rows):
    """softplus, p, tail and head of ``state`` on ``rows`` from its logits there."""
    z, tail, head = state.z[rows], state.tail[rows], state.head[rows]
    np.abs(z, out=tail)
    np.negative(tail, out=tail)
    np.exp(tail, out=tail)  # e^{-|z|} in (0, 1]: no overflow
    softplus = state.softplus[rows]
    np.log1p(tail, out=softplus)
    softplus += np.maximum(z, 0.0)  # log(1 + e^z) = max(z, 0) + log1p(e^{-|z|})
    np.add(tail, 1.0, out=head)
    np.reciprocal(head, out=head)  # sigmoid(|z|)
    p = state.p[rows]
    np.greater_equal(z, 0.0, out=p)  # 1.0 where z >= 0: no branch per element
    np.maximum(p, tail, out=p)  # e^{min(z, 0)}
    p *= head  # sigmoid(z) = e^{min(z, 0)} / (1 + e^{-|z|})


def logits_and_gradient(objective, theta):
    """The state at theta with its gradient, from one pass over X in blocks of rows."""
    X, sw, wy = objective.X, objective.sample_weight, objective._weighted_y
    w, b = objective.split(theta)
    n, d = X.shape
    state = LogisticState(n)
    residual, grad_w = np.empty(n), np.zeros(d)
    block = max(1024, PASS_BLOCK_BYTES // (8 * max(d, 1)))
    for start in range(0, n, block):
        rows = slice(start, start + block)
        np.dot(X[rows], w, out=state.z[rows])
        state.z[rows] += b
        fill_link(state, rows)
        r = residual[rows]
        np.multiply(sw[rows], state.p[rows], out=r)
        r -= wy[rows]
        grad_w += X[rows].T @ r
    state.gradient = objective.finish_gradient(grad_w, residual, w)
    return state


def curvature(objective, state):
    """s p (1 - p) = s tail head^2, once per state."""
    if state.curvature is None:
        c = state.tail * state.head
        c *= state.head
        c *= objective.sample_weight
        state.curvature = c
    return state.curvature


def hessian(objective, state, theta):
    """``X~^T diag(c) X~ + alpha I_w``, and the gradient at theta if ``state`` lacks it.

    Each block of sqrt(c)-scaled feature rows stays in cache for its syrk (NumPy's
    ``A.T @ A`` on one buffer); the intercept row and corner come from the same block by
    a matrix-vector product, so the syrk runs on d aligned columns instead of d + 1.
    """
    X = objective.X
    c = curvature(objective, state)
    root = np.sqrt(c)
    n, d = X.shape
    block = max(1024, min(n, HESSIAN_BLOCK_BYTES // (8 * max(d, 1))))
    buffer = objective.row_buffer(block)
    gram, side = np.zeros((d, d)), np.zeros(d)
    residual = grad_w = None
    if state.gradient is None:
        residual = objective.sample_weight * state.p - objective._weighted_y
        grad_w = np.zeros(d)
    for start in range(0, n, block):
        stop = min(n, start + block)
        rows = buffer[: stop - start]
        np.multiply(X[start:stop], root[start:stop, None], out=rows)
        gram += rows.T @ rows
        if objective.fit_intercept:
            side += root[start:stop] @ rows
        if grad_w is not None:
            grad_w += X[start:stop].T @ residual[start:stop]
    if grad_w is not None:
        state.gradient = objective.finish_gradient(grad_w, residual, objective.split(theta)[0])
    gram.flat[:: d + 1] += objective.alpha
    if not objective.fit_intercept:
        return gram
    H = np.empty((d + 1, d + 1))
    H[:d, :d], H[:d, d], H[d, :d], H[d, d] = gram, side, side, c.sum()
    return H


def gradient_and_step_product(objective, state, theta):
    """Fill ``state.gradient`` and ``state.step_product`` = H v for ``state.step = (v, X~ v)``
    in one pass over X: both are X^T times an n-vector, computed block by block while
    the block is in cache (~1.5 passes' time instead of 2).  A Newton step is usually
    close to the one before it, so H v lets the next solve start from the best multiple
    of v (see :func:`~nablanet.optim.newton.pcg_direction`)."""
    X = objective.X
    v, u = state.step
    c = curvature(objective, state)
    residual = objective.sample_weight * state.p - objective._weighted_y
    weighted = c * u
    n, d = X.shape
    grad_w, hv_w = np.zeros(d), np.zeros(d)
    block = max(256, PAIR_BLOCK_BYTES // (8 * max(d, 1)))
    for start in range(0, n, block):
        rows = X[start:start + block]
        grad_w += rows.T @ residual[start:start + block]
        hv_w += rows.T @ weighted[start:start + block]
    state.gradient = objective.finish_gradient(grad_w, residual, objective.split(theta)[0])
    v_w = objective.split(v)[0]
    hv_w += objective.alpha * v_w
    state.step_product = np.append(hv_w, weighted.sum()) if objective.fit_intercept else hv_w
