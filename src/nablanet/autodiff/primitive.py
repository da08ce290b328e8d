"""Primitives: NumPy functions that know their vector-Jacobian products.

A primitive wraps a function on plain arrays (``impl``).  Called with plain
arrays it *is* that function, so backward rules written with primitives run at
NumPy speed when no graph is being built.  Called with a Tensor that is being
traced, it records itself on the result.

VJP rules
---------
``prim.defvjp(rule_0, rule_1, ...)`` gives one rule per positional argument
(``None`` marks an argument as not differentiable).  A rule is called as
``rule(g, ans, *args, **kwargs)`` and returns the cotangent of its argument.

Dtypes
------
The positional arguments that have a rule (or that ``defvjp_joint(values=...)``
names: a joint rule declares them explicitly) are the primitive's *values*.
Integer and boolean values are promoted to floating point before ``impl`` runs:
to the dtype of the floating-point values beside them, or to float64 (NumPy's
default) when there are none, so
``sigmoid(np.array([-3, 0, 2]))`` is not computed in integers.  Other arguments
(indices, labels, shapes, axes, masks) reach ``impl`` as given.  A primitive that
only moves or selects values (reshape, indexing, max) is built with
``preserves_dtype=True`` and keeps integer values integer, as NumPy does.

``g`` may carry **leading batch axes** in front of the output's shape (that is
how :func:`nablanet.jacobian` pushes many cotangents through one pass), so rules
address axes from the end and broadcast from the right.  The batch depth is
``ndim(g) - ndim(ans)``.

In a first-order pass ``g``, ``ans`` and the arguments are plain arrays; in a
``create_graph`` pass they are Tensors, and the same rule builds a graph that
can be differentiated again.
"""

from __future__ import annotations

from threading import get_ident

import numpy as np

from nablanet.autodiff import mode
from nablanet.autodiff.tensor import Tensor

#: Every primitive by name; the tests walk it so none goes unchecked.
REGISTRY = {}

#: All positional arguments are values (variadic primitives: concatenate, stack).
ALL_ARGUMENTS = "all"

#: The recorders tracing a training step, by thread (:mod:`nablanet.autodiff.replay`).
#: Empty outside a trace, so an ordinary call pays one truth test for it.
RECORDERS = {}


