"""Triangular solves with NumPy alone, in blocks.

NumPy has no ``solve_triangular``, and SciPy's runs on a second OpenBLAS whose
thread pool fights NumPy's inside a solver loop (DESIGN.md).  A general
``np.linalg.solve`` on a triangular factor wastes an O(n^3) LU; this blocked
substitution costs O(n^2) matrix-vector work plus small diagonal-block solves.
"""

from __future__ import annotations

import numpy as np

_BLOCK = 64


def solve_lower(L, b):
    """Solve ``L x = b`` for lower-triangular ``L`` (forward substitution by blocks)."""
    n = len(L)
    x = np.array(b, dtype=np.result_type(L, b), copy=True)
    for start in range(0, n, _BLOCK):
        stop = min(n, start + _BLOCK)
        if start:
            x[start:stop] -= L[start:stop, :start] @ x[:start]
        x[start:stop] = np.linalg.solve(L[start:stop, start:stop], x[start:stop])
    return x


def solve_upper(U, b):
    """Solve ``U x = b`` for upper-triangular ``U`` (back substitution by blocks)."""
    n = len(U)
    x = np.array(b, dtype=np.result_type(U, b), copy=True)
    for stop in range(n, 0, -_BLOCK):
        start = max(0, stop - _BLOCK)
        if stop < n:
            x[start:stop] -= U[start:stop, stop:] @ x[stop:]
        x[start:stop] = np.linalg.solve(U[start:stop, start:stop], x[start:stop])
    return x


def inverse_lower(L):
    """``L^-1`` for lower-triangular ``L``, by halves: [[A, 0], [B, C]]^-1 has the
    off-diagonal block -C^-1 B A^-1, so the work is matrix products (about n^3 / 3)."""
    n = len(L)
    if n <= _BLOCK:
        return np.linalg.solve(L, np.eye(n, dtype=L.dtype))
    half = n // 2
    top, bottom = inverse_lower(L[:half, :half]), inverse_lower(L[half:, half:])
    out = np.zeros_like(L)
    out[:half, :half] = top
    out[half:, half:] = bottom
    out[half:, :half] = -(bottom @ (L[half:, :half] @ top))
    return out


class CholeskyFactor:
    """Solves with a Cholesky factor ``L`` and its transpose, many times over.

    The diagonal blocks of ``L`` are inverted once (a few small solves); each later
    solve is then matrix-vector products only, reading the lower half of ``L`` once:
    no O(n^3) explicit inverse, and no LU of a diagonal block per solve.

    Examples
    --------
    >>> import numpy as np
    >>> factor = CholeskyFactor(np.linalg.cholesky(np.array([[4.0, 2.0], [2.0, 5.0]])))
    >>> factor.solve(np.array([6.0, 7.0]))  # (L L^T)^-1 b
    array([1., 1.])
    """

    block = 128

    def __init__(self, L):
        self.L = np.asarray(L)
        n = len(self.L)
        self._bounds = [(start, min(n, start + self.block)) for start in range(0, n, self.block)]
        self._diagonal_inverses = [inverse_lower(self.L[start:stop, start:stop])
                                   for start, stop in self._bounds]

    def lower(self, b):
        """``L^-1 b`` (forward substitution by blocks)."""
        L, x = self.L, np.array(b, dtype=np.result_type(self.L, b), copy=True)
        for (start, stop), inverse in zip(self._bounds, self._diagonal_inverses, strict=True):
            part = x[start:stop]
            if start:
                part -= L[start:stop, :start] @ x[:start]
            x[start:stop] = inverse @ part
        return x

    def upper(self, b):
        """``L^-T b`` (back substitution by blocks)."""
        L, x = self.L, np.array(b, dtype=np.result_type(self.L, b), copy=True)
        pairs = zip(self._bounds, self._diagonal_inverses, strict=True)
        for (start, stop), inverse in reversed(list(pairs)):
            part = x[start:stop]
            if stop < len(L):
                part -= L[stop:, start:stop].T @ x[stop:]
            x[start:stop] = inverse.T @ part
        return x

    def solve(self, b):
        """``(L L^T)^-1 b``."""
        return self.upper(self.lower(b))
