"""NumPy's protocols on Tensors: ``np.exp(t)``, ``np.dot(t, t)``, ``np.linalg.solve(a, t)``.

A NumPy function called on a Tensor runs nablanet's op of the same name, looked up by
name at call time (``nablanet.ops`` for ``numpy``, ``nablanet.linalg`` for
``numpy.linalg``), so the graph is kept and every op added later is covered.  Without
such an op the function runs on the arrays, unless a tensor that requires grad would
lose its gradient that way: then a ``TypeError`` names ``.detach()`` and nablanet's op.
A result without floating values (``np.isnan``, ``np.argmax``, ``np.shape``) has no
gradient to lose and is always computed.  ``ndarray + tensor`` and the other operators
go to the Tensor's reflected operator, as they did when Tensors opted out of ufuncs.
"""

from __future__ import annotations

import importlib
import inspect

import numpy as np

from nablanet.autodiff import mode
from nablanet.autodiff.primitive import Primitive
from nablanet.autodiff.tensor import Tensor

#: ufunc -> (the Tensor's operator, its reflected form); a comparison reflects to its mirror
_OPERATORS = {
    np.add: ("__add__", "__radd__"),
    np.subtract: ("__sub__", "__rsub__"),
    np.multiply: ("__mul__", "__rmul__"),
    np.divide: ("__truediv__", "__rtruediv__"),
    np.power: ("__pow__", "__rpow__"),
    np.matmul: ("__matmul__", "__rmatmul__"),
    np.less: ("__lt__", "__gt__"),
    np.less_equal: ("__le__", "__ge__"),
    np.greater: ("__gt__", "__lt__"),
    np.greater_equal: ("__ge__", "__le__"),
    np.equal: ("__eq__", "__eq__"),
    np.not_equal: ("__ne__", "__ne__"),
}
_UNARY = {np.negative: "__neg__", np.positive: "__pos__", np.absolute: "__abs__"}

#: NumPy's other names for the same function
_ALIASES = {
    "absolute": "abs", "amax": "max", "amin": "min", "around": "round", "true_divide": "divide",
    "concat": "concatenate", "permute_dims": "transpose", "pow": "power", "acos": "arccos",
    "asin": "arcsin", "atan": "arctan", "atan2": "arctan2", "acosh": "arccosh",
    "asinh": "arcsinh", "atanh": "arctanh",
}

#: where the ops of a NumPy module live in nablanet
_NAMESPACES = {"numpy": "nablanet.ops", "numpy.linalg": "nablanet.linalg"}

#: results that never depend on the values (only on shape and dtype)
_VALUE_FREE = {"zeros_like", "ones_like", "empty_like", "shape", "ndim", "size", "result_type"}

#: NumPy functions that write into their first argument
_WRITERS = {"copyto", "put", "place", "putmask", "fill_diagonal", "put_along_axis"}


def _concatenate(arrays, axis=0):
    from nablanet.ops import shape

    arrays = list(arrays)
    if axis is None:  # NumPy flattens first
        arrays, axis = [shape.reshape(a, (-1,)) for a in arrays], 0
    return shape.concatenate(arrays, axis=axis)


def _stack(arrays, axis=0):
    from nablanet.ops import shape

    return shape.stack(list(arrays), axis=axis)


def _take(a, indices, axis=None):
    from nablanet.ops import shape

    if not isinstance(a, Tensor):
        a = Tensor(a)
    if axis is None:  # NumPy reads the flattened array
        return shape.reshape(a, (-1,))[indices]
    axis = axis % a.ndim if -a.ndim <= axis < a.ndim else axis
    return a[(slice(None),) * axis + (indices,)]


def _dot(a, b):
    from nablanet.ops import arithmetic, linalg

    ndims = np.ndim(a), np.ndim(b)
    if 0 in ndims:
        return arithmetic.multiply(a, b)
    if max(ndims) > 2:
        raise _UnboundError("nablanet's dot is matmul; np.dot of arrays above 2-D is not")
    return linalg.matmul(a, b)


def _vdot(a, b):
    from nablanet.ops import linalg, shape

    return linalg.vdot(shape.reshape(a, (-1,)), shape.reshape(b, (-1,)))


#: NumPy's signature where nablanet's existing op has another (looked up before the op)
_ADAPTERS = {
    ("nablanet.ops", "concatenate"): _concatenate,
    ("nablanet.ops", "stack"): _stack,
    ("nablanet.ops", "take"): _take,
    ("nablanet.ops", "dot"): _dot,
    ("nablanet.ops", "vdot"): _vdot,
}


class _UnboundError(Exception):
    """nablanet's op exists but does not take this call (internal)."""


def find_op(name, numpy_module="numpy"):
    """nablanet's op for NumPy's ``numpy_module.name``, or None.

    Parameters
    ----------
    name : str
        NumPy's name of the function or ufunc.
    numpy_module : str
        ``"numpy"`` or ``"numpy.linalg"``.

    Returns
    -------
    callable or None
    """
    where = _NAMESPACES.get(numpy_module)
    if where is None:
        return None
    name = _ALIASES.get(name, name)
    adapter = _ADAPTERS.get((where, name))
    if adapter is not None:
        return adapter
    try:
        namespace = importlib.import_module(where)
    except ImportError:
        return None
    op = getattr(namespace, name, None)
    if isinstance(op, Primitive):
        return op
    if inspect.isfunction(op) and op.__module__.startswith("nablanet."):
        return op
    return None