class Primitive:
    """A differentiable function of arrays.

    Parameters
    ----------
    name : str
        Unique name, shown in ``grad_fn`` and error messages.
    impl : callable
        The forward computation on NumPy arrays.
    differentiable : bool, default True
        False for functions whose derivative is zero almost everywhere (sign,
        comparisons) and for the steps of a layer that are not differentiated (a
        dropout mask's draw, batch statistics); they never record.
    guard : bool, default False
        The result (``None`` or not) chooses the caller's path, so a replayed step
        re-checks it before anything else and runs eagerly when it changes
        (:class:`nablanet.optim.TrainStep`).  Its arguments must be the step's inputs
        or constants.
    preserves_dtype : bool, default False
        True for primitives that move or select values without arithmetic (reshape,
        indexing, joins, max): integer and boolean values keep their dtype.  Otherwise
        they are promoted to floating point first (see the module's docstring).
    """

    # No __slots__: each primitive carries its own docstring (``help(nb.exp)``).

    def __init__(self, name, impl, differentiable=True, doc=None, guard=False,
                 preserves_dtype=False):
        if name in REGISTRY:
            raise ValueError(f"primitive {name!r} is already registered")
        self.name = name
        self.impl = impl
        self.vjps = None
        self.joint_vjp = None
        self.inplace_vjp = None
        self.inplace_needs_exclusive = True
        self._inplace_for = None
        self.differentiable = differentiable
        self.guard = guard
        self.preserves_dtype = preserves_dtype
        #: positions of the differentiable value arguments (or ALL_ARGUMENTS)
        self.values = ()
        self._promote = ()  # the value positions promoted to floating point
        # True for indexing: with a boolean mask among the arguments the result's shape
        # depends on values, so a replay (nablanet.autodiff.replay) refuses the call
        self.shape_from_mask = False
        self.__doc__ = doc or f"The ``{name}`` primitive (see nablanet.ops)."
        REGISTRY[name] = self

    def defvjp(self, *rules):
        """Set one VJP rule per positional argument (None: not differentiable).

        The arguments with a rule are the primitive's values (see the module's docstring).
        """
        self.vjps = rules
        self._set_values(tuple(i for i, rule in enumerate(rules) if rule is not None))
        return self

    def defvjp_joint(self, rule, values=None):
        """Set a rule ``rule(g, ans, needs, *args, **kw) -> tuple`` for all arguments.

        Used where the cotangents share work (batch norm) or the arity varies
        (concatenate).  ``needs[i]`` says whether argument ``i`` wants one.  ``values``
        lists the positions of the differentiable values, promoted to floating point
        when integer (the others, labels, indices or saved statistics, keep their
        dtype), or is :data:`ALL_ARGUMENTS`.  Without it nothing is promoted: a joint
        rule's arguments may be indices (an embedding's), so the primitive must say.
        """
        self.joint_vjp = rule
        if values is None:
            values = ()
        self._set_values(values if values == ALL_ARGUMENTS else tuple(values))
        return self

    def _set_values(self, values):
        self.values = values
        self._promote = () if self.preserves_dtype or not self.differentiable else values

    def defvjp_inplace(self, rule, needs_exclusive=True):
        """Set a first-order variant ``rule(g, ans, needs, *args, **kw)`` on plain arrays.

        It computes what the rules of :meth:`defvjp` / :meth:`defvjp_joint` compute, with
        NumPy's in-place operations: into ``g``'s own buffer (``needs_exclusive=True``),
        sparing the backward pass a large temporary and the page faults of fresh memory,
        or into temporaries of its own (``needs_exclusive=False``, ``g`` left untouched).
        The engine calls it only in a first-order pass, only when nothing but the engine
        holds ``g`` if it needs exclusivity (so the write is invisible), and only while the
        ordinary rules are still those set before it (replacing them disables it).  It
        returns the cotangents as the ordinary rule does, or None to decline.
        """
        self.inplace_vjp = rule
        self.inplace_needs_exclusive = needs_exclusive
        self._inplace_for = self.joint_vjp if self.joint_vjp is not None else self.vjps
        return self

    def inplace_vjp_valid(self):
        """True when the in-place variant mirrors the current ordinary rules."""
        current = self.joint_vjp if self.joint_vjp is not None else self.vjps
        return self.inplace_vjp is not None and self._inplace_for is current

    def __call__(self, *args, **kwargs):
        if RECORDERS:
            recorder = RECORDERS.get(get_ident())
            if recorder is not None and not recorder.busy:
                return recorder.record(self, args, kwargs)
        traced = False
        raw_args = None
        check = self._promote  # () for primitives whose arguments keep their dtype
        suspect = False  # an argument that may be an integer or boolean value
        for i, a in enumerate(args):
            kind = type(a)
            if kind is _ndarray:
                if check and a.dtype not in _FLOATING:
                    suspect = True
            elif isinstance(a, Tensor):
                if raw_args is None:
                    raw_args = list(args)
                raw_args[i] = a.data
                if a.requires_grad:
                    traced = True  # (only floating-point tensors require grad)
                elif check and a.data.dtype not in _FLOATING:
                    suspect = True
            elif check and kind is not float and a is not None:
                suspect = True  # a Python int, list or NumPy scalar: looked at below
        call_args = args if raw_args is None else raw_args
        if suspect and _needs_promotion(call_args, check):
            call_args = _promoted(call_args, check)
        try:
            out = self.impl(*call_args, **kwargs)
        except ValueError as err:
            if not self.differentiable or isinstance(err, np.linalg.LinAlgError):
                raise  # a layer's step or a factorisation says what was wrong itself
            raise self._shape_error(args, err) from None
        if raw_args is None:
            return out
        if traced and self.differentiable and mode.is_grad_enabled():
            return Tensor._from_op(out, self, args, kwargs)
        return Tensor._wrap(out) if type(out) is np.ndarray else Tensor(out)

    def impl_for(self, args):
        """The function a replay calls for a call recorded with ``args``.

        ``impl`` itself, or ``impl`` behind the dtype promotion when an integer or
        boolean value came (a replay is keyed by its inputs' dtypes, so the choice made
        at the recording holds at each replay).
        """
        raw_args = [a.data if isinstance(a, Tensor) else a for a in args]
        if not (self._promote and _needs_promotion(raw_args, self._promote)):
            return self.impl
        impl, promote = self.impl, self._promote

        def promoted_impl(*call_args, **kwargs):
            return impl(*_promoted(call_args, promote), **kwargs)

        return promoted_impl

    def _shape_error(self, args, err):
        shapes = ", ".join(str(getattr(a, "shape", "scalar")) for a in args)
        message = f"{self.name}: cannot apply to shapes {shapes}: {err}"
        if isinstance(err, np.exceptions.AxisError):
            return np.exceptions.AxisError(message)  # NumPy's type, for callers that catch it
        return ValueError(message)

    def vjp(self, g, ans, args, kwargs, needs):
        """Cotangents of all arguments (None where not needed)."""
        if self.joint_vjp is not None:
            return self.joint_vjp(g, ans, needs, *args, **kwargs)
        rules = self.vjps
        if rules is None:
            raise NotImplementedError(f"primitive {self.name!r} has no VJP rule")
        return tuple(
            rules[i](g, ans, *args, **kwargs) if need and rules[i] is not None else None
            for i, need in enumerate(needs)
        )

    def __repr__(self):
        return f"<primitive {self.name}>"


