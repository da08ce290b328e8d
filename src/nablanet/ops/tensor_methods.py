"""Operators and methods of :class:`~nablanet.autodiff.tensor.Tensor`, defined with the ops.

The Tensor class lives on the floor below the ops; this module gives it its
arithmetic once the ops exist (called from ``nablanet.ops``).
"""

from __future__ import annotations

import numpy as np

from nablanet.autodiff import mode
from nablanet.autodiff.tensor import Tensor, raw
from nablanet.ops import arithmetic as A  # noqa: N812
from nablanet.ops import linalg as L  # noqa: N812
from nablanet.ops import reductions as R  # noqa: N812
from nablanet.ops import shape as S  # noqa: N812


def _reflected(fun):
    return lambda self, other: fun(other, self)


#: what a comparison compares elementwise; anything else (a function, None, a layer) is
#: not equal to a tensor, so ``f in [t1, t2]`` answers by identity instead of raising
_COMPARABLE = (Tensor, np.ndarray, np.generic, int, float, complex, list, tuple)


def _compare(op):
    def method(self, other):
        if not isinstance(other, _COMPARABLE):
            return NotImplemented
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


def _copy(self):
    """A differentiable copy with its own buffer (PyTorch's ``clone``)."""
    return _cast(self, self.dtype)  # astype always copies; the cotangent passes through


def _flatten(self, start_dim=0, end_dim=-1):
    """Merge axes ``start_dim..end_dim`` into one (all of them by default)."""
    shape = self.shape
    if not shape:
        return S.reshape(self, (1,))
    start, end = start_dim % len(shape), end_dim % len(shape)
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    merged = int(np.prod(shape[start:end + 1], dtype=np.int64))
    return S.reshape(self, shape[:start] + (merged,) + shape[end + 1:])


def _matrix_transpose(self):
    if self.ndim < 2:
        raise ValueError(f".mT needs at least 2 dimensions, got shape {self.shape}")
    return S.swapaxes(self, -2, -1)


def _clip(self, min=None, max=None):  # noqa: A002 - PyTorch's and NumPy's names
    """Values limited to ``[min, max]``; the gradient passes where ``min <= x <= max``."""
    if min is None and max is None:
        raise ValueError("clip/clamp needs min or max (or both)")
    return A.clip(self, min, max)


def _op(name):
    """nablanet's op ``name``, found when called (ops other modules add are covered)."""
    import nablanet.ops

    op = getattr(nablanet.ops, name, None)
    if op is None:
        raise AttributeError(f"this nablanet has no op {name!r} for Tensor.{name}()")
    return op


def _by_name(name, fallback=None):
    # a thin method over nablanet's op `name`; without the op, NumPy's on the values
    # (only for results that carry no gradient: argmax, any, all)
    def method(self, *args, **kwargs):
        import nablanet.ops

        op = getattr(nablanet.ops, name, None)
        if op is None and fallback is not None:
            return Tensor(fallback(self.data, *args, **kwargs))
        return _op(name)(self, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"``nablanet.ops.{name}(self, ...)``."
    return method


def _in_place(name, write):
    """A method that writes ``write(data, *others)`` into the tensor and bumps its version."""

    def method(self, *others):
        _check_in_place(self, name, others)
        write(self.data, *(raw(o) for o in others))
        self._bump_version()
        return self

    method.__name__ = name
    method.__doc__ = f"In place: {name.rstrip('_')} into the tensor's values; returns self."
    return method


def _setitem(self, index, value):
    _check_in_place(self, "__setitem__", (value,))
    self.data[S._as_index(index)] = raw(value)
    self._bump_version()


def _clip_(self, min=None, max=None):  # noqa: A002
    """In place: limit the values to ``[min, max]``; returns self."""
    _check_in_place(self, "clamp_", (min, max))
    np.clip(self.data, raw(min), raw(max), out=self.data)
    self._bump_version()
    return self


def _check_in_place(self, name, others):
    """Refuse an in-place write that a graph or a replay would not see."""
    from nablanet.autodiff.primitive import RECORDERS

    if RECORDERS:
        raise RuntimeError(
            f"{name}: in-place writes are not part of a recorded training step; compute a "
            "new tensor instead"
        )
    if not mode.is_grad_enabled():
        return
    if self.requires_grad and self._prim is None:
        raise RuntimeError(
            f"{name}: a leaf tensor that requires grad cannot be changed in place while "
            "operations are recorded; do it under nb.no_grad() (as an optimiser does)"
        )
    if self.requires_grad or any(isinstance(o, Tensor) and o.requires_grad for o in others):
        raise RuntimeError(
            f"{name}: nablanet does not record in-place operations; use the out-of-place "
            "form (y = y + v, nb.where(mask, v, y)), which is differentiated"
        )


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
        # what a PyTorch or NumPy user types (issue 17)
        "mT": property(_matrix_transpose),
        "view": _reshape,
        "flatten": _flatten,
        "ravel": lambda self: S.reshape(self, (-1,)),
        "unsqueeze": lambda self, dim: S.expand_dims(self, dim),
        "squeeze": lambda self, axis=None: S.squeeze(self, axis),
        "swapaxes": lambda self, axis1, axis2: S.swapaxes(self, axis1, axis2),
        "clip": _clip,
        "clamp": _clip,
        "copy": _copy,
        "clone": _copy,
        "var": _by_name("var"),
        "std": _by_name("std"),
        "prod": _by_name("prod"),
        "argmax": _by_name("argmax", np.argmax),
        "argmin": _by_name("argmin", np.argmin),
        "any": _by_name("any", np.any),
        "all": _by_name("all", np.all),
        # in place: refused on recorded tensors, counted by the version counters
        "copy_": _in_place("copy_", lambda data, src: np.copyto(data, src, casting="unsafe")),
        "fill_": _in_place("fill_", lambda data, value: data.fill(value)),
        "zero_": _in_place("zero_", lambda data: data.fill(0)),
        "add_": _in_place("add_", lambda data, other: np.add(data, other, out=data)),
        "sub_": _in_place("sub_", lambda data, other: np.subtract(data, other, out=data)),
        "mul_": _in_place("mul_", lambda data, other: np.multiply(data, other, out=data)),
        "div_": _in_place("div_", lambda data, other: np.divide(data, other, out=data)),
        "clamp_": _clip_,
        "clip_": _clip_,
        "__setitem__": _setitem,
    }
    for name, fun in methods.items():
        if isinstance(fun, Primitive):
            fun = _as_method(fun)
        setattr(Tensor, name, fun)
    Tensor.__hash__ = object.__hash__
    from nablanet.ops import numpy_protocol

    numpy_protocol.install()


_cast = None
_install()
