"""Inverses, solves, determinants and decompositions with derivatives from matrix identities.

Every function follows ``numpy.linalg`` (stacked matrices in the last two axes).
Decompositions with several outputs (``eigh``, ``svd``, ``qr``, ``slogdet``) are
one primitive each whose array packs the outputs side by side along a last axis;
the public function unpacks them with ``packed_part`` (one primitive per output), so a backward
pass hands the rule the cotangent of every output at once (zeros for the unused).

Where NumPy reads one triangle of a symmetric input (``cholesky``, ``eigh``) the
gradient is that of NumPy's function: the read triangle carries the off-diagonal
terms twice, the other triangle nothing.  For a symmetric parametrisation (``X +
X.T``) that gives the familiar symmetric gradient.  Where a derivative does not
exist (a singular matrix, repeated eigenvalues for the eigenvectors), the rule
raises and says so rather than returning a wrong value.
"""

from __future__ import annotations

from collections import namedtuple
from functools import lru_cache

import numpy as np

from nablanet.autodiff.primitive import Primitive
from nablanet.autodiff.tensor import Tensor, raw, shape_of
from nablanet.ops._broadcast import unbroadcast
from nablanet.ops.arithmetic import where
from nablanet.ops.linalg import matmul2
from nablanet.ops.reductions import sum as reduce_sum
from nablanet.ops.shape import getitem, reshape, swapaxes

LinAlgError = np.linalg.LinAlgError
try:  # NumPy's own result types (NumPy >= 2), so results compare and print alike
    from numpy.linalg._linalg import EighResult, QRResult, SlogdetResult, SVDResult
except ImportError:  # pragma: no cover - NumPy 1.x
    SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])
    EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
    SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])
    QRResult = namedtuple("QRResult", ["Q", "R"])


# -- helpers --------------------------------------------------------------------------------
def _mT(x):  # noqa: N802 - the matrix transpose, as PyTorch's .mT
    return swapaxes(x, -1, -2)


def _mm(a, b):
    return matmul2(a, b)


def _col(v):
    """A vector stack ``(..., n)`` as column stack ``(..., n, 1)``."""
    return reshape(v, tuple(shape_of(v)) + (1,))


def _drop_last(x):
    """A column stack ``(..., n, 1)`` as vector stack ``(..., n)``."""
    return reshape(x, tuple(shape_of(x)[:-1]))


def _row(v):
    return reshape(v, tuple(shape_of(v)[:-1]) + (1, shape_of(v)[-1]))


def _array(x):
    """Tensors and arrays pass; other array_like inputs (lists) become arrays."""
    return x if isinstance(x, (Tensor, np.ndarray)) else np.asarray(x, dtype=float)


def _square(a, name):
    shape = shape_of(a)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise LinAlgError(
            f"{name}: expected square matrices in the last two axes, got shape {tuple(shape)}"
        )


def _eye_like(n, x):
    return np.eye(n, dtype=getattr(raw(x), "dtype", np.float64))


@lru_cache(maxsize=64)
def _tri_mask(n, lower, strict=False):
    """A read-only boolean triangle (cached: the rules ask for the same few many times)."""
    k = -1 if strict else 0
    mask = np.tri(n, n, k, dtype=bool) if lower else np.tri(n, n, k, dtype=bool).T
    mask.flags.writeable = False
    return mask


@lru_cache(maxsize=64)
def _diagonal_mask(n):
    mask = np.eye(n, dtype=bool)
    mask.flags.writeable = False
    return mask


def _strict(x, lower):
    return np.tril(x, -1) if lower else np.triu(x, 1)


def _read_impl(s, lower):
    return _strict(s + np.swapaxes(s, -1, -2), lower) + s * _diagonal_mask(s.shape[-1])


def _mirror_impl(g, lower):
    strict = _strict(g, lower)
    return strict + np.swapaxes(strict, -1, -2) + g * _diagonal_mask(g.shape[-1])


def _half_diagonal_impl(x):
    return np.tril(x, -1) + 0.5 * x * _diagonal_mask(x.shape[-1])


