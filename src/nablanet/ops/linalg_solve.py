"""Inverses, solves, determinants, pseudo-inverses and powers (``numpy.linalg``).

Each rule is derived from its matrix identity, written above it; stacked matrices in
the last two axes, as NumPy.  A singular matrix is refused with NumPy's ``LinAlgError``
and the fix in the message.
"""

from __future__ import annotations

import numpy as np

from nablanet.autodiff.primitive import Primitive
from nablanet.autodiff.tensor import raw, shape_of
from nablanet.ops._broadcast import unbroadcast
from nablanet.ops._linalg_common import (
    LinAlgError,
    SlogdetResult,
    _array,
    _col,
    _drop_last,
    _eye_like,
    _mm,
    _mT,
    _numpy_errors,
    _singular_error,
    _square,
    _tri_mask,
)
from nablanet.ops.arithmetic import where
from nablanet.ops.linalg import matmul2
from nablanet.ops.reductions import sum as reduce_sum
from nablanet.ops.shape import getitem, reshape

# -- inverse and solve -----------------------------------------------------------------------
#: From this size on, one matrix is inverted by SciPy's LAPACK (getrf + getri), about twice
#: as fast as NumPy's inverse by a general solve against the identity at n = 200
_SCIPY_INV_SIZE = 100


def _inv_impl(a):
    try:
        if a.ndim == 2 and a.shape[0] >= _SCIPY_INV_SIZE:
            from scipy.linalg import inv as lapack_inv

            return lapack_inv(a, check_finite=False)
        return np.linalg.inv(a)
    except LinAlgError:
        raise _singular_error("inv", "its inverse (and its derivative) does not exist") from None


_inv = Primitive("inv", _inv_impl)
# d(A^-1) = -A^-1 dA A^-1  =>  dL/dA = -A^-T G A^-T
_inv.defvjp(lambda g, ans, a: -_mm(_mm(_mT(ans), g), _mT(ans)))
_inv = _numpy_errors(_inv)


def inv(a):
    """Inverse of a square matrix, or of each in a stack (``numpy.linalg.inv``)."""
    a = _array(a)
    _square(a, "inv")
    return _inv(a)


def _solve_impl(a, b):
    try:
        return np.linalg.solve(a, b)
    except LinAlgError:
        raise _singular_error("solve", "A x = b has no unique solution") from None


def _solve_rule(g, ans, needs, a, b):
    # A X = B  =>  dX = A^-1 (dB - dA X)  =>  dL/dB = A^-T G and dL/dA = -(A^-T G) X^T,
    # one solve shared by both
    n_out = len(shape_of(ans))
    gb = _solve(_mT(a), g)
    ga = unbroadcast(-_mm(gb, _mT(ans)), shape_of(a), n_out) if needs[0] else None
    return ga, unbroadcast(gb, shape_of(b), n_out) if needs[1] else None


_solve = _numpy_errors(Primitive("solve", _solve_impl).defvjp_joint(_solve_rule, values=(0, 1)))


def solve(a, b):
    """Solve ``a x = b`` (``numpy.linalg.solve``: a 1-D ``b`` is one vector)."""
    a, b = _array(a), _array(b)
    _square(a, "solve")
    if len(shape_of(b)) == 1:
        return _drop_last(_solve(a, _col(b)))
    return _solve(a, b)


# -- triangular solve -------------------------------------------------------------------------
def _trsolve_impl(a, b, lower, unit_diagonal):
    # LAPACK's triangular solve (SciPy, loaded on first use): n^2 k flops where a general
    # solve of the masked matrix would factorise it first (about 6 ms against 0.6 ms at n = 200)
    from scipy.linalg import solve_triangular as triangular

    if np.any(np.diagonal(a, axis1=-2, axis2=-1) == 0) and not unit_diagonal:
        raise _singular_error("solve_triangular", "a zero sits on its diagonal")
    stack = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    if not stack:
        return triangular(a, b, lower=lower, unit_diagonal=unit_diagonal, check_finite=False)
    a = np.broadcast_to(a, stack + a.shape[-2:])
    b = np.broadcast_to(b, stack + b.shape[-2:])
    out = np.empty(stack + b.shape[-2:], dtype=np.result_type(a, b))
    for i in np.ndindex(stack):
        out[i] = triangular(a[i], b[i], lower=lower, unit_diagonal=unit_diagonal,
                            check_finite=False)
    return out


