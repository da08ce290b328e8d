"""Activation functions as primitives, each with its derived VJP beside it.

Every forward is written to be stable for logits of any size (|z| up to 1e4
and beyond): exponentials only ever see non-positive arguments.  Every rule is
written with nablanet ops, so the backward pass can be differentiated again.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.array_utils import normalize_axis_index

from nablanet.autodiff.primitive import Primitive
from nablanet.autodiff.tensor import shape_of
from nablanet.ops.arithmetic import exp
from nablanet.ops.reductions import sum as reduce_sum


def _negative_axis(axis, x):
    """``axis`` (any integer type) as a negative int; NumPy's AxisError when out of range."""
    ndim = len(shape_of(x))
    return normalize_axis_index(axis, ndim) - ndim


def shift_by_max(x, axis):
    """``x - max(x)`` along ``axis``, the exponent of a stable softmax.

    In a slice holding ``+inf`` it is the limit instead of NaN: 0 at the ``+inf``
    entries and ``-inf`` elsewhere, so softmax is uniform over them (``[1, 0]`` for
    ``[inf, 0]``).  A slice of only ``-inf`` stays NaN (softmax has no limit there).
    An empty array stays empty (a float copy).
    """
    if x.size == 0:
        return x.astype(np.result_type(x.dtype, np.float64) if x.dtype.kind != "f" else x.dtype)
    top = np.maximum.reduce(x, axis=axis, keepdims=True)
    with np.errstate(over="ignore", invalid="ignore"):
        total = float(np.add.reduce(top, axis=None))
    if math.isfinite(total):
        # the common case, checked by one small reduction (a sum of huge finite maxima
        # that overflows only takes the exact path below, which agrees with this one)
        return np.subtract(x, top)
    with np.errstate(invalid="ignore"):  # inf - inf: replaced by the limit below
        shifted = np.subtract(x, top)
    limit = np.where(np.isposinf(x), 0.0, -np.inf).astype(x.dtype)
    return np.where(np.isposinf(top), limit, shifted)


# -- logistic family -------------------------------------------------------------------
def _sigmoid_impl(x):
    x = np.asarray(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


_sigmoid = Primitive("sigmoid", _sigmoid_impl)
# d sigma(z)/dz = sigma(z) (1 - sigma(z))  (C1)
_sigmoid.defvjp(lambda g, ans, x: g * (ans * (1 - ans)))


def _softplus_impl(x):
    x = np.asarray(x)
    return (np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))).astype(x.dtype, copy=False)


_softplus = Primitive("softplus", _softplus_impl)
# d log(1 + e^z)/dz = sigma(z)
_softplus.defvjp(lambda g, ans, x: g * _sigmoid(x))


def _log_sigmoid_impl(x):
    x = np.asarray(x)
    return (np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))).astype(x.dtype, copy=False)


_log_sigmoid = Primitive("log_sigmoid", _log_sigmoid_impl)
# d log sigma(z)/dz = 1 - sigma(z) = sigma(-z)  (C1)
_log_sigmoid.defvjp(lambda g, ans, x: g * _sigmoid(-x))


def sigmoid(x):
    """Logistic function ``1 / (1 + exp(-x))``, computed without overflow.

    Parameters
    ----------
    x : Tensor or array_like

    Returns
    -------
    Tensor or ndarray
        Same shape and dtype as ``x``, values in [0, 1].

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> nb.ops.sigmoid(np.array([0.0, 1e4, -1e4]))
    array([0.5, 1. , 0. ])
    """
    return _sigmoid(x)


def softplus(x):
    """``log(1 + exp(x))`` as ``max(x, 0) + log1p(exp(-|x|))``: finite for any finite x.

    Parameters
    ----------
    x : Tensor or array_like

    Returns
    -------
    Tensor or ndarray

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> nb.ops.softplus(np.array([0.0, 1e4]))
    array([6.93147181e-01, 1.00000000e+04])
    """
    return _softplus(x)


def log_sigmoid(x):
    """``log(sigmoid(x)) = -softplus(-x)``, never ``log(0)``.

    Parameters
    ----------
    x : Tensor or array_like

    Returns
    -------
    Tensor or ndarray

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> nb.ops.log_sigmoid(np.array([-1e4, 0.0]))
    array([-1.00000000e+04, -6.93147181e-01])
    """
    return _log_sigmoid(x)


# -- rectifiers --------------------------------------------------------------------------
def _relu_impl(x):
    return np.maximum(x, 0)


def _positive_impl(x):
    x = np.asarray(x)
    return (x > 0).astype(x.dtype)


# masks are primitives too (not differentiated): a recorded backward pass that is
# replayed (nablanet.autodiff.replay) recomputes them instead of freezing them
_positive = Primitive("positive_mask", _positive_impl, differentiable=False)


_relu = Primitive("relu", _relu_impl)
# d relu(z)/dz = [z > 0]  (0 at z = 0, as PyTorch)
_relu.defvjp(lambda g, ans, x: g * _positive(x))


def _leaky_relu_impl(x, negative_slope=0.01):
    x = np.asarray(x)
    if x.dtype.kind != "f":
        return np.where(x > 0, x, x * negative_slope).astype(x.dtype, copy=False)
    # max(x, s x) for s <= 1, min(x, s x) for s > 1: two passes, no np.where
    # (np.where on random signs is ~15x slower here: branch mispredictions)
    out = np.multiply(x, x.dtype.type(negative_slope), out=np.empty_like(x))
    extreme = np.maximum if negative_slope <= 1 else np.minimum
    return extreme(out, x, out=out)


