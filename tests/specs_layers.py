"""Gradient-check specs for the layer and loss primitives (issue 3).

``LAYER_SPECS[name](rng) -> (fun, args)``: ``check_grads(fun, args, order=2)``
must pass, in float64.  Keys are the names under which the primitives are
registered in ``nablanet.autodiff.REGISTRY``.
"""

import numpy as np

from nablanet import ops


def _sigmoid(rng):
    return ops.sigmoid, [rng.standard_normal((3, 4)) * 3]


def _softplus(rng):
    return ops.softplus, [rng.standard_normal((3, 4)) * 3]


def _log_sigmoid(rng):
    return ops.log_sigmoid, [rng.standard_normal((3, 4)) * 3]


def _away_from_zero(rng, shape):
    x = rng.standard_normal(shape)
    return x + np.sign(x) * 0.1


def _relu(rng):
    return ops.relu, [_away_from_zero(rng, (3, 4))]


def _leaky_relu(rng):
    return (lambda x: ops.leaky_relu(x, 0.1)), [_away_from_zero(rng, (3, 4))]


def _softmax(rng):
    return (lambda x: ops.softmax(x, axis=0)), [rng.standard_normal((4, 3))]


def _log_softmax(rng):
    return ops.log_softmax, [rng.standard_normal((3, 4))]


def _bce_logits(rng):
    z = rng.standard_normal((5, 2)) * 2
    y = rng.uniform(size=(5, 2))
    return (lambda z, y: ops.binary_cross_entropy_with_logits(z, y, "sum")), [z, y]


def _bce_logits_weighted(rng):
    z = rng.standard_normal((5, 2)) * 2
    y = rng.uniform(size=(5, 2))
    w = rng.uniform(0.5, 2.0, 2)  # one per class, broadcast over the rows
    return (lambda z, y, w: ops.binary_cross_entropy_with_logits(z, y, "sum", pos_weight=w)), [
        z, y, w]


def _bce(rng):
    p = rng.uniform(0.1, 0.9, size=(5, 2))
    y = rng.uniform(size=(5, 2))
    return ops.binary_cross_entropy, [p, y]


def _softmax_ce(rng):
    z = rng.standard_normal((4, 3))
    y = rng.dirichlet(np.ones(3), size=4)
    return (lambda z, y: ops.cross_entropy(z, y, reduction="sum")), [z, y]


def _softmax_ce_index(rng):
    z = rng.standard_normal((5, 3))
    labels = np.array([0, 2, 1, 2, 0])
    return (lambda z: ops.cross_entropy(z, labels)), [z]


def _batch_norm(rng):
    x = rng.standard_normal((6, 3))
    w = rng.standard_normal(3)
    b = rng.standard_normal(3)
    return (lambda x, w, b: ops.batch_norm(x, None, None, w, b, training=True)), [x, w, b]


def _linear(rng):
    x = rng.standard_normal((4, 3))
    w = rng.standard_normal((2, 3))
    b = rng.standard_normal(2)
    return ops.linear, [x, w, b]


LAYER_SPECS = {
    "sigmoid": _sigmoid,
    "softplus": _softplus,
    "log_sigmoid": _log_sigmoid,
    "relu": _relu,
    "leaky_relu": _leaky_relu,
    "softmax": _softmax,
    "log_softmax": _log_softmax,
    "binary_cross_entropy_with_logits": _bce_logits,
    "binary_cross_entropy_with_logits_weighted": _bce_logits_weighted,
    "binary_cross_entropy": _bce,
    "softmax_cross_entropy": _softmax_ce,
    "softmax_cross_entropy_index": _softmax_ce_index,
    "batch_norm": _batch_norm,
    "linear": _linear,
}
