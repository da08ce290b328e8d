"""Gradient-check specs for the primitives of ``nablanet.ops.nn_extra`` (issue 17).

``NON_DIFFERENTIABLE[name](rng) -> (fun, [x])``: ``fun(x)`` has the shape of ``x`` and records
nothing (the registry walk checks that its gradient and Jacobian are zero).

``NN_EXTRA_SPECS[name](rng) -> (fun, args)``: ``check_grads(fun, args, order=2)`` must
pass in float64.  Keys are the names under which the primitives are registered.
Inputs stay away from ELU's kink at 0 (its second derivative jumps there).
"""

import numpy as np

import nablanet as nb
from nablanet.autodiff import REGISTRY
from nablanet.autodiff.tensor import raw
from nablanet.ops import nn_extra


def _spread(rng, shape, scale=2.0):
    x = scale * rng.standard_normal(shape)
    return x + np.sign(x) * 0.1  # away from 0


def _gelu(approximate):
    return lambda rng: ((lambda x: nn_extra.gelu(x, approximate)), [_spread(rng, (3, 4))])


def _gelu_slope(rng):
    slope = REGISTRY["gelu_slope"]
    x = _spread(rng, (3, 4))
    return (lambda x: slope(x, approximate="none") * slope(x, approximate="tanh")), [x]


def _elu(rng):
    return (lambda x: nn_extra.elu(x, 0.7)), [_spread(rng, (3, 4))]


def _elu_slope(rng):
    return (lambda x: REGISTRY["elu_slope"](x, alpha=1.3)), [_spread(rng, (3, 4))]


def _layer_norm(rng):
    x = rng.standard_normal((3, 2, 4))
    w, b = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    return (lambda x, w, b: nn_extra.layer_norm(x, (2, 4), w, b, eps=1e-3) ** 2), [x, w, b]


def _layer_norm_statistics(rng):
    # xhat of the plain values (the primitive returns a pair, so it takes arrays, as
    # layer_norm passes them); its values are checked in test_nn_extra_ops.py
    stats = REGISTRY["layer_norm_statistics"]
    return (lambda x: nb.Tensor(stats(np.asarray(raw(x)), (-1,), 1e-5)[1])), [
        rng.standard_normal((3, 4))]


def _embedding_keep_mask(rng):
    # 1 where an index is not the padding one (0 here); x plays the indices
    keep = REGISTRY["embedding_keep_mask"]
    return (lambda x: keep(x, 0.0)[..., 0]), [np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 3.0]])]


def _embedding(rng):
    indices = np.array([[0, 2, 2], [3, 0, 1]])
    # no padding_idx: its row is frozen by design, so not the derivative (see the torch twin)
    return (lambda w: nn_extra.embedding(indices, w) ** 2), [
        rng.standard_normal((4, 3))]


def _huber(rng):
    from nablanet.ops.losses_extra import huber_loss

    x, y = rng.standard_normal((3, 4)) * 2, rng.standard_normal((3, 4))
    # away from the kinks |x - y| = delta, where the second derivative jumps
    d = x - y
    x = np.where(np.abs(np.abs(d) - 0.8) < 0.1, y + np.sign(d) * 1.2, x)
    return (lambda x, y: huber_loss(x, y, "none", delta=0.8) ** 2), [x, y]


NN_EXTRA_SPECS = {
    "embedding": _embedding,
    "huber": _huber,
    "layer_norm": _layer_norm,
    "gelu": _gelu("none"),
    "gelu_slope": _gelu_slope,
    "elu": _elu,
    "elu_slope": _elu_slope,
    "silu": lambda rng: (nn_extra.silu, [_spread(rng, (3, 4), 3.0)]),
    "silu_slope": lambda rng: (REGISTRY["silu_slope"], [_spread(rng, (3, 4), 3.0)]),
}

#: The tanh form of GELU, checked as well (same primitive, other branch).
EXTRA_CASES = {"gelu_tanh": _gelu("tanh")}

#: Non-differentiable primitives (a layer's statistics), with an input for each.
NON_DIFFERENTIABLE = {
    "layer_norm_statistics": _layer_norm_statistics,
    "embedding_keep_mask": _embedding_keep_mask,
}
