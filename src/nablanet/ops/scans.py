"""Products, scans, moments and order statistics under NumPy's names.

``prod``, ``cumsum`` and ``cumprod`` are primitives; their rules handle zeros
exactly (no division by a zero entry).  ``var``, ``std``, ``average``, ``ptp`` and
the NaN-ignoring reductions are compositions of differentiable primitives.  The
index-valued functions (``argmax``, ``argsort``, ``any``) are primitives that are
not differentiated, so a replayed step recomputes them.
"""

from __future__ import annotations

import numpy as np

from nablanet.autodiff.primitive import Primitive
from nablanet.autodiff.tensor import Tensor, is_traced, raw, shape_of
from nablanet.ops.arithmetic import sqrt, where
from nablanet.ops.elementwise import isnan as _isnan
from nablanet.ops.reductions import _axes, _spread, mean
from nablanet.ops.reductions import max as reduce_max
from nablanet.ops.reductions import min as reduce_min
from nablanet.ops.reductions import sum as reduce_sum
from nablanet.ops.shape import concatenate, getitem, reshape, take_along_axis, transpose


def _array(x):
    """Tensors and arrays pass; other array_like inputs (lists, scalars) become arrays."""
    return x if isinstance(x, (Tensor, np.ndarray)) else np.asarray(x, dtype=float)


def _neg_axis(axis, ndim):
    if not -ndim <= axis < ndim or ndim == 0:
        raise ValueError(f"axis {axis} is out of bounds for an array of dimension {ndim}")
    return axis % ndim - ndim


def _flip_last(x, axis):
    """``x`` reversed along ``axis`` (a negative axis, so batch axes pass through)."""
    return getitem(x, (Ellipsis, slice(None, None, -1)) + (slice(None),) * (-1 - axis))


# -- cumulative sums and products --------------------------------------------------------
def _cumsum_impl(x, axis):
    return np.cumsum(x, axis=axis)


def _cumsum_rule(g, ans, x, axis):
    # y_k = sum_{i<=k} x_i  =>  dL/dx_i = sum_{k>=i} g_k: a reversed cumulative sum
    return _flip_last(_cumsum(_flip_last(g, axis), axis), axis)


_cumsum = Primitive("cumsum", _cumsum_impl)
_cumsum.defvjp(_cumsum_rule, None)


def _float_dtype(x):
    """The dtype constants joined to ``x`` take (float32 stays float32)."""
    dtype = np.asarray(raw(x)).dtype
    return dtype if dtype.kind == "f" else np.float64


def _cumprod_last(x):
    """Inclusive cumulative product along the last axis, by doubling (Hillis-Steele).

    Only products and joins, so its derivatives of every order are exact with zeros
    present (no division); log2(n) rounds of n multiplications.
    """
    n = shape_of(x)[-1]
    y, step = x, 1
    while step < n:
        ones = np.ones(tuple(shape_of(y)[:-1]) + (step,), dtype=_float_dtype(x))
        y = y * concatenate([ones, getitem(y, (Ellipsis, slice(0, n - step)))], axis=-1)
        step *= 2
    return y


def _exclusive_products(x):
    """``prod_{j != i} x_j`` along the last axis: products to the left times to the right."""
    n = shape_of(x)[-1]
    ones = np.ones(tuple(shape_of(x)[:-1]) + (1,), dtype=_float_dtype(x))
    left = _cumprod_last(concatenate([ones, getitem(x, (Ellipsis, slice(0, n - 1)))], axis=-1))
    flipped = _flip_last(x, -1)
    right = _cumprod_last(
        concatenate([ones, getitem(flipped, (Ellipsis, slice(0, n - 1)))], axis=-1)
    )
    return left * _flip_last(right, -1)


def _scan(prim, a, axis):
    if axis is None:
        a = reshape(a, (-1,))
        axis = 0
    return prim(a, _neg_axis(axis, len(shape_of(a))))


def cumsum(a, axis=None):
    """Cumulative sum along ``axis`` (flattened when None), as ``numpy.cumsum``."""
    return _scan(_cumsum, a, axis)


def cumprod(a, axis=None):
    """Cumulative product along ``axis`` (flattened when None), as ``numpy.cumprod``.

    Untraced input runs ``numpy.cumprod``; traced input is a composition of products
    (:func:`_cumprod_last`), so every derivative is exact at zeros; the two agree to
    rounding.
    """
    a = _array(a)
    if axis is None:
        a = reshape(a, (-1,))
        axis = 0
    ndim = len(shape_of(a))
    axis = _neg_axis(axis, ndim) + ndim
    if not is_traced(a):
        return np.cumprod(raw(a), axis=axis)
    if shape_of(a)[axis] == 0:
        return a * 1.0
    return moveaxis(_cumprod_last(moveaxis(a, axis, -1)), -1, axis)


