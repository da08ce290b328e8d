"""Hessian-free training of the MLP: one Gauss-Newton-CG step (Martens 2010) per epoch.

The objective is the full-batch mean cross-entropy with dropout off (backtracking and
the reduction ratio need a deterministic objective) and, when the network has batch
norm, the full batch's statistics (``batch_norm='train'`` in
:func:`nablanet.curvature.operator`); the running statistics are set to the full
batch's after each step, as for Newton-CG.  Curvature products are the GGN's
(``J^T (diag(p) - p p^T) J / N``), computed in float64 whatever the network's dtype.
The optimiser and its damping live on the estimator between epochs.
"""

from __future__ import annotations

import numpy as np

#: Initial Levenberg-Marquardt damping of the mean cross-entropy's GGN.
INITIAL_DAMPING = 1.0
#: CG iterations per step at most (Martens used 250 on deep autoencoders; a few dozen
#: suffice for a one-hidden-layer network on digits).
MAX_CG_ITER = 100


def _optimizer(est):
    from nablanet.optim import HessianFree

    state = est.__dict__.get("_hessian_free")
    if state is None or state[0] is not est.network_:
        state = (est.network_, HessianFree(damping=INITIAL_DAMPING, max_cg_iter=MAX_CG_ITER))
        est.__dict__["_hessian_free"] = state
    return state[1]


def hessian_free_epoch(est, X, y_index):
    """One Hessian-free step on the full batch; returns the loss before the step."""
    import nablanet as nb
    from nablanet import curvature
    from nablanet.models._mlp_newton import _load_flat, _set_running_statistics
    from nablanet.nn import CrossEntropyLoss

    net = est.network_
    has_bn = any(type(m).__name__ == "BatchNorm1d" for m in net.modules())
    op = curvature.operator(net, CrossEntropyLoss(), np.asarray(X, dtype=np.float64), y_index,
                            kind="ggn", batch_norm="train" if has_bn else "eval", cache=True)
    loss, gradient = op.loss_and_gradient()
    step = _optimizer(est).step(op.theta, op.loss_at, gradient, op.matvec, loss_value=loss)
    _load_flat(net, step.x)
    if has_bn:
        with nb.no_grad():
            _set_running_statistics(net, X.astype(net[0].weight.data.dtype, copy=False))
    return loss
