"""Reductions (sum, mean, max, min, logsumexp) and their VJPs.

A reduction's cotangent is spread back over the reduced axes: it is reshaped
to the kept-dimensions shape, then broadcast.  Axes are normalised to
negative indices so that leading batch axes of the cotangent pass through.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.array_utils import normalize_axis_tuple

from nablanet.autodiff.primitive import Primitive
from nablanet.autodiff.tensor import raw, shape_of
from nablanet.ops.arithmetic import exp, where
from nablanet.ops.shape import broadcast_to, reshape


def _axes(axis, ndim):
    """Reduced axes as a sorted tuple of non-negative ints.

    Any integer type (``np.int64(0)``) is an axis; one out of range or repeated raises
    NumPy's ``AxisError`` / ``ValueError``.
    """
    if axis is None:
        return tuple(range(ndim))
    return tuple(sorted(normalize_axis_tuple(axis, ndim)))


def _kept_shape(shape, axis):
    axes = _axes(axis, len(shape))
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _reduced_ndim(x_shape, axis):
    return len(x_shape) - len(_axes(axis, len(x_shape)))


def _spread(g, x_shape, axis, keepdims):
    """Cotangent of a reduction, broadcast back to ``batch_shape + x_shape``."""
    gshape = shape_of(g)
    kept = _kept_shape(x_shape, axis)
    out_ndim = len(kept) if keepdims else _reduced_ndim(x_shape, axis)
    n_batch = len(gshape) - out_ndim
    g = reshape(g, gshape[:n_batch] + kept)
    return broadcast_to(g, gshape[:n_batch] + tuple(x_shape))


#: Above this many elements a float32/float16 sum accumulates in float64: NumPy sums a
#: non-contiguous axis (the rows of a batch) sequentially, with an error growing with N.
_WIDE_ACCUMULATION_SIZE = 1 << 16


def accurate_sum(x, axis=None, keepdims=False):
    """``np.add.reduce`` of an ndarray, accumulated in float64 for large low-precision input.

    The sequential sum of 2M float32 rows offset by 100 is off by more than a standard
    deviation; accumulated in float64 it is exact to float32's rounding.
    """
    if x.size > _WIDE_ACCUMULATION_SIZE and x.itemsize < 8 and x.dtype.kind == "f":
        return np.add.reduce(x, axis=axis, keepdims=keepdims, dtype=np.float64).astype(x.dtype)
    return np.add.reduce(x, axis=axis, keepdims=keepdims)


def _sum_impl(x, axis=None, keepdims=False):
    if type(x) is np.ndarray:  # the ufunc method directly: np.sum's dispatch costs ~3 us
        if x.size > _WIDE_ACCUMULATION_SIZE:  # (one comparison on the common path)
            return accurate_sum(x, axis=axis, keepdims=keepdims)
        return np.add.reduce(x, axis=axis, keepdims=keepdims)
    return np.sum(x, axis=axis, keepdims=keepdims)


sum = Primitive("sum", _sum_impl, preserves_dtype=True)  # noqa: A001 - mirrors numpy.sum
# d sum(x) / dx_i = 1: the cotangent is copied to every summed element
sum.defvjp(lambda g, ans, x, axis=None, keepdims=False: _spread(g, shape_of(x), axis, keepdims))


def mean(x, axis=None, keepdims=False):
    """Arithmetic mean over ``axis`` (a sum divided by the count, so it differentiates)."""
    shape = shape_of(x)
    count = int(np.prod([shape[a] for a in _axes(axis, len(shape))]))
    return sum(x, axis=axis, keepdims=keepdims) / count


def _extreme_share_impl(x, ans, axis=None):
    # 1/k at the k entries equal to the extreme of their slice, 0 elsewhere
    x = np.asarray(x)
    hit = x == np.reshape(ans, _kept_shape(x.shape, axis))
    share = hit / np.sum(hit, axis=_axes(axis, x.ndim), keepdims=True)
    return share.astype(x.dtype)


# a primitive (not differentiated), so that a replayed backward pass recomputes it
_extreme_share = Primitive("extreme_share", _extreme_share_impl, differentiable=False)


def _extreme_rule(g, ans, x, axis=None, keepdims=False):
    # d max(x) / dx_i = 1/k for the k elements equal to the max (PyTorch's amax)
    return _spread(g, tuple(shape_of(x)), axis, keepdims) * _extreme_share(x, ans, axis=axis)


def _max_impl(x, axis=None, keepdims=False):
    return np.max(x, axis=axis, keepdims=keepdims)


def _min_impl(x, axis=None, keepdims=False):
    return np.min(x, axis=axis, keepdims=keepdims)


max = Primitive("max", _max_impl, preserves_dtype=True)  # noqa: A001 - mirrors numpy.max
max.defvjp(_extreme_rule)
min = Primitive("min", _min_impl, preserves_dtype=True)  # noqa: A001 - mirrors numpy.min
min.defvjp(_extreme_rule)


def _logsumexp_impl(x, axis=None, keepdims=False):
    x = np.asarray(x)
    axes = _axes(axis, x.ndim)  # validated here: an empty sum's log is -inf, not an error
    shift = np.maximum.reduce(x, axis=axes, keepdims=True, initial=-np.inf)
    shift = np.where(np.isfinite(shift), shift, 0)
    with np.errstate(divide="ignore"):  # all entries -inf: the log-sum-exp is -inf
        out = np.log(np.sum(np.exp(x - shift), axis=axes, keepdims=True)) + shift
    if not keepdims:
        out = np.squeeze(out, axis=axes)
    return out


def _logsumexp_rule(g, ans, x, axis=None, keepdims=False):
    # d logsumexp(x) / dx_i = softmax(x)_i
    shape = shape_of(x)
    kept = _kept_shape(shape, axis)
    probs = exp(x - reshape(ans, kept))
    if np.isposinf(raw(ans)).any():
        # a slice holding +inf: softmax's limit, uniform over its +inf entries (exp(inf - inf)
        # is NaN); a replayed backward pass keeps the branch it was recorded with
        probs = where(_at_infinity(x, ans, axis=axis), _infinite_share(x, ans, axis=axis), probs)
    return _spread(g, shape, axis, keepdims) * probs


def _at_infinity_impl(x, ans, axis=None):
    x = np.asarray(x)
    return np.broadcast_to(np.isposinf(np.reshape(ans, _kept_shape(x.shape, axis))), x.shape)


def _infinite_share_impl(x, ans, axis=None):
    x = np.asarray(x)
    hit = np.isposinf(x)
    count = np.maximum(np.sum(hit, axis=_axes(axis, x.ndim), keepdims=True), 1)
    return (hit / count).astype(x.dtype)


# masks of the rule above, primitives (not differentiated) so that a replay recomputes them
_at_infinity = Primitive("logsumexp_at_infinity", _at_infinity_impl, differentiable=False)
_infinite_share = Primitive("logsumexp_infinite_share", _infinite_share_impl,
                            differentiable=False)


logsumexp = Primitive("logsumexp", _logsumexp_impl)
logsumexp.defvjp(_logsumexp_rule)