def _leaky_slope_impl(x, negative_slope):
    """The constant 1 where x > 0, the slope s elsewhere, without np.where.

    ``[x > 0] (1 - s) + s`` in three passes when that rounds to exactly 1 in the dtype
    (it does for the usual slopes), else a table look-up (exact for any s, ~5x slower).
    """
    xv = np.asarray(x)
    dtype = xv.dtype if xv.dtype.kind == "f" else np.dtype(np.float64)
    positive = np.greater(xv, 0)
    slope, rest = dtype.type(negative_slope), dtype.type(1.0 - negative_slope)
    if rest + slope == 1:
        out = positive.astype(dtype)
        out *= rest
        out += slope
        return out
    return np.array([negative_slope, 1.0], dtype=dtype).take(positive.view(np.uint8))


_leaky_slope = Primitive("leaky_relu_slope", _leaky_slope_impl, differentiable=False)


_leaky_relu = Primitive("leaky_relu", _leaky_relu_impl)
# lrelu'(z) = 1 for z > 0, slope for z <= 0 (C3; slope at exactly 0, as PyTorch)
_leaky_relu.defvjp(lambda g, ans, x, negative_slope=0.01: g * _leaky_slope(x, negative_slope))


def _leaky_relu_inplace(g, ans, needs, x, negative_slope=0.01):
    # the same rule, g * lrelu'(z), written into g's buffer (first-order passes only)
    slope = _leaky_slope(x, negative_slope)
    if g.shape != slope.shape or g.dtype != slope.dtype:
        return None
    return (np.multiply(g, slope, out=g),)


_leaky_relu.defvjp_inplace(_leaky_relu_inplace)


def relu(x):
    """Rectified linear unit ``max(x, 0)``; its derivative at 0 is taken as 0 (PyTorch).

    Parameters
    ----------
    x : Tensor or array_like

    Returns
    -------
    Tensor or ndarray

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> nb.ops.relu(np.array([-2.0, 0.0, 3.0]))
    array([0., 0., 3.])
    """
    return _relu(x)


def leaky_relu(x, negative_slope=0.01):
    """``x`` for ``x > 0``, ``negative_slope * x`` otherwise.

    The derivative is 1 for ``x > 0`` and ``negative_slope`` for ``x <= 0``
    (at exactly 0 the slope, as PyTorch).  The notes' network uses slope 0.1.

    Parameters
    ----------
    x : Tensor or array_like
    negative_slope : float, default 0.01

    Returns
    -------
    Tensor or ndarray

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> nb.ops.leaky_relu(np.array([-2.0, 0.0, 3.0]), 0.1)
    array([-0.2,  0. ,  3. ])
    """
    return _leaky_relu(x, negative_slope=float(negative_slope))


# -- softmax family ----------------------------------------------------------------------
def _softmax_impl(x, axis=-1):
    # ufunc methods directly: np.max / np.sum add ~5 us of Python dispatch each
    e = shift_by_max(np.asarray(x), axis)
    np.exp(e, out=e)
    e /= np.add.reduce(e, axis=axis, keepdims=True)
    return e


def _softmax_rule(g, ans, x, axis=-1):
    # d p_k/d z_i = p_k (delta_ik - p_i)  =>  dL/dz = p * (g - <g, p>)  (C3)
    return ans * (g - reduce_sum(g * ans, axis=axis, keepdims=True))


_softmax = Primitive("softmax", _softmax_impl)
_softmax.defvjp(_softmax_rule)


def _log_softmax_impl(x, axis=-1):
    shifted = shift_by_max(np.asarray(x), axis)
    if shifted.size == 0:
        return shifted  # nothing to normalise (and no log of an empty sum)
    return shifted - np.log(np.add.reduce(np.exp(shifted), axis=axis, keepdims=True))


def _log_softmax_rule(g, ans, x, axis=-1):
    # d (z_k - lse(z))/d z_i = delta_ik - p_i  =>  dL/dz = g - p * sum(g)  (C7)
    return g - exp(ans) * reduce_sum(g, axis=axis, keepdims=True)


_log_softmax = Primitive("log_softmax", _log_softmax_impl)
_log_softmax.defvjp(_log_softmax_rule)


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis``, shifted by the max so it never overflows.

    Parameters
    ----------
    x : Tensor or array_like
    axis : int, default -1

    Returns
    -------
    Tensor or ndarray
        Non-negative, summing to 1 along ``axis``.

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> nb.ops.softmax(np.array([0.0, 1e4]))
    array([0., 1.])
    """
    return _softmax(x, axis=_negative_axis(axis, x))


def log_softmax(x, axis=-1):
    """``x - logsumexp(x)`` along ``axis``: finite wherever ``x`` is.

    Parameters
    ----------
    x : Tensor or array_like
    axis : int, default -1

    Returns
    -------
    Tensor or ndarray

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> nb.ops.log_softmax(np.array([0.0, 1e4]))
    array([-10000.,      0.])
    """
    return _log_softmax(x, axis=_negative_axis(axis, x))


__all__ = ["leaky_relu", "log_sigmoid", "log_softmax", "relu", "sigmoid", "softmax", "softplus"]
