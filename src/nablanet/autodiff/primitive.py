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
    """

    # No __slots__: each primitive carries its own docstring (``help(nb.exp)``).

    def __init__(self, name, impl, differentiable=True, doc=None, guard=False):
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
        # True for indexing: with a boolean mask among the arguments the result's shape
        # depends on values, so a replay (nablanet.autodiff.replay) refuses the call
        self.shape_from_mask = False
        self.__doc__ = doc or f"The ``{name}`` primitive (see nablanet.ops)."
        REGISTRY[name] = self

    def defvjp(self, *rules):
        """Set one VJP rule per positional argument (None: not differentiable)."""
        self.vjps = rules
        return self

    def defvjp_joint(self, rule):
        """Set a rule ``rule(g, ans, needs, *args, **kw) -> tuple`` for all arguments.

        Used where the cotangents share work (batch norm) or the arity varies
        (concatenate).  ``needs[i]`` says whether argument ``i`` wants one.
        """
        self.joint_vjp = rule
        return self

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
        for i, a in enumerate(args):
            if isinstance(a, Tensor):
                if raw_args is None:
                    raw_args = list(args)
                raw_args[i] = a.data
                if a.requires_grad:
                    traced = True
        try:
            out = self.impl(*(args if raw_args is None else raw_args), **kwargs)
        except ValueError as err:
            if not self.differentiable:
                raise  # a layer's step (a label check) says what was wrong itself
            raise self._shape_error(args, err) from None
        if raw_args is None:
            return out
        if traced and self.differentiable and mode.is_grad_enabled():
            return Tensor._from_op(out, self, args, kwargs)
        return Tensor._wrap(out) if type(out) is np.ndarray else Tensor(out)

    def _shape_error(self, args, err):
        shapes = ", ".join(str(getattr(a, "shape", "scalar")) for a in args)
        return ValueError(f"{self.name}: cannot apply to shapes {shapes}: {err}")

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
