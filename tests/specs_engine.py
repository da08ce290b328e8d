"""Gradient-check specs for the engine's primitives (issue 2).

``ENGINE_SPECS[name](rng) -> (fun, args)``: ``check_grads(fun, args, order=2)``
must pass in float64.  Keys are the names under which the primitives are
registered in ``nablanet.autodiff.REGISTRY``; ``test_ops_registry.py`` fails for
a registered primitive that has no spec here or in ``specs_layers.py``.

Inputs stay away from kinks and ties (abs at 0, max with equal entries) where
the derivative is not defined.  ``NON_DIFFERENTIABLE`` lists primitives whose
derivative is zero almost everywhere: they are checked to record nothing.
"""

import numpy as np

import nablanet as nb
from nablanet.ops import activations as ACT
from nablanet.ops import arithmetic as A
from nablanet.ops import reductions as R
from nablanet.ops import shape as S
from nablanet.ops import tensor_methods


def _away_from(x, points, gap=0.2):
    """Move entries of ``x`` at least ``gap`` away from each value in ``points``."""
    x = np.array(x, dtype=float)
    for p in points:
        close = np.abs(x - p) < gap
        x[close] = p + gap * np.where(x[close] >= p, 1.0, -1.0)
    return x


def _distinct(rng, shape):
    """Values with no ties (max/min are differentiable there)."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.37 + rng.uniform(0, 0.1, n)).reshape(shape) - n * 0.18


def _unary(op, make_input):
    return lambda rng: (op, [make_input(rng)])


def _normal(shape, scale=1.0):
    return lambda rng: scale * rng.standard_normal(shape)


def _positive(shape, low=0.3, high=2.0):
    return lambda rng: rng.uniform(low, high, shape)


# -- elementwise ----------------------------------------------------------------------
def _identity(rng):
    from nablanet.ops.arithmetic import identity

    return identity, [rng.standard_normal((2, 3))]


def _binary(op, y_low=None):
    """A binary op with broadcasting both ways: x (3, 1, 4) against y (2, 1)."""

    def make(rng):
        x = rng.standard_normal((3, 1, 4))
        y = rng.standard_normal((2, 1)) if y_low is None else rng.uniform(y_low, 2.0, (2, 1))
        return op, [x, y]

    return make


def _power(rng):
    base = rng.uniform(0.5, 2.0, (3, 4))
    exponent = rng.uniform(-1.5, 2.5, (4,))
    return nb.power, [base, exponent]


def _maximum(op):
    def make(rng):
        x = _distinct(rng, (3, 4))
        y = _distinct(rng, (4,)) + 0.05  # never equal to an entry of x
        return op, [x, y]

    return make


def _where(rng):
    condition = rng.uniform(size=(3, 4)) > 0.5
    x = rng.standard_normal((3, 4))
    y = rng.standard_normal((4,))
    return (lambda x, y: nb.where(condition, x, y)), [x, y]


def _clip(rng):
    x = _away_from(rng.uniform(-2, 2, (3, 5)), [-0.5, 0.7])
    return (lambda x: nb.clip(x, -0.5, 0.7)), [x]


def _abs(rng):
    return nb.abs, [_away_from(rng.standard_normal((3, 4)), [0.0])]


def _cast(rng):
    # float64 -> float64 exercises the rule; float32 round trips are in test_autodiff_tensor
    return (lambda x: tensor_methods._cast(x, np.dtype(np.float64)) * x), [
        rng.standard_normal((2, 3))
    ]


# -- reductions -----------------------------------------------------------------------
def _sum(rng):
    x = rng.standard_normal((2, 3, 4))
    return (lambda x: nb.sum(x, axis=(0, 2), keepdims=True) ** 2 + nb.sum(x)), [x]


def _extreme(op):
    def make(rng):
        x = _distinct(rng, (3, 4, 2))
        return (lambda x: op(x, axis=1) * op(x, axis=(0, 2), keepdims=True).sum() + op(x)), [x]

    return make


def _logsumexp(rng):
    x = rng.standard_normal((3, 4))
    return (lambda x: nb.logsumexp(x, axis=1) + nb.logsumexp(x, axis=0, keepdims=True).sum()), [x]


# -- shapes ---------------------------------------------------------------------------
def _reshape(rng):
    return (lambda x: nb.reshape(x, (4, 3)) ** 2), [rng.standard_normal((2, 6))]


def _transpose(rng):
    return (lambda x: nb.transpose(x, (2, 0, 1)) ** 2), [rng.standard_normal((2, 3, 4))]


def _broadcast_to(rng):
    return (lambda x: nb.broadcast_to(x, (2, 3, 4)) ** 2), [rng.standard_normal((3, 1))]


def _getitem(rng):
    rows = np.array([0, 2, 2])
    cols = np.array([[1, 3], [0, 0]])

    def fun(x):
        basic = nb.take(x, (slice(1, None), Ellipsis, 0))
        fancy = nb.take(x, (rows, slice(None), 1))  # non-adjacent: advanced axes first
        repeated = nb.take(x, (Ellipsis, cols))
        return basic.sum() * fancy ** 2 + repeated.sum() ** 2

    return fun, [rng.standard_normal((3, 2, 4))]


def _index_add(rng):
    index = (np.array([0, 1, 1]), slice(None))
    return (lambda v: S.index_add(v, index, (3, 2), 0) ** 2), [rng.standard_normal((3, 2))]


def _take_along_axis(rng):
    indices = np.array([[0, 2, 2], [1, 1, 0]])
    return (lambda x: nb.take_along_axis(x, indices, axis=1) ** 2), [rng.standard_normal((2, 3))]


def _scatter_along_axis(rng):
    indices = np.array([[0, 2, 2], [1, 1, 0]])

    def fun(v):
        return S.scatter_along_axis(v, indices, 1, (2, 4)) ** 2

    return fun, [rng.standard_normal((2, 3))]


def _concatenate(rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 1))
    return (lambda a, b: nb.concatenate([a, b * a[:, :1]], axis=-1) ** 2), [a, b]


def _stack(rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    return (lambda a, b: nb.stack([a, a * b], axis=1) ** 2), [a, b]


def _diagonal(rng):
    return (lambda x: nb.diagonal(x, 1, 0, 2) ** 2), [rng.standard_normal((3, 2, 4))]


def _diagonal_scatter(rng):
    return (lambda v: S.diagonal_scatter(v, -1, -2, -1, (4, 3)) ** 2), [rng.standard_normal(3)]


# -- linear algebra -------------------------------------------------------------------
def _matmul(rng):
    a = rng.standard_normal((2, 3, 4))
    b = rng.standard_normal((4, 2))
    v = rng.standard_normal(3)
    return (lambda a, b, v: (v @ (a @ b)) ** 2), [a, b, v]


ENGINE_SPECS = {
    "identity": _identity,
    "add": _binary(nb.add),
    "subtract": _binary(nb.subtract),
    "multiply": _binary(nb.multiply),
    "divide": _binary(nb.divide, y_low=0.5),
    "negative": _unary(nb.negative, _normal((3, 4))),
    "power": _power,
    "exp": _unary(nb.exp, _normal((3, 4))),
    "log": _unary(nb.log, _positive((3, 4))),
    "log1p": _unary(nb.log1p, _positive((3, 4), -0.5, 2.0)),
    "expm1": _unary(nb.expm1, _normal((3, 4))),
    "sqrt": _unary(nb.sqrt, _positive((3, 4))),
    "tanh": _unary(nb.tanh, _normal((3, 4), 1.5)),
    "abs": _abs,
    "maximum": _maximum(nb.maximum),
    "minimum": _maximum(nb.minimum),
    "where": _where,
    "clip": _clip,
    "cast": _cast,
    "sum": _sum,
    "max": _extreme(nb.max),
    "min": _extreme(nb.min),
    "logsumexp": _logsumexp,
    "reshape": _reshape,
    "transpose": _transpose,
    "broadcast_to": _broadcast_to,
    "getitem": _getitem,
    "index_add": _index_add,
    "take_along_axis": _take_along_axis,
    "scatter_along_axis": _scatter_along_axis,
    "concatenate": _concatenate,
    "stack": _stack,
    "diagonal": _diagonal,
    "diagonal_scatter": _diagonal_scatter,
    "matmul": _matmul,
}

#: Primitives with a zero derivative almost everywhere, and an input for each.
NON_DIFFERENTIABLE = {
    "sign": lambda rng: (nb.sign, [rng.standard_normal((3, 4))]),
    # the masks of backward rules, primitives so that a replayed backward pass recomputes
    # them; each as a function of one float array of the output's shape
    "compare": lambda rng: (lambda x: A.compare(x, 0.0, op=np.greater),
                            [rng.standard_normal((3, 4))]),
    "positive_mask": lambda rng: (ACT._positive, [rng.standard_normal((3, 4))]),
    "leaky_relu_slope": lambda rng: (lambda x: ACT._leaky_slope(x, 0.1),
                                     [rng.standard_normal((3, 4))]),
    "tie_split": lambda rng: (lambda x: A._tie_split(x, np.full((3, 4), 0.1)),
                              [rng.standard_normal((3, 4))]),
    "where_branch_mask": lambda rng: (lambda x: A._branch_mask(x, False),
                                      [rng.standard_normal((3, 4))]),
    "clip_inside": lambda rng: (lambda x: A._clip_inside(x, -0.5, 0.5, (3, 4)),
                                [rng.standard_normal((3, 4))]),
    "power_zero_base": lambda rng: (lambda x: A._zero_base_limit(x, np.full((3, 4), 0.5)),
                                    [_away_from(rng.standard_normal((3, 4)), [0.0])]),
    "logsumexp_at_infinity": lambda rng: (
        lambda x: R._at_infinity(x, np.array([np.inf, 0.0, 1.0]), axis=1),
        [rng.standard_normal((3, 4))]),
    "logsumexp_infinite_share": lambda rng: (
        lambda x: R._infinite_share(x, np.full(3, np.inf), axis=1),
        [np.where(rng.standard_normal((3, 4)) > 0, np.inf, 0.5)]),
    "extreme_share": lambda rng: (
        lambda x: R._extreme_share(x, np.max(nb.Tensor(x).data, axis=1), axis=1),
        [rng.standard_normal((3, 4))]),
}