def _trsolve_rule(g, ans, needs, a, b, lower, unit_diagonal):
    # T X = B  =>  dL/dB = T^-T G and dL/dT = -(T^-T G) X^T on the triangle T is read from,
    # one solve shared by both
    n_out = len(shape_of(ans))
    gb = _trsolve(_mT(a), g, lower=not lower, unit_diagonal=unit_diagonal)
    ga = None
    if needs[0]:
        full = -_mm(gb, _mT(ans))
        ga = where(_tri_mask(shape_of(a)[-1], lower, unit_diagonal), full, 0.0)
        ga = unbroadcast(ga, shape_of(a), n_out)
    return ga, unbroadcast(gb, shape_of(b), n_out) if needs[1] else None


# lower and unit_diagonal are keywords: the positional arguments are the two values
_trsolve = _numpy_errors(Primitive("solve_triangular", _trsolve_impl).defvjp_joint(
    _trsolve_rule, values=(0, 1)))


def solve_triangular(a, b, trans=0, lower=False, unit_diagonal=False):
    """Solve ``a x = b`` reading only one triangle of ``a`` (``scipy.linalg.solve_triangular``).

    Parameters
    ----------
    a : (..., M, M) Tensor or array_like
    b : (..., M) or (..., M, K) Tensor or array_like
    trans : {0, 1, 'N', 'T'}
        Solve with ``a`` (0, 'N') or its transpose (1, 'T').
    lower : bool, default False
        Read the lower triangle (else the upper), as SciPy.
    unit_diagonal : bool, default False
        Take the diagonal as ones (it is not read).
    """
    a, b = _array(a), _array(b)
    _square(a, "solve_triangular")
    if trans in (1, "T", "C"):
        a, lower = _mT(a), not lower
    elif trans not in (0, "N"):
        raise ValueError(f"solve_triangular: trans must be 0, 1, 'N' or 'T', got {trans!r}")
    flags = {"lower": bool(lower), "unit_diagonal": bool(unit_diagonal)}
    if len(shape_of(b)) == 1:
        return _drop_last(_trsolve(a, _col(b), **flags))
    return _trsolve(a, b, **flags)


# -- determinants -----------------------------------------------------------------------------
def _det_rule(g, ans, a):
    # d det A = det A tr(A^-1 dA)  =>  dL/dA = g det(A) A^-T
    if np.any(raw(ans) == 0):
        raise LinAlgError(
            "det: the gradient at a singular matrix is its adjugate, which is not "
            "implemented; differentiate slogdet of a nearby non-singular matrix instead"
        )
    return _col(_col(g * ans)) * _mT(_inv(a))


_det = Primitive("det", np.linalg.det)
_det.defvjp(_det_rule)
_det = _numpy_errors(_det)


def det(a):
    """Determinant (``numpy.linalg.det``)."""
    a = _array(a)
    _square(a, "det")
    return _det(a)


def _slogdet_impl(a):
    sign, logabs = np.linalg.slogdet(a)
    return np.stack([sign, logabs], axis=-1)


def _slogdet_rule(g, ans, a):
    # d log|det A| = tr(A^-1 dA)  =>  dL/dA = g A^-T  (the sign is piecewise constant)
    if np.any(raw(ans)[..., 0] == 0):
        raise LinAlgError(
            "slogdet: log|det| is -inf at a singular matrix and has no derivative there"
        )
    g_log = getitem(g, (Ellipsis, 1))
    return _col(_col(g_log)) * _mT(_inv(a))


_slogdet = Primitive("slogdet", _slogdet_impl)
_slogdet.defvjp(_slogdet_rule)
_slogdet = _numpy_errors(_slogdet)


def slogdet(a):
    """Sign and natural log of the absolute determinant (``numpy.linalg.slogdet``).

    Returns ``SlogdetResult(sign, logabsdet)``; only ``logabsdet`` has a derivative.
    """
    a = _array(a)
    _square(a, "slogdet")
    packed = _slogdet(a)
    return SlogdetResult(getitem(packed, (Ellipsis, 0)), getitem(packed, (Ellipsis, 1)))


