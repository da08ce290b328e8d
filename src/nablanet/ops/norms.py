"""Vector and matrix norms (``numpy.linalg.norm``).

The 2-norm (and Frobenius norm) is a primitive whose gradient ``x / ||x||`` is
taken as 0 at ``x = 0`` (a subgradient, as PyTorch); the other orders are
compositions of ``abs``, sums, max/min and the singular values.
"""

from __future__ import annotations

import numpy as np

from nablanet.autodiff.primitive import Primitive
from nablanet.autodiff.tensor import shape_of
from nablanet.ops.arithmetic import abs as absolute
from nablanet.ops.arithmetic import power, where
from nablanet.ops.reductions import _kept_shape, _spread
from nablanet.ops.reductions import max as reduce_max
from nablanet.ops.reductions import min as reduce_min
from nablanet.ops.reductions import sum as reduce_sum
from nablanet.ops.scans import count_nonzero, moveaxis
from nablanet.ops.shape import reshape


def _norm2_impl(x, axis, keepdims):
    return np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims))


def _norm2_rule(g, ans, x, axis, keepdims):
    # d ||x|| = <x, dx> / ||x||  (0 at x = 0)
    norm = reshape(ans, _kept_shape(shape_of(x), axis))
    return _spread(g, shape_of(x), axis, keepdims) * (x / where(norm == 0, 1.0, norm))


_norm2 = Primitive("norm2", _norm2_impl)
_norm2.defvjp(_norm2_rule, None, None)


def _vector_norm(x, ord, axis, keepdims):  # noqa: A002 - NumPy's name
    if ord is None or ord == 2:
        return _norm2(x, axis, keepdims)
    if ord == np.inf:
        return reduce_max(absolute(x), axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return reduce_min(absolute(x), axis=axis, keepdims=keepdims)
    if ord == 0:  # a count: not differentiable
        out = np.asarray(count_nonzero(x, axis=axis), dtype=float)
        return np.reshape(out, _kept_shape(shape_of(x), axis)) if keepdims else out
    if ord == 1:
        return reduce_sum(absolute(x), axis=axis, keepdims=keepdims)
    if isinstance(ord, str):
        raise ValueError(f"norm: invalid norm order {ord!r} for vectors")
    return power(reduce_sum(power(absolute(x), ord), axis=axis, keepdims=keepdims), 1.0 / ord)


def _matrix_norm(x, ord, axes, keepdims):  # noqa: A002
    ndim = len(shape_of(x))
    row, col = (a % ndim for a in axes)
    if row == col:
        raise ValueError("norm: duplicate axes given")
    if ord in (None, "fro"):
        out = _norm2(x, (row, col), keepdims)
        return out
    if ord in ("nuc", 2, -2):
        from nablanet.ops.linalg_decomp import svdvals

        s = svdvals(moveaxis(x, (row, col), (-2, -1)))
        out = {"nuc": lambda: reduce_sum(s, axis=-1), 2: lambda: reduce_max(s, axis=-1),
               -2: lambda: reduce_min(s, axis=-1)}[ord]()
    elif ord in (1, -1):
        sums = reduce_sum(absolute(x), axis=row, keepdims=True)
        pick = reduce_max if ord == 1 else reduce_min
        out = pick(sums, axis=col, keepdims=True)
        out = reshape(out, tuple(s for i, s in enumerate(shape_of(out)) if i not in (row, col)))
    elif ord in (np.inf, -np.inf):
        sums = reduce_sum(absolute(x), axis=col, keepdims=True)
        pick = reduce_max if ord == np.inf else reduce_min
        out = pick(sums, axis=row, keepdims=True)
        out = reshape(out, tuple(s for i, s in enumerate(shape_of(out)) if i not in (row, col)))
    else:
        raise ValueError(f"norm: invalid norm order {ord!r} for matrices")
    if keepdims:
        out = reshape(out, _kept_shape(shape_of(x), (row, col)))
    return out


def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002
    """Vector or matrix norm (``numpy.linalg.norm``).

    Vector orders: None/2, 1, inf, -inf, 0 (a count, not differentiable), any other
    number p as ``(sum |x|^p)^(1/p)``.  Matrix orders: None/'fro', 'nuc', 1, -1, 2, -2,
    inf, -inf.  The 2-norm's gradient at zero is taken as 0.
    """
    x = x if hasattr(x, "shape") else np.asarray(x, dtype=float)
    ndim = len(shape_of(x))
    if axis is None:
        if ord is None:
            out = _norm2(x, None, False)
            return reshape(out, (1,) * ndim) if keepdims else out
        if ndim == 1:
            return _vector_norm(x, ord, 0, keepdims)
        if ndim == 2:
            return _matrix_norm(x, ord, (0, 1), keepdims)
        raise ValueError("norm: improper number of dimensions to norm")
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes[0] % ndim, keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, ord, axes, keepdims)
    raise ValueError("norm: improper number of dimensions to norm")


__all__ = ["norm"]
