"""Shape and assembly functions under NumPy's names: flips, tiles, pads, splits, stacks.

All are compositions of the shape primitives (reshape, transpose, getitem,
concatenate, broadcast_to, diagonal), of ``where`` with constant masks, and of
matmul, so their derivatives of every order come from those primitives' rules.
Only constant padding is a primitive of its own (its rule is a slice).
"""

from __future__ import annotations

import builtins

import numpy as np

from nablanet.autodiff.primitive import Primitive
from nablanet.autodiff.tensor import raw, shape_of
from nablanet.ops.arithmetic import multiply, where
from nablanet.ops.linalg import matmul
from nablanet.ops.reductions import sum as reduce_sum
from nablanet.ops.scans import _neg_axis, moveaxis
from nablanet.ops.shape import (
    broadcast_to,
    concatenate,
    diagonal,
    diagonal_scatter,
    getitem,
    reshape,
    swapaxes,
    transpose,
)


def _ndim(a):
    return len(shape_of(a))


def _axis_index(ndim, axis, part):
    """An index applying ``part`` on ``axis`` (counted from the end: batch axes pass)."""
    axis = _neg_axis(axis, ndim)
    return (Ellipsis, part) + (slice(None),) * (-1 - axis)


def _as_array(a):
    """Tensors pass; other inputs become arrays (lists, scalars)."""
    return a if hasattr(a, "shape") and hasattr(a, "dtype") else np.asarray(a)


# -- flattening --------------------------------------------------------------------------
def ravel(a, order="C"):
    """The values as a 1-D array (C order only)."""
    if order != "C":
        raise ValueError(f"ravel: only order='C' is supported, got {order!r}")
    return reshape(_as_array(a), (-1,))


def flatten(a):
    """A 1-D copy of the values (``ndarray.flatten``)."""
    return ravel(a)


# -- repeating ---------------------------------------------------------------------------
def repeat(a, repeats, axis=None):
    """Repeat each element ``repeats`` times along ``axis`` (``numpy.repeat``).

    A gather: the gradient of each copy is added back to its source.
    """
    a = _as_array(a)
    if axis is None:
        a, axis = ravel(a), 0
    n = shape_of(a)[axis]
    source = np.repeat(np.arange(n), raw(repeats))
    return getitem(a, _axis_index(_ndim(a), axis, source))


def tile(a, reps):
    """Repeat the whole array ``reps`` times per axis (``numpy.tile``), by broadcasting."""
    a = _as_array(a)
    reps = (int(reps),) if np.ndim(reps) == 0 else tuple(int(r) for r in reps)
    shape = tuple(shape_of(a))
    ndim = builtins.max(len(shape), len(reps))
    shape = (1,) * (ndim - len(shape)) + shape
    reps = (1,) * (ndim - len(reps)) + reps
    # (s0, s1, ...) -> (1, s0, 1, s1, ...) -> broadcast to (r0, s0, r1, s1, ...) -> merge pairs
    interleaved = tuple(v for s in shape for v in (1, s))
    target = tuple(v for r, s in zip(reps, shape, strict=True) for v in (r, s))
    out = broadcast_to(reshape(a, interleaved), target)
    return reshape(out, tuple(r * s for r, s in zip(reps, shape, strict=True)))


# -- rearranging ---------------------------------------------------------------------------
def roll(a, shift, axis=None):
    """Shift elements cyclically along ``axis`` (flattened when None), as ``numpy.roll``."""
    a = _as_array(a)
    if axis is None:
        return reshape(roll(ravel(a), shift, 0), tuple(shape_of(a)))
    shifts = (shift,) if np.ndim(shift) == 0 else tuple(shift)
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    if len(shifts) == 1:
        shifts = shifts * len(axes)
    if len(axes) == 1:
        axes = axes * len(shifts)
    if len(axes) != len(shifts):
        raise ValueError("roll: shift and axis must have the same length")
    out, ndim = a, _ndim(a)
    for s, ax in zip(shifts, axes, strict=True):
        n = shape_of(out)[ax]
        if n == 0 or int(s) % n == 0:
            continue
        k = int(s) % n
        tail = getitem(out, _axis_index(ndim, ax, slice(n - k, n)))
        head = getitem(out, _axis_index(ndim, ax, slice(0, n - k)))
        out = concatenate([tail, head], axis=ax)
    return out