#: The gradient of a function of one triangle from a gradient ``s`` for symmetric input:
#: with S = (s + s^T)/2, the read triangle gets 2 S off the diagonal (each entry stands
#: for two) and S on it, i.e. ``s + s^T`` there and ``s`` on the diagonal
_read_triangle = Primitive("read_triangle", _read_impl)
#: The adjoint map: the triangle copied onto the other (``copyltu`` for the lower one)
_mirror_triangle = Primitive("mirror_triangle", _mirror_impl)
# each is linear and the transpose of the other
_read_triangle.defvjp(lambda g, ans, s, lower: _mirror_triangle(g, lower), None)
_mirror_triangle.defvjp(lambda g, ans, x, lower: _read_triangle(g, lower), None)
#: Phi of Murray (2016): the lower triangle with half its diagonal (linear, self-adjoint)
_half_diagonal = Primitive("lower_half_diagonal", _half_diagonal_impl)
_half_diagonal.defvjp(lambda g, ans, x: _half_diagonal(g))


def _part_impl(packed, start, shape):
    size = int(np.prod(shape))
    return packed[..., start:start + size].reshape(packed.shape[:-1] + tuple(shape))


def _place_impl(values, start, shape, total):
    # the part's cotangent written into zeros of the packed width (the other parts get 0)
    lead = values.shape[: values.ndim - len(shape)]
    out = np.zeros(lead + (total,), dtype=values.dtype)
    size = int(np.prod(shape))
    out[..., start:start + size] = values.reshape(lead + (size,))
    return out


_part = Primitive("packed_part", _part_impl)
_place = Primitive("packed_place", _place_impl)
# a slice of the packed outputs, reshaped: its cotangent is placed back (zeros elsewhere)
_part.defvjp(lambda g, ans, packed, start, shape: _place(g, start, shape,
                                                         shape_of(packed)[-1]), None, None)
# placing is linear: its transpose reads the part back
_place.defvjp(lambda g, ans, values, start, shape, total: _part(g, start, shape),
              None, None, None)


def _unpack(packed, shapes):
    """Split the last axis of ``packed`` into arrays of trailing shapes ``shapes``."""
    out, start = [], 0
    for shape in shapes:
        out.append(_part(packed, start, tuple(shape)))
        start += int(np.prod(shape))
    return out


def _pack(arrays, stack):
    sizes = [int(np.prod(np.shape(a)[len(stack):])) for a in arrays]
    return np.concatenate([np.reshape(a, stack + (n,)) for a, n in zip(arrays, sizes,
                                                                      strict=True)], axis=-1)


def _numpy_errors(prim):
    """``prim`` raising NumPy's ``LinAlgError`` itself, as ``numpy.linalg`` does.

    ``Primitive.__call__`` turns a ``ValueError`` from ``impl`` into a shape error, and
    ``LinAlgError`` is a ``ValueError``; the original is the error's context.
    """

    def call(*args, **kwargs):
        try:
            return prim(*args, **kwargs)
        except LinAlgError:
            raise
        except ValueError as err:
            if isinstance(err.__context__, LinAlgError):
                raise err.__context__ from None
            raise

    call.prim = prim
    return call


def _singular_error(name, fix):
    return LinAlgError(
        f"{name}: the matrix is singular, so {fix}; use nb.linalg.pinv or nb.linalg.lstsq "
        "for a least-squares answer"
    )


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


_solve = _numpy_errors(Primitive("solve", _solve_impl).defvjp_joint(_solve_rule))


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
_trsolve = _numpy_errors(Primitive("solve_triangular", _trsolve_impl).defvjp_joint(_trsolve_rule))


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


# -- Cholesky ---------------------------------------------------------------------------------
def _cholesky_impl(a):
    try:
        return np.linalg.cholesky(a)
    except LinAlgError:
        raise LinAlgError(
            "cholesky: the matrix is not positive definite (check that it is symmetric and "
            "its eigenvalues positive; add a multiple of the identity to regularise)"
        ) from None


