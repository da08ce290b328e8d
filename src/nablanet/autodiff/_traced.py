"""What the transforms share: arguments wrapped as variables, outputs joined into a root.

``_trace`` calls a function with the leaves of its differentiated arguments (pytrees, see
:mod:`nablanet.autodiff.pytree`) replaced by fresh variables and returns a :class:`_Traced`:
the output leaves, their joint root (the one output itself, or all of them raveled and
joined, so one backward pass serves them all), the variables and both structures.
``_pull`` runs a backward pass from the root to the variables; :class:`_Layout` cuts the
rows of a Jacobian per output leaf and lays the blocks out as JAX does.  Used by
:mod:`nablanet.autodiff.transforms` (reverse mode) and :mod:`nablanet.autodiff.forward`.
"""

from __future__ import annotations

import numpy as np

from nablanet.autodiff import mode
from nablanet.autodiff.engine import backprop
from nablanet.autodiff.pytree import PyTreeDef, tree_flatten, tree_unflatten
from nablanet.autodiff.tensor import Tensor

#: The structure of a single leaf (tree_flatten returns this very object for one).
_LEAF = tree_flatten(0.0)[1]


# -- arguments -------------------------------------------------------------------------
def _normalize_argnums(argnums, nargs):
    """``(single, nums)``: whether argnums is an int, and the argnums as non-negative ints."""
    if type(argnums) is int and -nargs <= argnums < nargs:  # the common case, first
        return True, (argnums % nargs,)
    single = isinstance(argnums, (int, np.integer)) and not isinstance(argnums, bool)
    nums = (argnums,) if single else tuple(argnums) if isinstance(argnums, (tuple, list)) else None
    if nums is None or not all(
            isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in nums):
        raise TypeError(f"argnums must be an int or a tuple of ints, got {argnums!r}")
    if not nums:
        raise ValueError("argnums is empty: name at least one argument to differentiate")
    for i in nums:
        if not -nargs <= i < nargs:
            raise ValueError(
                f"argnums {argnums} out of range for a function called with {nargs} "
                f"positional arguments"
            )
    nums = tuple(int(i) % nargs for i in nums)
    if len(set(nums)) != len(nums):
        raise ValueError(f"argnums {argnums} names an argument twice; list each once")
    return single, nums


def _as_input(x, position):
    """A fresh tensor variable for ``x``; linked to ``x`` when an outer pass traces it."""
    if isinstance(x, Tensor):
        if x.requires_grad and mode.is_grad_enabled():
            from nablanet.ops.arithmetic import identity

            return identity(x), True
        data = x.data
    else:
        data = np.asarray(x)
    if data.dtype.kind not in "fc":
        raise TypeError(
            f"argument {position} has dtype {data.dtype}; differentiation needs floating-point "
            f"inputs. Pass floats (e.g. np.asarray(x, dtype=float))"
        )
    return Tensor(data, requires_grad=True), False


class _Traced:
    """``fun`` evaluated at fresh variables: its outputs, their joint root, the variables.

    ``outs`` are the output leaves (Tensors) of structure ``out_def``; ``root`` is the one
    output itself or all of them raveled and joined; ``inputs`` are the variables of the
    differentiated leaves, of structure ``in_def``; ``nested`` says whether the backward
    passes must be recorded (an outer transform traces this one).
    """

    __slots__ = ("outs", "out_def", "root", "inputs", "in_def", "nested", "aux")

    def layout(self):
        """Where the blocks of this trace's Jacobians go (see :class:`_Layout`)."""
        return _Layout([out.shape for out in self.outs], [out.dtype for out in self.outs],
                       self.out_def, self.in_def)


class _Layout:
    """A Jacobian's layout: the output leaves' shapes and structure, the inputs' structure."""

    __slots__ = ("out_shapes", "out_dtypes", "out_def", "in_def")

    def __init__(self, out_shapes, out_dtypes, out_def, in_def):
        self.out_shapes, self.out_dtypes = out_shapes, out_dtypes
        self.out_def, self.in_def = out_def, in_def

    def split_rows(self, full, var):
        """``full`` (rows indexing the root's elements, then ``var``'s axes) cut per output
        leaf; joined outputs of several dtypes give each block its own (as JAX does)."""
        if len(self.out_shapes) == 1:
            return [_reshape(full, self.out_shapes[0] + var.shape)]
        pieces, start = [], 0
        for shape, dtype in zip(self.out_shapes, self.out_dtypes, strict=True):
            stop = start + int(np.prod(shape, dtype=np.int64))
            piece = _reshape(full[start:stop], shape + var.shape)
            wanted = np.result_type(dtype, var.dtype)
            if type(piece) is np.ndarray and piece.dtype != wanted and wanted.kind in "fc":
                piece = piece.astype(wanted)
            pieces.append(piece)
            start = stop
        return pieces

    def arrange(self, per_input):
        """``per_input[i][k]``, the block of output leaf k and input leaf i, as JAX lays
        them out: the output's structure, each leaf holding the inputs' structure."""
        if self.out_def is _LEAF and self.in_def is _LEAF:  # one array from one array
            return per_input[0][0]
        per_output = [tree_unflatten(self.in_def, [column[k] for column in per_input])
                      for k in range(len(self.out_shapes))]
        return tree_unflatten(self.out_def, per_output)