# -- product ------------------------------------------------------------------------------
def _prod_impl(x, axis=None, keepdims=False):
    return np.prod(x, axis=axis, keepdims=keepdims)


def _prod_rule(g, ans, x, axis=None, keepdims=False):
    # dL/dx_i = g prod_{j != i} x_j, as products to the left and to the right of x_i (no
    # division, so exact at zeros and differentiable again)
    shape = tuple(shape_of(x))
    axes = _axes(axis, len(shape))
    if _count(shape, axes) == 0:  # an empty product is the constant 1
        return _spread(g, shape, axis, keepdims) * 0.0
    kept = tuple(i for i in range(len(shape)) if i not in axes)
    order = kept + axes
    moved = transpose(x, order)
    flat = reshape(moved, tuple(shape[i] for i in kept) + (-1,))
    others = reshape(_exclusive_products(flat), tuple(shape[i] for i in order))
    others = transpose(others, tuple(np.argsort(order)))
    return _spread(g, shape, axis, keepdims) * others


_prod = Primitive("prod", _prod_impl)
_prod.defvjp(_prod_rule)


def prod(a, axis=None, keepdims=False):
    """Product over ``axis`` (``numpy.prod``); the gradient is exact with zeros present.

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> nb.grad(nb.prod)(np.array([0.0, 3.0, 5.0]))     # products of the others
    array([15.,  0.,  0.])
    """
    a = _array(a)
    return _prod(a, axis=axis, keepdims=keepdims)


# -- moments ------------------------------------------------------------------------------
def _count(shape, axis):
    return int(np.prod([shape[a] for a in _axes(axis, len(shape))]))


def var(a, axis=None, ddof=0, keepdims=False):
    """Variance ``sum((a - mean)^2) / (N - ddof)`` (``numpy.var``).

    ``N - ddof <= 0`` gives inf or NaN with NumPy's RuntimeWarning, as NumPy does.
    """
    a = _array(a)
    n = _count(shape_of(a), axis)
    centred = a - reduce_sum(a, axis=axis, keepdims=True) / max(n, 1)
    total = reduce_sum(centred * centred, axis=axis, keepdims=keepdims)
    dof = n - ddof
    if dof <= 0:
        import warnings

        warnings.warn("Degrees of freedom <= 0 for slice", RuntimeWarning, stacklevel=2)
        return total * np.inf if dof == 0 else total / dof
    return total / dof


def std(a, axis=None, ddof=0, keepdims=False):
    """Standard deviation ``||a - mean|| / sqrt(N - ddof)`` (``numpy.std``).

    Where every entry of a slice is equal the gradient is taken as 0 (a subgradient;
    it is exactly 0 for a slice of one), not the NaN of sqrt's derivative at 0.
    """
    a = _array(a)
    from nablanet.ops.norms import _norm2

    n = _count(shape_of(a), axis)
    dof = n - ddof
    if dof <= 0:
        return sqrt(var(a, axis=axis, ddof=ddof, keepdims=keepdims))
    centred = a - reduce_sum(a, axis=axis, keepdims=True) / max(n, 1)
    axes = _axes(axis, len(shape_of(a)))
    return _norm2(centred, axes, keepdims) / float(np.sqrt(dof))


def average(a, axis=None, weights=None, returned=False, keepdims=False):
    """Weighted average ``sum(w a) / sum(w)`` (``numpy.average``), differentiable in both.

    1-D ``weights`` with an ``axis`` weigh that axis, as NumPy's.
    """
    a = _array(a)
    weights = None if weights is None else _array(weights)
    if weights is None:
        avg = mean(a, axis=axis, keepdims=keepdims)
        scale = float(_count(shape_of(a), axis))
        return (avg, scale) if returned else avg
    a_shape, w_shape = shape_of(a), shape_of(weights)
    if tuple(w_shape) != tuple(a_shape):
        if axis is None:
            raise TypeError("average: axis must be given when the shapes of a and weights differ")
        if len(w_shape) != 1 or not isinstance(axis, int):
            raise TypeError("average: 1-D weights are needed when shapes of a and weights differ")
        if w_shape[0] != a_shape[axis]:
            raise ValueError("average: length of weights differs from the length of axis")
        shape = [1] * len(a_shape)
        shape[axis] = w_shape[0]
        weights = reshape(weights, tuple(shape))
    w_total = reduce_sum(weights * np.ones(a_shape, dtype=_float_dtype(weights)), axis=axis,
                         keepdims=keepdims)
    if np.any(raw(w_total) == 0):
        raise ZeroDivisionError("average: weights sum to zero, the average is not defined")
    avg = reduce_sum(a * weights, axis=axis, keepdims=keepdims) / w_total
    return (avg, w_total) if returned else avg