def flip(m, axis=None):
    """Reverse the order of elements along ``axis`` (all axes when None)."""
    m = _as_array(m)
    ndim = _ndim(m)
    axes = range(ndim) if axis is None else ((axis,) if np.ndim(axis) == 0 else axis)
    index = [slice(None)] * ndim
    for ax in axes:
        index[_neg_axis(ax, ndim) + ndim] = slice(None, None, -1)
    return getitem(m, (Ellipsis,) + tuple(index))


def fliplr(m):
    """Reverse the columns (axis 1)."""
    return flip(m, 1)


def flipud(m):
    """Reverse the rows (axis 0)."""
    return flip(m, 0)


def rot90(m, k=1, axes=(0, 1)):
    """Rotate by 90 degrees ``k`` times in the plane of ``axes`` (``numpy.rot90``)."""
    m = _as_array(m)
    if len(axes) != 2 or axes[0] % _ndim(m) == axes[1] % _ndim(m):
        raise ValueError(f"rot90: axes must be two different axes, got {axes}")
    k %= 4
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, axes[0]), axes[1])
    if k == 1:
        return swapaxes(flip(m, axes[1]), axes[0], axes[1])
    return flip(swapaxes(m, axes[0], axes[1]), axes[1])


# -- padding -------------------------------------------------------------------------------
def _pad_constant_impl(x, pad_width, value):
    return np.pad(x, pad_width, mode="constant", constant_values=value)


def _pad_constant_rule(g, ans, x, pad_width, value):
    # the padded entries are constants: the cotangent of x is the centre slice of g
    index = tuple(slice(lo, lo + n) for (lo, _), n in zip(pad_width, shape_of(x), strict=True))
    return getitem(g, (Ellipsis,) + index)


_pad_constant = Primitive("pad_constant", _pad_constant_impl)
_pad_constant.defvjp(_pad_constant_rule, None, None)

_INDEX_MODES = {"edge", "reflect", "symmetric", "wrap"}


def _pad_widths(pad_width, ndim):
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (ndim, 2))
    if (widths < 0).any():
        raise ValueError(f"pad: widths must be non-negative, got {pad_width}")
    return tuple((int(lo), int(hi)) for lo, hi in widths)


def pad(array, pad_width, mode="constant", constant_values=0):
    """Pad an array (``numpy.pad``): modes constant, edge, reflect, symmetric and wrap.

    The non-constant modes gather each axis at ``numpy.pad`` of its indices, so the
    gradient adds every copy back onto its source.
    """
    array = _as_array(array)
    ndim = _ndim(array)
    widths = _pad_widths(pad_width, ndim)
    if mode == "constant":
        if np.ndim(constant_values) != 0:
            raise ValueError("pad: only a scalar constant_values is supported")
        return _pad_constant(array, widths, float(constant_values))
    if mode not in _INDEX_MODES:
        raise ValueError(
            f"pad: mode must be one of constant, {', '.join(sorted(_INDEX_MODES))}; got {mode!r}"
        )
    out = array
    for ax, (lo, hi) in enumerate(widths):
        if lo == hi == 0:
            continue
        source = np.pad(np.arange(shape_of(out)[ax]), (lo, hi), mode=mode)
        out = getitem(out, _axis_index(ndim, ax, source))
    return out


# -- splitting -----------------------------------------------------------------------------
def array_split(ary, indices_or_sections, axis=0):
    """Split into pieces along ``axis``; sections need not divide the length."""
    ary = _as_array(ary)
    ndim = _ndim(ary)
    n = shape_of(ary)[axis]
    if np.ndim(indices_or_sections) == 0:
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError("array_split: number of sections must be larger than 0")
        each, extra = divmod(n, sections)
        sizes = [each + 1] * extra + [each] * (sections - extra)
        bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    else:
        bounds = [0, *(int(i) for i in indices_or_sections), n]
    return [
        getitem(ary, _axis_index(ndim, axis, slice(builtins.min(lo, n), builtins.min(hi, n))))
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
    ]


def split(ary, indices_or_sections, axis=0):
    """Split into pieces along ``axis`` (``numpy.split``: sections must divide the length)."""
    if np.ndim(indices_or_sections) == 0:
        n = shape_of(_as_array(ary))[axis]
        if n % int(indices_or_sections):
            raise ValueError(
                f"split: array split does not result in an equal division ({n} into "
                f"{indices_or_sections}); use array_split"
            )
    return array_split(ary, indices_or_sections, axis)


def hsplit(ary, indices_or_sections):
    """Split along axis 1 (axis 0 for 1-D)."""
    return split(ary, indices_or_sections, axis=1 if _ndim(_as_array(ary)) > 1 else 0)