# -- pseudo-inverse and least squares ------------------------------------------------------
def _pinv_impl(a, rcond):
    return np.linalg.pinv(a, rcond=rcond)


def _pinv_rule(g, ans, a, rcond):
    # dP = -P dA P + P P^T dA^T (I - A P) + (I - P A) dA^T P^T P  (Golub and Pereyra 1973)
    # =>  dL/dA = -P^T G P^T + (I - A P) G^T P P^T + P^T P G^T (I - P A)
    p, gt = ans, _mT(g)
    m, n = shape_of(a)[-2:]
    left = _eye_like(m, a) - _mm(a, p)
    right = _eye_like(n, a) - _mm(p, a)
    out = -_mm(_mm(_mT(p), g), _mT(p))
    out = out + _mm(_mm(left, gt), _mm(p, _mT(p))) + _mm(_mm(_mT(p), p), _mm(gt, right))
    return out


_pinv = Primitive("pinv", _pinv_impl)
_pinv.defvjp(_pinv_rule, None)
_pinv = _numpy_errors(_pinv)


def pinv(a, rcond=None):
    """Moore-Penrose pseudo-inverse (``numpy.linalg.pinv``).

    Differentiable where the rank is locally constant (full-rank matrices in
    particular); singular values below ``rcond`` times the largest are cut.
    """
    a = _array(a)
    shape = shape_of(a)
    if len(shape) < 2:
        raise LinAlgError(f"pinv: expected matrices in the last two axes, got shape {shape}")
    if rcond is None:
        rcond = 1e-15
    return _pinv(a, float(rcond))


def lstsq(a, b, rcond=None):
    """Least-squares solution of ``a x = b`` (``numpy.linalg.lstsq``).

    Returns ``(x, residuals, rank, s)`` as NumPy; ``x`` (through the pseudo-inverse) and
    ``residuals`` are differentiable, ``rank`` and ``s`` are constants.
    """
    a, b = _array(a), _array(b)

    a_shape, b_shape = shape_of(a), shape_of(b)
    if len(a_shape) != 2 or len(b_shape) not in (1, 2) or b_shape[0] != a_shape[0]:
        raise LinAlgError(f"lstsq: expected a of shape (M, N) and b of shape (M,) or (M, K), "
                          f"got {a_shape} and {b_shape}")
    m, n = a_shape
    cut = np.finfo(np.float64).eps * max(m, n) if rcond is None else rcond
    _, residuals_np, rank, s = np.linalg.lstsq(raw(a), raw(b), rcond=cut)
    x = matmul2(pinv(a, cut), b if len(b_shape) == 2 else _col(b))
    if len(b_shape) == 1:
        x = reshape(x, (n,))
    if rank == n and m > n:
        fitted = matmul2(a, _col(x) if len(b_shape) == 1 else x)
        resid = b - (reshape(fitted, (m,)) if len(b_shape) == 1 else fitted)
        residuals = reduce_sum(resid * resid, axis=0)
        residuals = reshape(residuals, (1,)) if len(b_shape) == 1 else residuals
    else:
        residuals = residuals_np
    return x, residuals, int(rank), s


# -- powers ---------------------------------------------------------------------------------
def matrix_power(a, n):
    """``a`` to the integer power ``n`` (``numpy.linalg.matrix_power``), by squaring."""
    a = _array(a)
    _square(a, "matrix_power")
    if int(n) != n:
        raise TypeError(f"matrix_power: exponent must be an integer, got {n!r}")
    n = int(n)
    size = shape_of(a)[-1]
    if n == 0:
        return np.broadcast_to(_eye_like(size, a), tuple(shape_of(a))).copy()
    if n < 0:
        a, n = inv(a), -n
    result, base = None, a
    while n:
        if n & 1:
            result = base if result is None else _mm(result, base)
        n >>= 1
        if n:
            base = _mm(base, base)
    return result



__all__ = ["det", "inv", "lstsq", "matrix_power", "pinv", "slogdet", "solve",
           "solve_triangular"]
