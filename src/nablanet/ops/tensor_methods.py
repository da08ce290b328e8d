"""Operators and methods of :class:`~nablanet.autodiff.tensor.Tensor`, defined with the ops.

The Tensor class lives on the floor below the ops; this module gives it its
arithmetic once the ops exist (called from ``nablanet.ops``).
"""

from __future__ import annotations

import numpy as np

from nablanet.autodiff.tensor import Tensor, raw
from nablanet.ops import arithmetic as A  # noqa: N812
from nablanet.ops import linalg as L  # noqa: N812
from nablanet.ops import reductions as R  # noqa: N812
from nablanet.ops import shape as S  # noqa: N812


def _reflected(fun):
    return lambda self, other: fun(other, self)


def _compare(op):
    def method(self, other):
        # a primitive that is not differentiated: recorded, so a replay recomputes it
        return A.compare(self, other, op=op)

    return method


def _reshape(self, *shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return S.reshape(self, shape)


def _transpose(self, *axes):
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    return S.transpose(self, axes or None)


def _astype(self, dtype):
    """A copy with another dtype (float to float keeps the graph)."""
    dtype = np.dtype(dtype)
    if self.dtype == dtype:
        return self
    return _cast(self, dtype)


def _cast_impl(x, dtype):
    return x.astype(dtype)


def _cast_rule(g, ans, x, dtype):
    # a dtype conversion passes the cotangent through, converted back
    return _cast(g, raw(x).dtype) if raw(g).dtype != raw(x).dtype else g


def _as_method(prim):
    # a Primitive is not a function, so it would not bind ``self``; wrap it
    def method(self, *args):
        return prim(self, *args)

    method.__name__ = prim.name
    return method


def _install():
    from nablanet.autodiff.primitive import Primitive

    global _cast
    _cast = Primitive("cast", _cast_impl, preserves_dtype=True)
    _cast.defvjp(_cast_rule)

    methods = {
        "__add__": A.add,
        "__radd__": _reflected(A.add),
        "__sub__": A.subtract,
        "__rsub__": _reflected(A.subtract),
        "__mul__": A.multiply,
        "__rmul__": _reflected(A.multiply),
        "__truediv__": A.divide,
        "__rtruediv__": _reflected(A.divide),
        "__pow__": A.power,
        "__rpow__": _reflected(A.power),
        "__matmul__": L.matmul,
        "__rmatmul__": _reflected(L.matmul),
        "__neg__": A.negative,
        "__pos__": lambda self: self,
        "__abs__": A.abs,
        "__getitem__": lambda self, index: S.take(self, index),
        "__lt__": _compare(np.less),
        "__le__": _compare(np.less_equal),
        "__gt__": _compare(np.greater),
        "__ge__": _compare(np.greater_equal),
        "__eq__": _compare(np.equal),
        "__ne__": _compare(np.not_equal),
        "sum": lambda self, axis=None, keepdims=False: R.sum(self, axis=axis, keepdims=keepdims),
        "mean": lambda self, axis=None, keepdims=False: R.mean(self, axis=axis, keepdims=keepdims),
        "max": lambda self, axis=None, keepdims=False: R.max(self, axis=axis, keepdims=keepdims),
        "min": lambda self, axis=None, keepdims=False: R.min(self, axis=axis, keepdims=keepdims),
        "exp": A.exp,
        "log": A.log,
        "sqrt": A.sqrt,
        "tanh": A.tanh,
        "abs": A.abs,
        "reshape": _reshape,
        "transpose": _transpose,
        "astype": _astype,
        "T": property(lambda self: S.transpose(self)),
    }
    for name, fun in methods.items():
        if isinstance(fun, Primitive):
            fun = _as_method(fun)
        setattr(Tensor, name, fun)
    Tensor.__hash__ = object.__hash__


_cast = None
_install()
