"""Helpers shared by nablanet's linear algebra: transposes, masks, result types, errors."""

from __future__ import annotations

from collections import namedtuple
from functools import lru_cache

import numpy as np

from nablanet.autodiff.tensor import Tensor, raw, shape_of
from nablanet.ops.linalg import matmul2
from nablanet.ops.shape import reshape, swapaxes

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