def _binds(op, args, kwargs):
    target = op.impl if isinstance(op, Primitive) else op
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):  # a ufunc as impl: any positional call is its own check
        return not kwargs
    try:
        signature.bind(*args, **kwargs)
    except TypeError:
        return False
    return True


def array_ufunc(self, ufunc, method, *inputs, **kwargs):
    """``Tensor.__array_ufunc__``: the Tensor's operators and nablanet's ops first."""
    if method == "__call__" and not kwargs:
        if len(inputs) == 2 and ufunc in _OPERATORS:
            first, reflected = _OPERATORS[ufunc]
            a, b = inputs
            if isinstance(a, Tensor):
                return getattr(a, first)(b)
            return getattr(b, reflected)(a)
        if len(inputs) == 1 and ufunc in _UNARY:
            return getattr(inputs[0], _UNARY[ufunc])()
        op = find_op(ufunc.__name__)
        if op is not None:
            return op(*inputs)
    label = f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
    fun = ufunc if method == "__call__" else getattr(ufunc, method)
    written = list(kwargs.get("out") or ())
    if method == "at":
        written.append(inputs[0])
    return _on_arrays(fun, label, ufunc.__name__, inputs, kwargs, written, None)


def array_function(self, func, types, args, kwargs):
    """``Tensor.__array_function__``: nablanet's op of the same name, else NumPy's on arrays."""
    if not all(issubclass(t, (Tensor, np.ndarray)) for t in types):
        return NotImplemented
    name, module = func.__name__, func.__module__
    op = None if name in _VALUE_FREE else find_op(name, module)
    reason = None
    if op is not None:
        if _binds(op, args, kwargs):
            try:
                return op(*args, **kwargs)
            except _UnboundError as err:
                reason = str(err)
        else:
            reason = f"nablanet's {name} does not take these arguments"
    written = [args[0]] if name in _WRITERS and args else []
    return _on_arrays(func, f"{module.replace('numpy', 'np')}.{name}", name, args, kwargs,
                      written, reason)


def _on_arrays(fun, label, name, args, kwargs, written, reason):
    """Run NumPy's ``fun`` on the values, unless that would drop a gradient."""
    tensors = []
    _collect((args, kwargs), tensors)
    for t in tensors:
        mode.observe_value(t)
    traced = name not in _VALUE_FREE and any(t.requires_grad for t in tensors)
    targets = [t for t in written if isinstance(t, Tensor)]
    for t in targets:
        _check_writable(t, label)
    if traced and written:
        raise TypeError(_refusal(label, name, reason, "writes the values into an array"))
    result = fun(*_unwrap(args), **_unwrap(kwargs))
    if traced and (result is None or _has_floats(result)):
        raise TypeError(_refusal(label, name, reason, "returns NumPy values"))
    for t in targets:
        t._bump_version()
    if targets and "out" in kwargs:
        return kwargs["out"][0] if len(kwargs["out"]) == 1 else kwargs["out"]
    return result


def _refusal(label, name, reason, what):
    known = f"{reason}; call it with nablanet's own arguments" if reason else (
        f"nablanet has no differentiable {name}")
    return (
        f"{label} on a tensor that requires grad {what} and would lose the gradient "
        f"without a word ({known}). Use nablanet's ops to keep the graph, or call it on "
        "tensor.detach() if the gradient is not wanted."
    )


def _check_writable(t, label):
    if mode.is_grad_enabled() and t.requires_grad:
        raise RuntimeError(
            f"{label} would write in place into a tensor that requires grad; nablanet does "
            "not record in-place operations: compute a new tensor instead (or write under "
            "nb.no_grad(), as an optimiser does)"
        )


def _collect(obj, found):
    if isinstance(obj, Tensor):
        found.append(obj)
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            _collect(item, found)
    elif isinstance(obj, dict):
        for item in obj.values():
            _collect(item, found)


def _unwrap(obj):
    if isinstance(obj, Tensor):
        return obj.data
    if isinstance(obj, list):
        return [_unwrap(item) for item in obj]
    if isinstance(obj, tuple):
        return tuple(_unwrap(item) for item in obj)
    if isinstance(obj, dict):
        return {key: _unwrap(item) for key, item in obj.items()}
    return obj


def _has_floats(result):
    if isinstance(result, (np.ndarray, np.generic)):
        return result.dtype.kind in "fc"
    if isinstance(result, (float, complex)):
        return True
    if isinstance(result, (list, tuple)):
        return any(_has_floats(item) for item in result)
    return False


def install():
    """Give :class:`Tensor` NumPy's dispatch protocols (called by ``nablanet.ops``)."""
    Tensor.__array_ufunc__ = array_ufunc
    Tensor.__array_function__ = array_function
