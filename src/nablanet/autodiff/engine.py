"""The backward pass: reverse topological order over the tape, iteratively.

The order comes from creation numbers: a recorded tensor is numbered after its
arguments, so popping the highest number from a heap reaches each tensor after all its
consumers, in the same loop that propagates (no separate sort).  No recursion
anywhere, so a chain of 100,000 operations is fine.  With ``create_graph=False`` the
rules see plain arrays (NumPy speed); with ``create_graph=True`` they see Tensors and
record a differentiable graph.
"""

from __future__ import annotations

import sys
from heapq import heappop, heappush

import numpy as np

from nablanet.autodiff import mode
from nablanet.autodiff.tensor import Tensor, last_write


def backprop(root, cotangent, targets=None, create_graph=False, release=False):
    """Push ``cotangent`` from ``root`` back to the leaves (or to ``targets``).

    Parameters
    ----------
    root : Tensor
    cotangent : array or Tensor
        Shape ``batch_shape + root.shape``; a non-empty batch shape pushes many
        cotangents through one pass.
    targets : list of Tensor, optional
        Stop at these tensors and return their cotangents (in order, None where
        the root does not depend on them).  Without targets, the cotangents of
        all leaves that require grad are returned as a dict ``id -> (leaf, g)``.
    create_graph : bool
        Run the rules on Tensors, recording the backward pass.
    release : bool
        Drop the graph's references as it is consumed.

    Returns
    -------
    dict or list
        See ``targets``.
    """
    stop_ids = frozenset(id(t) for t in targets) if targets is not None else frozenset()
    sums = _Sums(create_graph)
    previous = mode.set_grad_enabled(create_graph)
    try:
        if id(root) in stop_ids or root._prim is None:
            sums.deliver(root, cotangent)
        else:
            sums.pending[id(root)] = cotangent
            sums.queue.append((-root._seq, root))
        # Latest-created first: every consumer of a tensor was created after it, so by the
        # time a tensor leaves the queue all its cotangent terms have arrived.
        queue, pending = sums.queue, sums.pending
        # results recorded after the latest in-place write cannot have seen one
        latest_write = last_write()
        while queue:
            node = heappop(queue)[1]
            if node._seq < latest_write:
                node._check_saved_versions()
            # (no local for the cotangent: see _ENGINE_REFS)
            _propagate(node, pending.pop(id(node)), create_graph, sums, stop_ids)
            if release:
                node._args = ()
                node._kwargs = {}
                node._prim = _Released
    finally:
        mode.set_grad_enabled(previous)
    if targets is None:
        return sums.leaves
    return [sums.leaves.get(id(t), (None, None))[1] for t in targets]


class _Sums:
    """Cotangents waiting to be propagated (``pending``) and those of leaves (``leaves``).

    In a first-order pass a sum computed here owns its buffer, so later terms are
    added into it in place; arrays handed in by rules may be views of others and
    are never written to.
    """

    __slots__ = ("pending", "queue", "leaves", "owned", "in_place")

    def __init__(self, create_graph):
        self.pending = {}
        self.queue = []  # heap of (-creation number, tensor) for the tensors in pending
        self.leaves = {}
        self.owned = set()
        self.in_place = not create_graph

    def _add(self, key, old, new):
        if not self.in_place:
            return old + new
        return add_owned(self.owned, key, old, new)

    def add_pending(self, arg, cot):
        key = id(arg)
        pending = self.pending
        if key in pending:
            pending[key] = self._add(key, pending[key], cot)
        else:
            pending[key] = cot
            heappush(self.queue, (-arg._seq, arg))

    def deliver(self, leaf, cot):
        key = id(leaf)
        leaves = self.leaves
        if key in leaves:
            leaves[key] = (leaf, self._add(~key, leaves[key][1], cot))
        else:
            leaves[key] = (leaf, cot)


def add_owned(owned, key, old, new):
    """``old + new`` for a first-order pass, in ``old``'s buffer when the sum owns it.

    ``owned`` holds the keys whose sums were computed here (fresh buffers nobody else
    sees); arrays handed in by rules may be views of others and are never written to.
    """
    if key in owned and type(new) is np.ndarray and new.shape == old.shape and (
            new.dtype == old.dtype):
        old += new
        return old
    total = old + new
    if type(total) is np.ndarray:
        owned.add(key)
    return total


def first_order_cotangents(prim, g, ans, needs, values, kwargs):
    """The cotangents of a node's arguments on plain arrays (the rule the engine picks).

    The in-place variant runs when it may: ``g`` must be held by nobody but the caller's
    one reference (``_ENGINE_REFS``) if the variant writes into it.  A replayed step
    (``autodiff/_replay_source.py``) writes the same choice out as code: keep them in step.
    """
    if prim.inplace_vjp is not None:
        if (not prim.inplace_needs_exclusive or _exclusive(g)) and prim.inplace_vjp_valid():
            cots = prim.inplace_vjp(g, ans, needs, *values, **kwargs)
            if cots is not None:
                return cots
    if prim.joint_vjp is not None:
        return prim.joint_vjp(g, ans, needs, *values, **kwargs)
    rules = prim.vjps
    if rules is None:
        return prim.vjp(g, ans, values, kwargs, needs)
    return [
        rules[i](g, ans, *values, **kwargs) if need and rules[i] is not None else None
        for i, need in enumerate(needs)
    ]