def _cholesky_rule(g, ans, a):
    # A = L L^T  =>  dL = L Phi(L^-1 dA L^-T), Phi = lower triangle with half its diagonal,
    # so the symmetric gradient is S = L^-T Phi(L^T G) L^-1 (Murray 2016), read from tril(A)
    n = shape_of(a)[-1]
    g = where(_tri_mask(n, True), g, 0.0)
    phi = _half_diagonal(_mm(_mT(ans), g))
    if len(shape_of(g)) == len(shape_of(ans)):
        # one cotangent: two triangular solves, L^-T (L^-T Phi^T)^T, cost 2 n^3 flops
        half = _trsolve(_mT(ans), _mT(phi), lower=False, unit_diagonal=False)
        s = _mT(_trsolve(_mT(ans), _mT(half), lower=False, unit_diagonal=False))
    else:
        # a batch of cotangents (jacobian): L^-1 once, then batched products
        linv = _trsolve(ans, _eye_like(n, a), lower=True, unit_diagonal=False)
        s = _mm(_mm(_mT(linv), phi), linv)
    return _read_triangle(s, True)


_cholesky = _numpy_errors(Primitive("cholesky", _cholesky_impl).defvjp(_cholesky_rule))


def cholesky(a, upper=False):
    """Cholesky factor (``numpy.linalg.cholesky``): lower ``L`` with ``a = L L^T``.

    Only the lower triangle of ``a`` is read (the upper with ``upper=True``, which
    returns ``L^T``), so the gradient lives on that triangle.
    """
    a = _array(a)
    _square(a, "cholesky")
    if upper:
        return _mT(_cholesky(_mT(a)))
    return _cholesky(a)


# -- symmetric eigendecomposition ---------------------------------------------------------
def _eigh_impl(a, lower):
    w, v = np.linalg.eigh(a, UPLO="L" if lower else "U")
    return _pack([w, v], a.shape[:-2])


def _gap_mask_impl(w, *vector_cotangents, name="eigh"):
    # True off the diagonal where two values differ by more than rounding.  The check that
    # the vectors' cotangents vanish where they do not lives here, in a primitive, so that
    # a replayed backward pass repeats it
    gaps = np.abs(w[..., None, :] - w[..., :, None])
    scale = np.max(np.abs(w), axis=-1, keepdims=True)[..., None]
    distinct = gaps > 1e3 * np.finfo(w.dtype).eps * np.maximum(scale, 1e-300) * w.shape[-1]
    off_diagonal = ~np.eye(w.shape[-1], dtype=bool)
    if (~distinct & off_diagonal).any() and any(np.any(c != 0) for c in vector_cotangents):
        what = "eigenvectors" if name == "eigh" else "singular vectors"
        raise LinAlgError(
            f"{name}: the {what} are not differentiable where two of the values repeat (the "
            "basis of a repeated value is arbitrary); differentiate only the values, or a "
            "function of the subspace (a projector), instead"
        )
    return distinct & off_diagonal


_gap_mask = Primitive("spectral_gap_mask", _gap_mask_impl, differentiable=False)


def _inverse_gaps_impl(w, distinct):
    gaps = w[..., None, :] - w[..., :, None]
    return np.where(distinct, 1.0 / np.where(distinct, gaps, 1.0), 0.0).astype(w.dtype)


def _inverse_gaps_rule(g, ans, w, distinct):
    # F_ij = 1 / (w_j - w_i)  =>  dF_ij = F_ij^2 (dw_i - dw_j), so with H = G o F o F,
    # dL/dw_k = sum_j H_kj - sum_i H_ik
    h = g * ans * ans
    return reduce_sum(h, axis=-1) - reduce_sum(h, axis=-2)


#: ``F_ij = 1 / (w_j - w_i)`` off the diagonal where the values are distinct, else 0
_inverse_gaps = Primitive("inverse_gaps", _inverse_gaps_impl)
_inverse_gaps.defvjp(_inverse_gaps_rule, None)