def _trace(fun, args, nums, single, has_aux=False):
    """Call ``fun`` with the leaves of the differentiated arguments wrapped as variables."""
    args = list(args)
    traced = _Traced()
    x = args[nums[0]]
    if single and (type(x) is np.ndarray or isinstance(x, Tensor)):  # the common case
        var, linked = _as_input(x, nums[0])
        args[nums[0]] = var
        traced.inputs, traced.in_def = [var], _LEAF
    else:
        linked = _wrap_pytrees(traced, args, nums, single)
    traced.nested = linked or mode.inside_trace()
    with mode.enable_grad(), mode.TracingScope():
        out = fun(*args)
        traced.aux = None
        if has_aux:
            out, traced.aux = _split_aux(out, traced.nested)
        if isinstance(out, Tensor):
            traced.outs, traced.out_def = [out], _LEAF
        else:
            leaves, traced.out_def = tree_flatten(out)
            traced.outs = [leaf if isinstance(leaf, Tensor) else _constant(leaf) for leaf in leaves]
        traced.root = _join(traced.outs)
    return traced


def _wrap_pytrees(traced, args, nums, single):
    """Replace ``args[i]`` by its structure of variables; True if one is an outer variable."""
    traced.inputs, defs, linked = [], [], False
    for i in nums:
        leaves, treedef = tree_flatten(args[i])
        variables = []
        for k, leaf in enumerate(leaves):
            var, link = _as_input(leaf, i if treedef is _LEAF else f"{i} (leaf {k})")
            linked = linked or link
            variables.append(var)
        args[i] = tree_unflatten(treedef, variables)
        traced.inputs += variables
        defs.append(treedef)
    traced.in_def = defs[0] if single else PyTreeDef(tuple, None, tuple(defs))
    return linked


def _split_aux(result, nested):
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise TypeError(
            f"has_aux=True needs the function to return a pair (output, auxiliary data), "
            f"got {type(result).__name__}"
        )
    out, aux = result
    if not nested:  # the auxiliary data comes back as values, not as traced tensors
        leaves, treedef = tree_flatten(aux)
        aux = tree_unflatten(treedef, [a.data if isinstance(a, Tensor) else a for a in leaves])
    return out, aux


def _constant(value):
    data = np.asarray(value)
    if data.dtype.kind not in "biufc":
        raise TypeError(
            f"the function returned a {type(value).__name__}, where arrays, Tensors or numbers "
            f"(or tuples, lists and dicts of them) were expected"
        )
    return Tensor(data)


def _join(leaves):
    """The root of a backward pass for several leaves: all of them raveled and joined."""
    if len(leaves) == 1:
        return leaves[0]
    if not leaves:
        return Tensor(np.zeros(0))
    from nablanet.ops.shape import concatenate

    return concatenate(*[_reshape(leaf, (-1,)) for leaf in leaves], axis=0)


def _join_cotangents(cots, batch, record):
    """Cotangents of several leaves as one cotangent of their :func:`_join` root."""
    if len(cots) == 1:
        return cots[0]
    flat = [_reshape(c, tuple(batch) + (-1,)) for c in cots]
    if not flat:
        return np.zeros(tuple(batch) + (0,))
    if record and any(isinstance(c, Tensor) for c in flat):
        from nablanet.ops.shape import concatenate

        return concatenate(*flat, axis=-1)
    return np.concatenate([c.data if isinstance(c, Tensor) else c for c in flat], axis=-1)


def _reshape(x, shape):
    if type(x) is np.ndarray:
        return x.reshape(shape)  # (the method: np.reshape's dispatch costs more than it)
    if isinstance(x, Tensor):
        from nablanet.ops.shape import reshape

        return reshape(x, shape)
    return np.reshape(x, shape)


def _zeros_like_cotangent(batch_shape, var):
    return np.zeros(tuple(batch_shape) + var.shape, dtype=var.dtype)


def _pull(out, inputs, cotangent, nested, batch_shape=()):
    """Cotangents of ``inputs`` for ``cotangent`` on ``out`` (arrays, or Tensors if nested)."""
    if not out.requires_grad:
        cots = [None] * len(inputs)
    else:
        cots = backprop(out, cotangent, inputs, create_graph=nested)
    result = []
    for var, cot in zip(inputs, cots, strict=True):
        if cot is None:
            cot = _zeros_like_cotangent(batch_shape, var)
        if not nested and isinstance(cot, Tensor):
            cot = cot.data
        result.append(cot)
    return result


def _output(values, nested):
    """Results as the caller sees them: Tensors when nested, else ndarrays (never scalars)."""
    if nested:
        return values
    return [v if type(v) is np.ndarray else np.asarray(v.data if isinstance(v, Tensor) else v)
            for v in values]


def _check_scalar(traced, name="grad"):
    if traced.out_def is not _LEAF:
        raise TypeError(
            f"{name} requires a scalar output, got a {traced.out_def}. Return the scalar "
            f"alone, with has_aux=True for (scalar, auxiliary data), or use nablanet.jacobian"
        )
    out = traced.root
    if out.dtype.kind == "c":
        raise TypeError(
            f"{name} requires a real-valued output, got dtype {out.dtype}. Differentiate "
            f"its real part, abs() or a real loss of it, or use nablanet.vjp"
        )
    if out.size != 1:
        raise TypeError(
            f"{name} requires a scalar output, got shape {out.shape}. Reduce the output to a "
            f"scalar (e.g. with .sum()), or use nablanet.jacobian or nablanet.vjp"
        )
    if out.dtype.kind != "f":
        raise TypeError(f"{name} requires a floating-point output, got dtype {out.dtype}")


def _gradients(traced, values):
    """Per-leaf results rebuilt in the structure of the differentiated arguments."""
    if traced.in_def is _LEAF:
        return values[0]
    return tree_unflatten(traced.in_def, values)


def _as_input_dtypes(cots, inputs):
    """Cotangents in their variables' dtypes (a float64 loss of float32 inputs, as JAX)."""
    for i, (c, v) in enumerate(zip(cots, inputs, strict=True)):
        if type(c) is np.ndarray and c.dtype != v.dtype:
            cots[i] = c.astype(v.dtype)
    return cots
