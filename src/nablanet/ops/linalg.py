"""Matrix products: matmul (batched, broadcasting) and what is built from it."""

from __future__ import annotations

import numpy as np

from nablanet.autodiff.primitive import Primitive
from nablanet.autodiff.tensor import shape_of
from nablanet.ops._broadcast import unbroadcast
from nablanet.ops.arithmetic import multiply
from nablanet.ops.reductions import sum as reduce_sum
from nablanet.ops.shape import reshape, swapaxes

#: Below this many output columns, a tall product is computed as (B^T A^T)^T.
_NARROW_COLUMNS = 32
_TALL_ROWS = 4096


def _matmul_impl(a, b):
    if a.ndim > 2 and b.ndim == 2:
        # a stack of matrices times one matrix is one large GEMM, not a loop of small ones
        flat = a.reshape(-1, a.shape[-1])
        out_shape = a.shape[:-1] + (b.shape[-1],)
        if b.shape[-1] <= _NARROW_COLUMNS and flat.shape[0] >= _TALL_ROWS:
            # BLAS is several times faster at a wide product than a tall narrow one;
            # the transposed result reshapes to the stack without a copy
            return (b.T @ flat.T).T.reshape(out_shape)
        return (flat @ b).reshape(out_shape)
    if a.ndim == 2 and b.ndim > 2 and b.shape[-1] == 1:
        # one matrix times a stack of column vectors (a batch of cotangents through A x):
        # one GEMM reading A once, not one matrix-vector product per vector
        flat = b.reshape(-1, b.shape[-2])
        return (flat @ a.T).reshape(b.shape[:-2] + (a.shape[0], 1))
    return np.matmul(a, b)


def _matmul_rule_a(g, ans, a, b):
    # C = A B  =>  dL/dA = dL/dC B^T
    return unbroadcast(matmul2(g, swapaxes(b, -1, -2)), shape_of(a), len(shape_of(ans)))


def _matmul_rule_b(g, ans, a, b):
    # C = A B  =>  dL/dB = A^T dL/dC
    return unbroadcast(matmul2(swapaxes(a, -1, -2), g), shape_of(b), len(shape_of(ans)))


def _matmul_first_order(g, ans, needs, a, b):
    # the two rules above on plain 2-D arrays: g B^T and A^T g straight on NumPy (no
    # swapaxes or matmul dispatch, no unbroadcast: 2-D operands broadcast nothing)
    if g.ndim != 2 or type(a) is not np.ndarray or type(b) is not np.ndarray:
        return None
    if a.ndim != 2 or b.ndim != 2:
        return None
    return g @ b.T if needs[0] else None, a.T @ g if needs[1] else None


matmul2 = Primitive("matmul", _matmul_impl)
matmul2.defvjp(_matmul_rule_a, _matmul_rule_b)
matmul2.defvjp_inplace(_matmul_first_order, needs_exclusive=False)


def matmul(a, b):
    """Matrix product with NumPy's semantics (1-D operands promoted, then squeezed).

    Parameters
    ----------
    a, b : Tensor or array_like
        At least one dimension each; leading dimensions broadcast.

    Returns
    -------
    Tensor or ndarray
    """
    a_shape, b_shape = shape_of(a), shape_of(b)
    if len(a_shape) == 0 or len(b_shape) == 0:
        raise ValueError(
            f"matmul: operands must have at least one dimension, got shapes {a_shape} and {b_shape}"
        )
    if len(a_shape) == 1:
        a = reshape(a, (1,) + tuple(a_shape))
    if len(b_shape) == 1:
        b = reshape(b, tuple(b_shape) + (1,))
    out = matmul2(a, b)
    out_shape = shape_of(out)
    if len(a_shape) == 1 and len(b_shape) == 1:
        return reshape(out, ())
    if len(a_shape) == 1:
        return reshape(out, out_shape[:-2] + out_shape[-1:])
    if len(b_shape) == 1:
        return reshape(out, out_shape[:-1])
    return out


def outer(a, b):
    """Outer product of two vectors: ``out[i, j] = a[i] * b[j]``."""
    return multiply(reshape(a, (-1, 1)), reshape(b, (1, -1)))


def vdot(a, b):
    """Sum of the elementwise product of two arrays of the same shape."""
    return reduce_sum(multiply(a, b))


dot = matmul