def ptp(a, axis=None, keepdims=False):
    """Range ``max - min`` (``numpy.ptp``)."""
    a = _array(a)
    return reduce_max(a, axis=axis, keepdims=keepdims) - reduce_min(a, axis=axis, keepdims=keepdims)


def nansum(a, axis=None, keepdims=False):
    """Sum treating NaN as zero; NaN entries get a zero gradient."""
    return reduce_sum(where(_isnan(a), 0.0, a), axis=axis, keepdims=keepdims)


def nanmean(a, axis=None, keepdims=False):
    """Mean of the non-NaN entries; an all-NaN slice gives NaN with a RuntimeWarning."""
    a = _array(a)
    present = 1.0 - _isnan(a)
    count = reduce_sum(present, axis=axis, keepdims=keepdims)
    if np.any(raw(count) == 0):
        import warnings

        warnings.warn("Mean of empty slice", RuntimeWarning, stacklevel=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return nansum(a, axis=axis, keepdims=keepdims) / count


# -- order statistics -------------------------------------------------------------------
def _argmax_impl(a, axis=None, keepdims=False):
    return np.argmax(a, axis=axis, keepdims=keepdims)


def _argmin_impl(a, axis=None, keepdims=False):
    return np.argmin(a, axis=axis, keepdims=keepdims)


_argmax = Primitive("argmax", _argmax_impl, differentiable=False)
_argmin = Primitive("argmin", _argmin_impl, differentiable=False)
_argsort = Primitive(
    "argsort", lambda a, axis=-1, kind=None: np.argsort(a, axis=axis, kind=kind),
    differentiable=False,
)


def argmax(a, axis=None, keepdims=False):
    """Index of the largest entry (``numpy.argmax``); integer result, not differentiable."""
    return _argmax(a, axis=axis, keepdims=keepdims)


def argmin(a, axis=None, keepdims=False):
    """Index of the smallest entry (``numpy.argmin``); not differentiable."""
    return _argmin(a, axis=axis, keepdims=keepdims)


def argsort(a, axis=-1, kind=None):
    """Indices that sort ``a`` along ``axis`` (``numpy.argsort``); not differentiable."""
    return _argsort(a, axis=axis, kind=kind)


def sort(a, axis=-1, kind=None):
    """Sorted copy along ``axis`` (``numpy.sort``; None flattens).

    A gather at the sorting permutation: the gradient goes back to where each value
    came from (ties keep NumPy's stable order).
    """
    a = _array(a)
    if axis is None:
        a = reshape(a, (-1,))
        axis = 0
    _neg_axis(axis, len(shape_of(a)))
    order = raw(_argsort(a, axis=axis, kind="stable" if kind is None else kind))
    return take_along_axis(a, order, axis)


any = Primitive("any", lambda a, axis=None, keepdims=False: np.any(a, axis=axis, keepdims=keepdims),  # noqa: A001,E501
                differentiable=False)
all = Primitive("all", lambda a, axis=None, keepdims=False: np.all(a, axis=axis, keepdims=keepdims),  # noqa: A001,E501
                differentiable=False)
count_nonzero = Primitive(
    "count_nonzero", lambda a, axis=None: np.count_nonzero(a, axis=axis), differentiable=False
)

__all__ = [
    "all", "any", "argmax", "argmin", "argsort", "average", "count_nonzero", "cumprod",
    "cumsum", "nanmean", "nansum", "prod", "ptp", "sort", "std", "var",
]


def moveaxis(a, source, destination):
    """Move axes to new positions, the others keeping their order (``numpy.moveaxis``)."""
    ndim = len(shape_of(a))
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise ValueError("moveaxis: source and destination must have the same number of axes")
    src = [_neg_axis(s, ndim) + ndim for s in src]
    dst = [_neg_axis(d, ndim) + ndim for d in dst]
    order = [i for i in range(ndim) if i not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        order.insert(d, s)
    return transpose(a, tuple(order))