def _eigh_rule(g, ans, a, lower):
    # A = V diag(w) V^T  =>  dw = diag(V^T dA V), dV = V (F o V^T dA V), F_ij = 1/(w_j - w_i),
    # so the symmetric gradient is S = V (diag(gw) + F o V^T gV) V^T
    n = shape_of(a)[-1]
    w, v = _unpack(ans, [(n,), (n, n)])
    gw, gv = _unpack(g, [(n,), (n, n)])
    distinct = _gap_mask(w, gv, name="eigh")
    inner = _inverse_gaps(w, distinct) * _mm(_mT(v), gv) + where(_diagonal_mask(n),
                                                                   _col(gw), 0.0)
    s = _mm(_mm(v, inner), _mT(v))
    return _read_triangle(s, lower)


_eigh = Primitive("eigh", _eigh_impl)
_eigh.defvjp(_eigh_rule, None)
_eigh = _numpy_errors(_eigh)


def eigh(a, UPLO="L"):  # noqa: N803 - NumPy's parameter name
    """Eigenvalues (ascending) and eigenvectors of symmetric matrices (``numpy.linalg.eigh``).

    Returns ``EighResult(eigenvalues, eigenvectors)``.  Only the ``UPLO`` triangle is
    read.  The eigenvectors' derivative needs distinct eigenvalues: where two repeat, a
    backward pass through the eigenvectors raises.
    """
    a = _array(a)
    _square(a, "eigh")
    if UPLO not in ("L", "U"):
        raise ValueError(f"eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    n = shape_of(a)[-1]
    w, v = _unpack(_eigh(a, UPLO == "L"), [(n,), (n, n)])
    return EighResult(w, v)


def eigvalsh(a, UPLO="L"):  # noqa: N803
    """Eigenvalues of symmetric matrices; always differentiable (``V diag(g) V^T``)."""
    return eigh(a, UPLO).eigenvalues


# -- singular value decomposition ---------------------------------------------------------
def _svd_impl(a, full_matrices):
    u, s, vh = np.linalg.svd(a, full_matrices=full_matrices)
    return _pack([u, s, vh], a.shape[:-2])


def _svd_shapes(m, n, full):
    k = min(m, n)
    return [(m, m if full else k), (k,), (n if full else k, n)]


def _svd_rule(g, ans, a, full_matrices):
    # A = U S V^T.  With F_ij = 1/(s_j^2 - s_i^2) off the diagonal, J = F o (U^T gU),
    # K = F o (V^T gV):  dL/dA = U [(J + J^T) S + diag(gs) + S (K + K^T)] V^T
    #   + (I - U U^T) gU S^-1 V^T + U S^-1 gV^T (I - V V^T)   (Townsend 2016)
    m, n = shape_of(a)[-2:]
    k = min(m, n)
    u, s, vh = _unpack(ans, _svd_shapes(m, n, full_matrices))
    gu, gs, gvh = _unpack(g, _svd_shapes(m, n, full_matrices))
    if full_matrices and m != n:
        # the first k columns of U and rows of Vh are the reduced factors; the others span
        # an arbitrary basis of the complement and have no derivative
        if np.any(raw(gu)[..., k:] != 0) or np.any(raw(gvh)[..., k:, :] != 0):
            raise LinAlgError(
                "svd: with full_matrices=True the extra singular vectors are arbitrary and "
                "have no derivative; call svd(a, full_matrices=False)"
            )
        columns, rows = (Ellipsis, slice(0, k)), (Ellipsis, slice(0, k), slice(None))
        u, vh = getitem(u, columns), getitem(vh, rows)
        gu, gvh = getitem(gu, columns), getitem(gvh, rows)
    v, gv = _mT(vh), _mT(gvh)
    distinct = _gap_mask(s * s, gu, gvh, name="svd")
    vectors_used = np.any(raw(gu) != 0) or np.any(raw(gvh) != 0)
    if vectors_used and np.any(raw(s) == 0) and m != n:
        raise LinAlgError("svd: the singular vectors of a rank-deficient non-square matrix "
                          "have no derivative")
    f = _inverse_gaps(s * s, distinct)
    j = f * _mm(_mT(u), gu)
    kk = f * _mm(_mT(v), gv)
    s_row, s_col = _row(s), _col(s)
    core = (j + _mT(j)) * s_row + s_col * (kk + _mT(kk)) + where(_diagonal_mask(k),
                                                                   _col(gs), 0.0)
    out = _mm(_mm(u, core), vh)
    if m > k:
        gu_perp = gu - _mm(u, _mm(_mT(u), gu))
        out = out + _mm(gu_perp / s_row, vh)
    if n > k:
        gv_perp = gv - _mm(v, _mm(_mT(v), gv))
        out = out + _mm(u / s_row, _mT(gv_perp))
    return out


_svd = Primitive("svd", _svd_impl)
_svd.defvjp(_svd_rule, None)
_svd = _numpy_errors(_svd)


def svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    """Singular value decomposition (``numpy.linalg.svd``).

    Returns ``SVDResult(U, S, Vh)``, or the singular values alone with
    ``compute_uv=False``.  Derivatives of ``U`` and ``Vh`` need distinct singular values
    (and ``full_matrices=False`` for a non-square matrix); otherwise a backward pass
    through them raises.  ``hermitian`` is accepted and ignored.
    """
    a = _array(a)
    shape = shape_of(a)
    if len(shape) < 2:
        raise LinAlgError(f"svd: expected matrices in the last two axes, got shape {shape}")
    m, n = shape[-2:]
    full = bool(full_matrices) and compute_uv
    u, s, vh = _unpack(_svd(a, full), _svd_shapes(m, n, full))
    if not compute_uv:
        return s
    return SVDResult(u, s, vh)


def svdvals(a):
    """Singular values, descending; differentiable as ``U diag(g) V^T``."""
    return svd(a, compute_uv=False)


# -- QR ------------------------------------------------------------------------------------------
def _qr_impl(a, complete):
    q, r = np.linalg.qr(a, mode="complete" if complete else "reduced")
    return _pack([q, r], a.shape[:-2])


def _qr_shapes(m, n, complete):
    k = m if complete else min(m, n)
    return [(m, k), (k, n)]


def _qr_rule(g, ans, a, complete):
    # A = Q R (m >= n):  M = R gR^T - gQ^T Q,  dL/dA = (gQ + Q copyltu(M)) R^-T
    # with copyltu(M) = tril(M) + tril(M, -1)^T  (Seeger et al. 2018; Liao et al. 2019)
    m, n = shape_of(a)[-2:]
    if m < n or (complete and m != n):
        raise LinAlgError(
            "qr: the derivative is implemented for m >= n with mode='reduced' (wide or "
            "complete factorisations have arbitrary columns); transpose the problem"
        )
    q, r = _unpack(ans, _qr_shapes(m, n, complete))
    gq, gr = _unpack(g, _qr_shapes(m, n, complete))
    gr = where(_tri_mask(n, False), gr, 0.0)
    mm = _mm(r, _mT(gr)) - _mm(_mT(gq), q)
    b = gq + _mm(q, _mirror_triangle(mm, True))
    return _mT(_trsolve(r, _mT(b), lower=False, unit_diagonal=False))


_qr = Primitive("qr", _qr_impl)
_qr.defvjp(_qr_rule, None)
_qr = _numpy_errors(_qr)


def qr(a, mode="reduced"):
    """QR factorisation (``numpy.linalg.qr``): modes 'reduced', 'complete' and 'r'."""
    a = _array(a)
    shape = shape_of(a)
    if len(shape) < 2:
        raise LinAlgError(f"qr: expected matrices in the last two axes, got shape {shape}")
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"qr: mode must be 'reduced', 'complete' or 'r', got {mode!r}")
    m, n = shape[-2:]
    complete = mode == "complete"
    q, r = _unpack(_qr(a, complete), _qr_shapes(m, n, complete))
    return r if mode == "r" else QRResult(q, r)


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


__all__ = [
    "LinAlgError", "cholesky", "det", "eigh", "eigvalsh", "inv", "lstsq", "matrix_power",
    "pinv", "qr", "slogdet", "solve", "solve_triangular", "svd", "svdvals",
]
