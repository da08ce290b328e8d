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
