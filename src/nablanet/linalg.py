"""``nablanet.linalg``: NumPy's ``numpy.linalg`` names, differentiable.

Every function takes stacked matrices in the last two axes, as NumPy does, and
returns NumPy's result types (``SlogdetResult``, ``EighResult``, ``SVDResult``,
``QRResult``).  The derivatives come from the standard matrix identities; each
rule's derivation sits above it in :mod:`nablanet.ops.linalg_solve` and
:mod:`nablanet.ops.linalg_decomp`.

Examples
--------
>>> import numpy as np, nablanet as nb
>>> a = np.array([[2.0, 1.0], [1.0, 3.0]])
>>> nb.grad(lambda m: nb.linalg.slogdet(m).logabsdet)(a)     # = inv(a).T
array([[ 0.6, -0.2],
       [-0.2,  0.4]])
>>> float(nb.linalg.det(a))
5.0...
"""

from nablanet.ops._linalg_common import (
    EighResult,
    LinAlgError,
    QRResult,
    SlogdetResult,
    SVDResult,
)
from nablanet.ops.assembly import cross, tensordot, trace
from nablanet.ops.linalg import matmul, outer, vdot
from nablanet.ops.linalg_decomp import cholesky, eigh, eigvalsh, qr, svd, svdvals
from nablanet.ops.linalg_solve import (
    det,
    inv,
    lstsq,
    matrix_power,
    pinv,
    slogdet,
    solve,
    solve_triangular,
)
from nablanet.ops.norms import norm


def multi_dot(arrays):
    """Product of several matrices, left to right (``numpy.linalg.multi_dot``)."""
    arrays = list(arrays)
    if len(arrays) < 2:
        raise ValueError("multi_dot: expecting at least two arrays")
    out = arrays[0]
    for a in arrays[1:]:
        out = matmul(out, a)
    return out


def matrix_transpose(x):
    """Swap the last two axes (``numpy.linalg.matrix_transpose``)."""
    from nablanet.ops.shape import swapaxes

    return swapaxes(x, -1, -2)


__all__ = [
    "EighResult", "LinAlgError", "QRResult", "SVDResult", "SlogdetResult", "cholesky",
    "cross", "det", "eigh", "eigvalsh", "inv", "lstsq", "matmul", "matrix_power",
    "matrix_transpose", "multi_dot", "norm", "outer", "pinv", "qr", "slogdet", "solve",
    "solve_triangular", "svd", "svdvals", "tensordot", "trace", "vdot",
]