def vsplit(ary, indices_or_sections):
    """Split along axis 0."""
    return split(ary, indices_or_sections, axis=0)


# -- stacking ------------------------------------------------------------------------------
def _atleast(a, ndim):
    a = _as_array(a)
    shape = tuple(shape_of(a))
    if len(shape) >= ndim:
        return a
    if ndim == 1:
        return reshape(a, (1,))
    if ndim == 2:
        return reshape(a, (1,) * (2 - len(shape)) + shape)
    # NumPy's 3-D rule: () -> (1, 1, 1), (n,) -> (1, n, 1), (m, n) -> (m, n, 1)
    return reshape(a, {0: (1, 1, 1), 1: (1,) + shape + (1,), 2: shape + (1,)}[len(shape)])


def _atleast_many(arrays, ndim):
    out = [_atleast(a, ndim) for a in arrays]
    return out[0] if len(out) == 1 else tuple(out)


def atleast_1d(*arys):
    """Inputs viewed with at least one dimension."""
    return _atleast_many(arys, 1)


def atleast_2d(*arys):
    """Inputs viewed with at least two dimensions (``(n,)`` becomes ``(1, n)``)."""
    return _atleast_many(arys, 2)


def atleast_3d(*arys):
    """Inputs with at least three dimensions (``(n,)`` -> ``(1, n, 1)``, as NumPy)."""
    return _atleast_many(arys, 3)


def vstack(tup):
    """Stack row-wise: concatenate along axis 0 after ``atleast_2d``."""
    return concatenate([_atleast(a, 2) for a in tup], axis=0)


row_stack = vstack


def hstack(tup):
    """Stack column-wise: axis 1, or axis 0 for 1-D inputs."""
    arrays = [_atleast(a, 1) for a in tup]
    return concatenate(arrays, axis=0 if _ndim(arrays[0]) == 1 else 1)


def dstack(tup):
    """Stack depth-wise: concatenate along axis 2 after ``atleast_3d``."""
    return concatenate([_atleast(a, 3) for a in tup], axis=2)


def column_stack(tup):
    """1-D inputs become columns; 2-D inputs are stacked as they are."""
    cols = []
    for a in tup:
        a = _as_array(a)
        cols.append(reshape(a, (-1, 1)) if _ndim(a) < 2 else a)
    return concatenate(cols, axis=1)


# -- triangles, diagonals and identity matrices --------------------------------------------
def eye(N, M=None, k=0, dtype=float):  # noqa: N803 - NumPy's parameter names
    """The identity-like constant matrix with ones on diagonal ``k`` (``numpy.eye``)."""
    return np.eye(N, M, k, dtype=dtype)


def tri(N, M=None, k=0, dtype=float):  # noqa: N803
    """Constant lower-triangular matrix of ones at and below diagonal ``k``."""
    return np.tri(N, M, k, dtype=dtype)


def _triangle_mask(a, k, lower):
    rows, cols = shape_of(a)[-2:]
    return np.tri(rows, cols, k, dtype=bool) if lower else ~np.tri(rows, cols, k - 1, dtype=bool)


def tril(m, k=0):
    """Lower triangle of the last two axes; the rest zero (gradient masked the same way)."""
    m = _as_array(m)
    if _ndim(m) < 2:
        raise ValueError(f"tril: input must have at least 2 dimensions, got shape {shape_of(m)}")
    return where(_triangle_mask(m, k, True), m, 0.0)


def triu(m, k=0):
    """Upper triangle of the last two axes; the rest zero."""
    m = _as_array(m)
    if _ndim(m) < 2:
        raise ValueError(f"triu: input must have at least 2 dimensions, got shape {shape_of(m)}")
    return where(_triangle_mask(m, k, False), m, 0.0)


def trace(a, offset=0, axis1=0, axis2=1):
    """Sum along a diagonal (``numpy.trace``)."""
    return reduce_sum(diagonal(_as_array(a), offset, axis1, axis2), axis=-1)


def diag(v, k=0):
    """Diagonal of a matrix, or a square matrix with vector ``v`` on diagonal ``k``."""
    v = _as_array(v)
    ndim = _ndim(v)
    if ndim == 2:
        return diagonal(v, k, 0, 1)
    if ndim != 1:
        raise ValueError(f"diag: input must be 1-D or 2-D, got shape {shape_of(v)}")
    n = shape_of(v)[0] + builtins.abs(k)
    return diagonal_scatter(v, k, -2, -1, (n, n))


