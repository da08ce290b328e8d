"""Curvature checks: Hessian spectra, positive semi-definiteness and null spaces.

A Hessian computed in floating point is PSD only up to rounding, so every test
here takes a tolerance; by default it is relative to the largest eigenvalue
magnitude (``n * machine epsilon * |lambda|_max`` times a safety factor),
which is the size of the rounding error an exact PSD matrix can show.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Safety factor on the rounding-level tolerance ``n * eps * |lambda|_max``.
_ROUNDING_FACTOR = 100.0


def _as_square_matrix(H, name="H"):
    """``H`` as a float64 square matrix (a Hessian of a vector argument)."""
    data = getattr(H, "data", H)
    M = np.asarray(data, dtype=np.float64)
    if M.ndim == 1 and M.size == 1:
        M = M.reshape(1, 1)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {M.shape}")
    if not np.all(np.isfinite(M)):
        raise ValueError(f"{name} has NaN or inf entries; a spectrum needs finite values")
    return M


def symmetry_error(H):
    """Relative asymmetry ``|H - H^T|_max / max(|H|_max, tiny)``.

    Examples
    --------
    >>> import numpy as np
    >>> float(symmetry_error(np.array([[1.0, 2.0], [2.0, 3.0]])))
    0.0
    """
    M = _as_square_matrix(H)
    scale = max(float(np.max(np.abs(M), initial=0.0)), np.finfo(float).tiny)
    return float(np.max(np.abs(M - M.T), initial=0.0) / scale)


def hessian_spectrum(H):
    """Eigenvalues of the symmetric part of ``H``, in ascending order.

    Parameters
    ----------
    H : array_like, shape (n, n)
        A Hessian (symmetric up to rounding).

    Returns
    -------
    ndarray, shape (n,)

    Examples
    --------
    >>> import numpy as np
    >>> hessian_spectrum(np.array([[2.0, 1.0], [1.0, 2.0]]))
    array([1., 3.])
    """
    M = _as_square_matrix(H)
    return np.linalg.eigvalsh(0.5 * (M + M.T))


def min_eigenvalue(H):
    """Smallest eigenvalue of the symmetric part of ``H``.

    Examples
    --------
    >>> import numpy as np
    >>> float(min_eigenvalue(np.array([[0.0, 1.0], [1.0, 0.0]])))
    -1.0
    """
    return float(hessian_spectrum(H)[0])


def rounding_tolerance(H):
    """Eigenvalue tolerance at rounding level: ``100 * n * eps * |lambda|_max``.

    Examples
    --------
    >>> import numpy as np
    >>> bool(rounding_tolerance(np.eye(2)) < 1e-12)
    True
    """
    eigenvalues = hessian_spectrum(H)
    n = len(eigenvalues)
    largest = float(np.max(np.abs(eigenvalues), initial=0.0))
    return float(_ROUNDING_FACTOR * n * np.finfo(np.float64).eps * largest)


def is_psd(H, tol=None):
    """Whether ``H`` is positive semi-definite: ``lambda_min >= -tol``.

    Parameters
    ----------
    H : array_like, shape (n, n)
    tol : float, optional
        Allowed negative eigenvalue; default :func:`rounding_tolerance`.

    Returns
    -------
    bool

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([0.2, 0.3, 0.5])
    >>> is_psd(np.diag(p) - np.outer(p, p))
    True
    >>> is_psd(np.array([[0.0, 1.0], [1.0, 0.0]]))
    False
    """
    tol = rounding_tolerance(H) if tol is None else float(tol)
    return bool(min_eigenvalue(H) >= -tol)


def null_space(H, tol=None):
    """Orthonormal basis of the numerical null space of ``H``.

    Parameters
    ----------
    H : array_like, shape (n, n)
    tol : float, optional
        Eigenvalues with ``|lambda| <= tol`` count as zero; default
        :func:`rounding_tolerance`.

    Returns
    -------
    ndarray, shape (n, k)
        Columns span the null space (``k = 0`` for a non-singular matrix).

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([0.25, 0.75])
    >>> basis = null_space(np.diag(p) - np.outer(p, p))
    >>> basis.shape, bool(np.allclose(np.abs(basis[:, 0]), 2 ** -0.5))
    ((2, 1), True)
    """
    M = _as_square_matrix(H)
    tol = rounding_tolerance(M) if tol is None else float(tol)
    eigenvalues, vectors = np.linalg.eigh(0.5 * (M + M.T))
    return vectors[:, np.abs(eigenvalues) <= tol]


def null_vector_residual(H, v):
    """Relative residual ``|H v| / (|H|_2 |v|)``: zero when ``v`` is in the null space.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([0.25, 0.75])
    >>> null_vector_residual(np.diag(p) - np.outer(p, p), np.ones(2)) < 1e-15
    True
    """
    M = _as_square_matrix(H)
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    if v.shape[0] != M.shape[0]:
        raise ValueError(f"v must have {M.shape[0]} entries to multiply H, got {v.shape[0]}")
    norm_h = float(np.linalg.norm(M, 2))
    norm_v = float(np.linalg.norm(v))
    if norm_h == 0.0 or norm_v == 0.0:
        return 0.0
    return float(np.linalg.norm(M @ v) / (norm_h * norm_v))


@dataclass(frozen=True)
class CurvatureReport:
    """Summary of a Hessian's spectrum (see :func:`curvature_report`)."""

    min_eigenvalue: float
    max_eigenvalue: float
    tolerance: float
    psd: bool
    null_dimension: int
    symmetry_error: float


def curvature_report(H, tol=None):
    """Spectrum summary: extreme eigenvalues, PSD verdict, null-space dimension.

    Examples
    --------
    >>> import numpy as np
    >>> report = curvature_report(np.diag([0.0, 1.0, 2.0]))
    >>> report.psd, report.null_dimension, report.max_eigenvalue
    (True, 1, 2.0)
    """
    eigenvalues = hessian_spectrum(H)
    tol = rounding_tolerance(H) if tol is None else float(tol)
    return CurvatureReport(
        min_eigenvalue=float(eigenvalues[0]),
        max_eigenvalue=float(eigenvalues[-1]),
        tolerance=tol,
        psd=bool(eigenvalues[0] >= -tol),
        null_dimension=int(np.sum(np.abs(eigenvalues) <= tol)),
        symmetry_error=symmetry_error(H),
    )
