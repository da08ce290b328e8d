"""Gradient-check specs for the primitives of ``nablanet.ops.nn_extra`` (issue 17).

``NN_EXTRA_SPECS[name](rng) -> (fun, args)``: ``check_grads(fun, args, order=2)`` must
pass in float64.  Keys are the names under which the primitives are registered.
Inputs stay away from ELU's kink at 0 (its second derivative jumps there).
"""

import numpy as np

from nablanet.autodiff import REGISTRY
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
    stats = REGISTRY["layer_norm_statistics"]
    return (lambda x: stats(x, (-1,), 1e-5)[1]), [rng.standard_normal((3, 4))]


def _embedding(rng):
    indices = np.array([[0, 2, 2], [3, 0, 1]])
    # no padding_idx: its row is frozen by design, so not the derivative (see the torch twin)
    return (lambda w: nn_extra.embedding(indices, w) ** 2), [
        rng.standard_normal((4, 3))]


NN_EXTRA_SPECS = {
    "embedding": _embedding,
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
    "embedding_keep_mask": lambda rng: (
        lambda x: REGISTRY["embedding_keep_mask"](np.array([0, 1, 2]), 1) * x,
        [rng.standard_normal((3, 1))]),
}
