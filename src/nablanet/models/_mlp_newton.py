"""Full-batch Newton-CG training of the MLP: one truncated Newton step per epoch.

The network's parameters are flattened into one vector ``theta``; the loss of
``theta`` is the network run functionally (Linear, batch norm on the full
batch, activations) with dropout left out, because a line search needs a
deterministic objective.  Hessian-vector products come from the engine
(``nablanet.hvp``: a gradient recorded and differentiated again; with ``replay=True``,
so an epoch's CG products after the first two replay the recorded graph).
"""

from __future__ import annotations

import warnings

import numpy as np

_NOISE_LAYERS = ("Dropout", "GaussianDropout")


def _layer_parameters(layer):
    return [p for _, p in layer.named_parameters()] if hasattr(layer, "named_parameters") else []


def _flat(net):
    return np.concatenate([np.asarray(p.data, dtype=np.float64).ravel() for p in net.parameters()])


def _functional_loss(net, X, y_index):
    """``theta -> mean cross-entropy`` of ``net`` with its parameters taken from theta."""
    from nablanet.nn.functional import batch_norm, cross_entropy, linear
    from nablanet.ops import reshape

    layers = list(net)
    shapes = [[p.shape for p in _layer_parameters(layer)] for layer in layers]

    def loss(theta):
        h, start = X, 0
        for layer, layer_shapes in zip(layers, shapes):
            params = []
            for shape in layer_shapes:
                size = int(np.prod(shape))
                params.append(reshape(theta[start:start + size], shape))
                start += size
            kind = type(layer).__name__
            if kind == "Linear":
                h = linear(h, *params)
            elif kind == "BatchNorm1d":
                h = batch_norm(h, None, None, *params, training=True, eps=layer.eps)
            elif kind not in _NOISE_LAYERS:
                h = layer(h)
        return cross_entropy(h, y_index)

    return loss


def _load_flat(net, theta):
    start = 0
    for p in net.parameters():
        size = p.data.size
        p._set_data(theta[start:start + size].reshape(p.shape).astype(p.data.dtype))
        start += size


def _set_running_statistics(net, X):
    """Running statistics = full-batch statistics (the batch the objective normalises with)."""
    from nablanet.nn.functional import batch_norm

    h = X
    for layer in net:
        kind = type(layer).__name__
        if kind == "BatchNorm1d" and layer.running_mean is not None:
            # momentum 1: the running statistics become this batch's, in the same pass
            weight = layer.weight.data if layer.weight is not None else None
            bias = layer.bias.data if layer.bias is not None else None
            h = batch_norm(h, layer.running_mean, layer.running_var, weight, bias,
                           training=True, momentum=1.0, eps=layer.eps)
            h = np.asarray(getattr(h, "data", h))
        elif kind not in _NOISE_LAYERS:
            out = layer(h)
            h = np.asarray(getattr(out, "data", out))


def newton_cg_epoch(est, X, y_index):
    """One Newton-CG step on the full batch; returns the loss before the step."""
    import nablanet as nb
    from nablanet.optim import ConvergenceWarning, newton_cg

    net = est.network_
    X64 = np.asarray(X, dtype=np.float64)
    loss = _functional_loss(net, X64, y_index)
    value_and_grad = nb.value_and_grad(loss)

    def grad(theta):
        return value_and_grad(theta)[1]

    hvp = nb.hvp(loss, replay=True)  # one graph per epoch, many products: replayed
    theta0 = _flat(net)
    before = float(loss(theta0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # one step per epoch by design
        result = newton_cg(lambda t: float(loss(t)), theta0, grad=grad, hvp=hvp, max_iter=1,
                           tol=1e-10)
    _load_flat(net, result.x)
    with nb.no_grad():
        _set_running_statistics(net, X.astype(net[0].weight.data.dtype, copy=False))
    return before
