"""Shape primitives: reshape, transpose, broadcast, indexing, gathers, joins, diagonals.

Their VJPs move values without arithmetic: reshape back, transpose by the
inverse permutation, scatter where indexing gathered.  Leading batch axes of a
cotangent are kept by addressing axes from the end.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple

from nablanet.autodiff.primitive import ALL_ARGUMENTS, Primitive
from nablanet.autodiff.tensor import raw, shape_of
from nablanet.ops._broadcast import unbroadcast


def _n_batch(g, ans):
    return len(shape_of(g)) - len(shape_of(ans))


def _reshape_impl(x, shape):
    # the method directly: np.reshape's Python dispatch costs as much as the reshape
    return x.reshape(shape) if type(x) is np.ndarray else np.reshape(x, shape)


reshape = Primitive("reshape", _reshape_impl, preserves_dtype=True)
# reshaping moves no values: the cotangent is reshaped back
reshape.defvjp(
    lambda g, ans, x, shape: reshape(g, shape_of(g)[: _n_batch(g, ans)] + tuple(shape_of(x)))
)


def _transpose_impl(x, axes=None):
    return x.transpose(axes) if type(x) is np.ndarray else np.transpose(x, axes)


def _transpose_rule(g, ans, x, axes=None):
    # transpose by a permutation: the cotangent goes back by the inverse one
    ndim = len(shape_of(x))
    perm = tuple(range(ndim))[::-1] if axes is None else tuple(a % ndim for a in axes)
    inverse = tuple(np.argsort(perm))
    k = _n_batch(g, ans)
    return transpose(g, tuple(range(k)) + tuple(k + a for a in inverse))


transpose = Primitive("transpose", _transpose_impl, preserves_dtype=True)
transpose.defvjp(_transpose_rule)


def swapaxes(x, axis1, axis2):
    """Interchange two axes (a transpose)."""
    ndim = len(shape_of(x))
    axis1, axis2 = normalize_axis_index(axis1, ndim), normalize_axis_index(axis2, ndim)
    perm = list(range(ndim))
    perm[axis1], perm[axis2] = perm[axis2], perm[axis1]
    return transpose(x, tuple(perm))


def _broadcast_to_impl(x, shape):
    if type(x) is np.ndarray and x.shape == tuple(shape):
        view = x.view()  # nothing to stretch: a read-only view, as np.broadcast_to gives,
        view.flags.writeable = False  # at a tenth of its dispatch cost
        return view
    return np.broadcast_to(x, shape)


broadcast_to = Primitive("broadcast_to", _broadcast_to_impl, preserves_dtype=True)
# broadcasting copies values: their cotangents are summed back
broadcast_to.defvjp(lambda g, ans, x, shape: unbroadcast(g, shape_of(x), len(shape)))


def expand_dims(x, axis):
    """Insert length-one axes at ``axis`` (an int or a tuple, as ``numpy.expand_dims``).

    Raises NumPy's ``AxisError`` for an axis out of range of the result.
    """
    shape = tuple(shape_of(x))
    axes = normalize_axis_tuple(axis, len(shape) + len(np.atleast_1d(axis)))
    rest = iter(shape)
    return reshape(x, tuple(1 if i in axes else next(rest) for i in range(len(shape) + len(axes))))


def squeeze(x, axis=None):
    """Remove length-one axes (a reshape); ``axis`` of another length raises ValueError."""
    shape = shape_of(x)
    if axis is None:
        keep = [s for s in shape if s != 1]
    else:
        axes = set(normalize_axis_tuple(axis, len(shape)))
        for a in axes:
            if shape[a] != 1:
                raise ValueError(f"cannot squeeze axis {a} of size {shape[a]}")
        keep = [s for i, s in enumerate(shape) if i not in axes]
    return reshape(x, tuple(keep))


# -- indexing -----------------------------------------------------------------------
def _as_index(index):
    """Tensors inside an index become their integer arrays."""
    if isinstance(index, tuple):
        return tuple(raw(i) for i in index)
    return raw(index)


def _batched_index(index, n_batch):
    index = index if isinstance(index, tuple) else (index,)
    return (slice(None),) * n_batch + index


def _is_basic(index):
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, slice)) for p in parts)


def _is_array_part(p):
    return isinstance(p, (np.ndarray, list))


def _advanced_layout(index):
    """``(split, n_adv)`` for an index: whether NumPy puts the advanced-index axes first.

    When advanced indices (integer/boolean arrays, and integers next to them) are
    separated by a slice, Ellipsis or None, NumPy moves their broadcast axes to
    the front of the result, in front of any batch axes.  ``n_adv`` is the
    number of those axes.
    """
    parts = index if isinstance(index, tuple) else (index,)
    if not any(_is_array_part(p) for p in parts):
        return False, 0
    positions = [
        i for i, p in enumerate(parts)
        if _is_array_part(p) or isinstance(p, (int, np.integer)) and not isinstance(p, bool)
    ]
    if positions[-1] - positions[0] + 1 == len(positions):
        return False, 0
    shapes = []
    for i in positions:
        part = np.asarray(parts[i])
        shapes.append((int(np.count_nonzero(part)),) if part.dtype == bool else part.shape)
    return True, len(np.broadcast_shapes(*shapes))


def _getitem_impl(x, index):
    return x[index]


def _gather_batched(g, index, k):
    """``g[index]`` applied under ``k`` leading batch axes, which stay leading."""
    if not k:
        return getitem(g, index)
    out = getitem(g, _batched_index(index, k))
    split, n_adv = _advanced_layout(index)
    if not split:
        return out
    # NumPy put the advanced axes before the batch axes: move the batch axes back in front
    ndim = len(shape_of(out))
    perm = tuple(range(n_adv, n_adv + k)) + tuple(range(n_adv)) + tuple(range(n_adv + k, ndim))
    return transpose(out, perm)


getitem = Primitive("getitem", _getitem_impl, preserves_dtype=True)
getitem.shape_from_mask = True
# indexing gathers: the cotangent is scattered (added) back where values came from
getitem.defvjp(
    lambda g, ans, x, index: index_add(g, index, shape_of(x), _n_batch(g, ans))
)


def _index_add_impl(values, index, shape, n_batch):
    vals = np.asarray(values)
    full = vals.shape[:n_batch] + tuple(shape)
    out = np.zeros(full, dtype=vals.dtype)
    where = _batched_index(index, n_batch)
    split, n_adv = _advanced_layout(index)
    if split and n_batch:
        # the target positions list the advanced axes first, then the batch axes
        vals = np.moveaxis(vals, tuple(range(n_batch)), tuple(range(n_adv, n_adv + n_batch)))
    if _is_basic(index):
        out[where] = vals
    else:
        np.add.at(out, where, vals)
    return out


def _index_add_rule(g, ans, values, index, shape, n_batch):
    # the scatter's transpose is the gather: read back the scattered positions
    return _gather_batched(g, index, _n_batch(g, ans) + n_batch)


index_add = Primitive("index_add", _index_add_impl, preserves_dtype=True)
index_add.shape_from_mask = True
index_add.defvjp(_index_add_rule)


def take(x, index):
    """``x[index]`` for any NumPy index (slices, integers, integer arrays)."""
    return getitem(x, _as_index(index))


def _take_along_axis_impl(x, indices, axis):
    return np.take_along_axis(x, indices, axis=axis)


def _scatter_along_impl(values, indices, axis, shape):
    vals = np.asarray(values)
    n_batch = vals.ndim - len(shape)
    out = np.zeros(vals.shape[:n_batch] + tuple(shape), dtype=vals.dtype)
    where = _along_axis_index(indices, axis, len(shape), n_batch, vals.shape[n_batch:])
    np.add.at(out, where, vals)
    return out


def _along_axis_index(indices, axis, ndim, n_batch, out_shape):
    """The fancy index that take_along_axis(x, indices, axis) reads, with batch slices.

    ``out_shape`` is the gather's result (``indices`` broadcast off ``axis``).
    """
    axis = axis % ndim
    indices = np.broadcast_to(indices, out_shape)
    grids = []
    for dim in range(ndim):
        if dim == axis:
            grids.append(indices)
        else:
            shape = [1] * ndim
            shape[dim] = indices.shape[dim]
            grids.append(np.arange(indices.shape[dim]).reshape(shape))
    return (slice(None),) * n_batch + tuple(grids)


def _gathered_shape(x_shape, indices_shape, axis):
    """The shape ``x`` is broadcast to before the gather (its own size along ``axis``)."""
    x_shape, indices_shape = list(x_shape), list(indices_shape)
    indices_shape[axis] = x_shape[axis]
    return np.broadcast_shapes(tuple(x_shape), tuple(indices_shape))


def _take_along_axis_rule(g, ans, x, indices, axis):
    # a gather's transpose: add the cotangent into the gathered positions (of x broadcast
    # against the indices), then sum what broadcasting copied
    x_shape = tuple(shape_of(x))
    full = _gathered_shape(x_shape, indices.shape, axis)
    spread = scatter_along_axis(g, indices, axis, full)
    return unbroadcast(spread, x_shape, len(full)) if full != x_shape else spread


def _scatter_along_rule(g, ans, values, indices, axis, shape):
    # a scatter's transpose: gather the cotangent from the scattered positions
    k = len(shape_of(g)) - len(shape)
    return getitem(g, _along_axis_index(indices, axis, len(shape), k,
                                        shape_of(values)[-len(shape):]))


take_along_axis_p = Primitive("take_along_axis", _take_along_axis_impl, preserves_dtype=True)
take_along_axis_p.defvjp(_take_along_axis_rule, None, None)
scatter_along_axis = Primitive("scatter_along_axis", _scatter_along_impl, preserves_dtype=True)
scatter_along_axis.defvjp(_scatter_along_rule, None, None, None)


def take_along_axis(x, indices, axis):
    """Gather ``x`` along ``axis`` at integer ``indices`` (``numpy.take_along_axis``).

    ``indices`` has ``x``'s rank; off ``axis`` the two broadcast against each other
    (a column of indices picks the same rows from every column), forward and backward.
    """
    indices = np.asarray(raw(indices))
    if indices.dtype.kind not in "iu":
        raise TypeError(f"take_along_axis: indices must be integers, got dtype {indices.dtype}")
    ndim = len(shape_of(x))
    if indices.ndim != ndim:
        raise ValueError(
            f"take_along_axis: indices must have the input's {ndim} dimensions, got "
            f"shape {indices.shape} for input of shape {tuple(shape_of(x))}")
    return take_along_axis_p(x, indices, normalize_axis_index(axis, ndim))


# -- joining -------------------------------------------------------------------------
def _concatenate_impl(*arrays, axis=0):
    return np.concatenate(arrays, axis=axis)


def _concatenate_rule(g, ans, needs, *arrays, axis=0):
    # concatenation: each piece's cotangent is its slice of g
    ndim = len(shape_of(ans))
    axis = axis % ndim
    trailing = (slice(None),) * (ndim - 1 - axis)
    cots, start = [], 0
    for need, a in zip(needs, arrays, strict=True):
        stop = start + shape_of(a)[axis]
        cots.append(getitem(g, (Ellipsis, slice(start, stop)) + trailing) if need else None)
        start = stop
    return tuple(cots)


_concatenate_p = Primitive("concatenate", _concatenate_impl, preserves_dtype=True)
_concatenate_p.defvjp_joint(_concatenate_rule, values=ALL_ARGUMENTS)


def concatenate(*arrays, axis=0):
    """Join arrays along an existing axis: ``concatenate(a, b)`` or ``concatenate([a, b])``."""
    if len(arrays) == 1 and isinstance(arrays[0], (list, tuple)):
        arrays = tuple(arrays[0])
    return _concatenate_p(*arrays, axis=axis)


def _stack_impl(*arrays, axis=0):
    return np.stack(arrays, axis=axis)


def _stack_rule(g, ans, needs, *arrays, axis=0):
    # stacking: each piece's cotangent is its index along the new axis
    ndim = len(shape_of(ans))
    axis = axis % ndim
    trailing = (slice(None),) * (ndim - 1 - axis)
    return tuple(
        getitem(g, (Ellipsis, i) + trailing) if need else None for i, need in enumerate(needs)
    )


_stack_p = Primitive("stack", _stack_impl, preserves_dtype=True)
_stack_p.defvjp_joint(_stack_rule, values=ALL_ARGUMENTS)


def stack(*arrays, axis=0):
    """Join arrays along a new axis; accepts ``stack(a, b)`` or ``stack([a, b])``."""
    if len(arrays) == 1 and isinstance(arrays[0], (list, tuple)):
        arrays = tuple(arrays[0])
    return _stack_p(*arrays, axis=axis)


# -- diagonals -----------------------------------------------------------------------
def _diagonal_impl(x, offset, axis1, axis2):
    return np.diagonal(x, offset, axis1, axis2).copy()


def _diagonal_scatter_impl(values, offset, axis1, axis2, shape):
    vals = np.asarray(values)
    n_batch = vals.ndim - (len(shape) - 1)
    out = np.zeros(vals.shape[:n_batch] + tuple(shape), dtype=vals.dtype)
    view = np.moveaxis(out, (axis1, axis2), (-2, -1))
    length = vals.shape[-1]
    rows = np.arange(length) + max(0, -offset)
    cols = np.arange(length) + max(0, offset)
    view[..., rows, cols] = vals
    return out


diagonal_p = Primitive("diagonal", _diagonal_impl, preserves_dtype=True)
# the diagonal's cotangent is written back onto the diagonal of zeros
diagonal_p.defvjp(
    lambda g, ans, x, offset, axis1, axis2: diagonal_scatter(g, offset, axis1, axis2, shape_of(x))
)
diagonal_scatter = Primitive("diagonal_scatter", _diagonal_scatter_impl, preserves_dtype=True)
# the scatter's transpose reads the diagonal back
diagonal_scatter.defvjp(
    lambda g, ans, values, offset, axis1, axis2, shape: diagonal_p(g, offset, axis1, axis2)
)


def diagonal(x, offset=0, axis1=0, axis2=1):
    """The diagonal of ``x`` over two axes, as the last axis (``numpy.diagonal``)."""
    ndim = len(shape_of(x))
    a1 = normalize_axis_index(axis1, ndim) - ndim
    a2 = normalize_axis_index(axis2, ndim) - ndim
    if a1 == a2:
        raise ValueError("diagonal: axis1 and axis2 cannot be the same")
    return diagonal_p(x, offset, a1, a2)


__all__ = [
    "broadcast_to",
    "concatenate",
    "diagonal",
    "expand_dims",
    "getitem",
    "reshape",
    "squeeze",
    "stack",
    "swapaxes",
    "take",
    "take_along_axis",
    "transpose",
]
