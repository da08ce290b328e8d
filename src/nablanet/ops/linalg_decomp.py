"""Decompositions (Cholesky, eigh, SVD, QR) with derivatives from matrix identities.

Every function follows ``numpy.linalg`` (stacked matrices in the last two axes).
Decompositions with several outputs (``eigh``, ``svd``, ``qr``) are one primitive
each whose array packs the outputs side by side along a last axis; the public
function unpacks them with ``packed_part`` (one primitive per output), so a backward
pass hands the rule the cotangent of every output at once (zeros for the unused).

Where NumPy reads one triangle of a symmetric input (``cholesky``, ``eigh``) the
gradient is that of NumPy's function: the read triangle carries the off-diagonal
terms twice, the other triangle nothing.  For a symmetric parametrisation (``X +
X.T``) that gives the familiar symmetric gradient.  Where a derivative does not
exist (a singular matrix, repeated eigenvalues for the eigenvectors), the rule
raises and says so rather than returning a wrong value.
"""

from __future__ import annotations

import numpy as np

from nablanet.autodiff.primitive import Primitive
from nablanet.autodiff.tensor import raw, shape_of
from nablanet.ops._linalg_common import (
    EighResult,
    LinAlgError,
    QRResult,
    SVDResult,
    _array,
    _col,
    _diagonal_mask,
    _eye_like,
    _mm,
    _mT,
    _numpy_errors,
    _row,
    _square,
    _tri_mask,
)
from nablanet.ops.arithmetic import where
from nablanet.ops.linalg_solve import _trsolve
from nablanet.ops.reductions import sum as reduce_sum
from nablanet.ops.shape import getitem


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


__all__ = ["cholesky", "eigh", "eigvalsh", "qr", "svd", "svdvals"]