def _propagate(node, g, create_graph, sums, stop_ids):
    args = node._args
    prim = node._prim
    kwargs = node._kwargs
    needs = []
    if create_graph:
        for a in args:
            needs.append(isinstance(a, Tensor) and a.requires_grad)
        cots = prim.vjp(g, node, args, kwargs, needs)
    else:
        values = []
        for a in args:
            if isinstance(a, Tensor):
                values.append(a.data)
                needs.append(a.requires_grad)
            else:
                values.append(a)
                needs.append(False)
        cots = first_order_cotangents(prim, g, node.data, needs, values, kwargs)
    for arg, need, cot in zip(args, needs, cots, strict=True):
        if not need or cot is None:
            continue
        if arg._prim is None or (stop_ids and id(arg) in stop_ids):
            sums.deliver(arg, cot)
        else:
            sums.add_pending(arg, cot)


#: References to a cotangent held only by the backward loop: ``_propagate``'s argument,
#: ``first_order_cotangents``' argument, ``_exclusive``'s argument and ``sys.getrefcount``'s
#: own (CPython 3.11; a replayed step writes the same choice out with its own count,
#: ``_replay_source._REPLAY_REFS``; pinned by
#: ``tests/test_autodiff_inplace.py``, which also checks that a shared cotangent is never
#: written to).
_ENGINE_REFS = 4


def _exclusive(g, refs=_ENGINE_REFS):
    """True for a writable array that owns its memory and that only the engine holds."""
    return (
        type(g) is np.ndarray
        and g.base is None
        and g.flags.writeable
        and sys.getrefcount(g) == refs
    )


class _ReleasedPrimitive:
    name = "released"
    joint_vjp = None
    inplace_vjp = None
    inplace_needs_exclusive = True
    vjps = None

    def vjp(self, *_):
        raise RuntimeError(
            "trying to backward through the graph a second time; its saved values were "
            "freed after the first backward. Pass retain_graph=True to the first call."
        )


_Released = _ReleasedPrimitive()


def backward_into_leaves(root, gradient, create_graph, retain_graph):
    """Implement :meth:`Tensor.backward`: accumulate into ``leaf.grad``."""
    if not root.requires_grad:
        raise RuntimeError(
            "backward() on a tensor that does not require grad: no recorded operation "
            "leads to it from a tensor created with requires_grad=True"
        )
    if gradient is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward() without a gradient needs a one-element output, got shape "
                f"{root.shape}; reduce it first (e.g. .sum()) or pass gradient="
            )
        gradient = np.array(1, root.data.dtype)  # (np.ones costs ~4x as much)
        if gradient.shape != root.data.shape:
            gradient = gradient.reshape(root.data.shape)
    else:
        gradient = gradient.data if isinstance(gradient, Tensor) else np.asarray(gradient)
        if gradient.shape != root.shape:
            raise ValueError(
                f"backward(): gradient has shape {gradient.shape}, expected {root.shape}"
            )
    retain = create_graph if retain_graph is None else retain_graph
    leaves = backprop(root, gradient, None, create_graph, release=not retain)
    store_leaf_grads(leaves.values(), {id(gradient)})


def store_leaf_grads(pairs, handed_out):
    """Add each ``(leaf, cotangent)`` into ``leaf.grad``, as :meth:`Tensor.backward` does.

    ``handed_out`` holds the ids of arrays the caller owns (the seed cotangent); a grad
    that would share memory with one of them, or with another leaf's, is copied.
    """
    for leaf, cot in pairs:
        if type(cot) is not np.ndarray and not isinstance(cot, Tensor):
            cot = np.asarray(cot)  # a rule's NumPy scalar: .grad.data is always an ndarray
        if not isinstance(cot, Tensor):
            # A .grad must own its buffer: rules pass cotangents through (add, reshape),
            # so the same array may reach two leaves or be the caller's `gradient`, and
            # an in-place zero_grad() or update would then write into all of them.
            if cot.base is not None or id(cot) in handed_out or not cot.flags.writeable:
                cot = cot.copy()
            handed_out.add(id(cot))
            cot = Tensor._wrap(cot if cot.dtype == leaf.data.dtype else cot.astype(leaf.dtype))
        elif cot.dtype != leaf.dtype:
            cot = Tensor(cot.data.astype(leaf.dtype))
        leaf.grad = cot if leaf.grad is None else leaf.grad + cot