_PYTHON_INTEGRAL = (int, bool)
_ndarray = np.ndarray
#: dtypes that need no look: an array of another dtype is looked at more closely
_FLOATING = frozenset(np.dtype(t) for t in (np.float64, np.float32, np.float16, np.complex128))


def _is_integral(value):
    """True for an integer or boolean array, NumPy scalar, Python int/bool or list of them."""
    kind = _kind(value)
    return kind is not None and kind in "biu"


def _kind(value):
    t = type(value)
    if t is np.ndarray:
        return value.dtype.kind
    if t is Tensor:
        return _kind(value.data)
    if t is float:
        return "f"
    if t in _PYTHON_INTEGRAL:
        return "i"
    if isinstance(value, np.generic):
        return value.dtype.kind
    if t is list or t is tuple:
        try:
            return np.asarray(value).dtype.kind
        except (TypeError, ValueError, RuntimeError):
            return None  # a ragged or Tensor-holding list: the impl says what is wrong
    return None


def _positions(args, promote):
    return range(len(args)) if promote == ALL_ARGUMENTS else (i for i in promote if i < len(args))


def _needs_promotion(args, promote):
    """True when a value is an integer or boolean array, or all values are Python ints.

    A Python int beside a floating-point array needs nothing: NumPy computes in floats.
    """
    python_integral = floating = False
    for i in _positions(args, promote):
        a = args[i]
        if type(a) in _PYTHON_INTEGRAL:
            python_integral = True
            continue
        kind = _kind(a)
        if kind is None:
            continue
        if kind in "biu":
            return True
        floating = True
    return python_integral and not floating


def _promoted(args, promote):
    """``args`` with integer and boolean values converted to floating point.

    The floating dtype of the other values (the widest), else float64: an integer
    mask times float32 stays float32, as in PyTorch; ``sigmoid`` of integers is float64.
    Python ints become Python floats, which NumPy treats as weak scalars.
    """
    positions = list(_positions(args, promote))
    floats = [
        a.dtype for i in positions for a in (args[i],)
        if isinstance(a, (np.ndarray, np.generic)) and a.dtype.kind in "fc"
    ]
    target = np.result_type(*floats) if floats else np.dtype(np.float64)
    out = list(args)
    for i in positions:
        a = args[i]
        if _is_integral(a):
            out[i] = float(a) if type(a) in _PYTHON_INTEGRAL else np.asarray(a).astype(target)
    return out