def diagflat(v, k=0):
    """A matrix with the flattened input on diagonal ``k``."""
    return diag(ravel(v), k)


# -- products ------------------------------------------------------------------------------
def kron(a, b):
    """Kronecker product (``numpy.kron``): blocks ``a[i, j] * b``, by broadcasting."""
    a, b = _as_array(a), _as_array(b)
    ndim = builtins.max(_ndim(a), _ndim(b))
    sa = (1,) * (ndim - _ndim(a)) + tuple(shape_of(a))
    sb = (1,) * (ndim - _ndim(b)) + tuple(shape_of(b))
    wide_a = reshape(a, tuple(v for s in sa for v in (s, 1)))
    wide_b = reshape(b, tuple(v for s in sb for v in (1, s)))
    return reshape(multiply(wide_a, wide_b), tuple(x * y for x, y in zip(sa, sb, strict=True)))


def tensordot(a, b, axes=2):
    """Sum products over the given axes (``numpy.tensordot``), as one matmul."""
    a, b = _as_array(a), _as_array(b)
    na, nb = _ndim(a), _ndim(b)
    if np.ndim(axes) == 0:
        n = int(axes)
        axes_a, axes_b = list(range(na - n, na)), list(range(n))
    else:
        axes_a, axes_b = axes
        axes_a = [axes_a] if np.ndim(axes_a) == 0 else list(axes_a)
        axes_b = [axes_b] if np.ndim(axes_b) == 0 else list(axes_b)
    if len(axes_a) != len(axes_b):
        raise ValueError("tensordot: the two lists of axes must have the same length")
    axes_a = [x % na for x in axes_a] if na else axes_a
    axes_b = [x % nb for x in axes_b] if nb else axes_b
    sa, sb = shape_of(a), shape_of(b)
    for i, j in zip(axes_a, axes_b, strict=True):
        if sa[i] != sb[j]:
            raise ValueError(f"tensordot: shape mismatch for sum: {sa} axis {i} vs {sb} axis {j}")
    free_a = [i for i in range(na) if i not in axes_a]
    free_b = [j for j in range(nb) if j not in axes_b]
    k = int(np.prod([sa[i] for i in axes_a]))
    left = reshape(transpose(a, tuple(free_a + axes_a)), (-1, k))
    right = reshape(transpose(b, tuple(axes_b + free_b)), (k, -1))
    out = matmul(left, right)
    return reshape(out, tuple(sa[i] for i in free_a) + tuple(sb[j] for j in free_b))


def inner(a, b):
    """Inner product over the last axes (``numpy.inner``); scalars multiply."""
    a, b = _as_array(a), _as_array(b)
    if _ndim(a) == 0 or _ndim(b) == 0:
        return multiply(a, b)
    return tensordot(a, b, axes=([-1], [-1]))


def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """Cross product of 3-vectors (2-vectors give the z component), as ``numpy.cross``."""
    a, b = _as_array(a), _as_array(b)
    if axis is not None:
        axisa = axisb = axisc = axis
    a = moveaxis(a, axisa, -1)
    b = moveaxis(b, axisb, -1)
    na, nb_ = shape_of(a)[-1], shape_of(b)[-1]
    if na not in (2, 3) or nb_ not in (2, 3):
        raise ValueError(
            f"cross: incompatible dimensions for cross product (dimension must be 2 or 3), "
            f"got {na} and {nb_}"
        )
    a0, a1 = getitem(a, (Ellipsis, 0)), getitem(a, (Ellipsis, 1))
    b0, b1 = getitem(b, (Ellipsis, 0)), getitem(b, (Ellipsis, 1))
    a2 = getitem(a, (Ellipsis, 2)) if na == 3 else 0.0
    b2 = getitem(b, (Ellipsis, 2)) if nb_ == 3 else 0.0
    z = a0 * b1 - a1 * b0
    if na == 2 and nb_ == 2:
        return z
    from nablanet.ops.shape import stack

    out = stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, z], axis=-1)
    return moveaxis(out, -1, axisc)


__all__ = [
    "array_split", "atleast_1d", "atleast_2d", "atleast_3d", "column_stack", "cross", "diag",
    "diagflat", "dstack", "eye", "flatten", "flip", "fliplr", "flipud", "hsplit", "hstack",
    "inner", "kron", "moveaxis", "pad", "ravel", "repeat", "roll", "rot90", "row_stack",
    "split", "tensordot", "tile", "trace", "tri", "tril", "triu", "vsplit", "vstack",
]
