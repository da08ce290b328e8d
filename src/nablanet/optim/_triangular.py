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
