"""Pytrees: nested tuples, lists and dicts of arrays, flattened and rebuilt (JAX's rules).

A pytree is a leaf or a container of pytrees.  The containers are ``tuple``, ``list``,
``dict`` (children in sorted key order, as JAX does), ``collections.OrderedDict`` (in
insertion order), namedtuples (rebuilt as their own type) and ``None`` (a container with
no children, so it holds no leaf).  Everything else (an ndarray, a Tensor, a Python
number) is a leaf.  Every transform flattens its inputs and outputs here and rebuilds its
results with the same structure, so they take and return parameter dicts and tuples.

Examples
--------
>>> from nablanet.autodiff.pytree import tree_flatten, tree_unflatten
>>> leaves, treedef = tree_flatten({"b": (1.0, 2.0), "a": [3.0, None]})
>>> leaves
[3.0, 1.0, 2.0]
>>> tree_unflatten(treedef, [10.0, 20.0, 30.0])
{'a': [10.0, None], 'b': (20.0, 30.0)}
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["PyTreeDef", "tree_flatten", "tree_leaves", "tree_map", "tree_structure",
           "tree_unflatten"]

_LEAF = "leaf"


class PyTreeDef:
    """The structure of a pytree: its containers, without its leaves.

    Two treedefs compare equal when their trees have the same containers (types, dict keys,
    lengths) in the same places; ``num_leaves`` counts the leaves the structure holds.
    """

    __slots__ = ("kind", "data", "children", "num_leaves")

    def __init__(self, kind, data, children):
        self.kind = kind  # _LEAF, None, tuple, list, dict, OrderedDict or a namedtuple type
        self.data = data  # the keys of a dict, else None
        self.children = children
        self.num_leaves = 1 if kind is _LEAF else sum(c.num_leaves for c in children)

    def __eq__(self, other):
        return (isinstance(other, PyTreeDef) and self.kind == other.kind
                and self.data == other.data and self.children == other.children)

    def __hash__(self):
        return hash((self.kind, self.data, self.children))

    def __repr__(self):
        return f"PyTreeDef({self._show()})"

    def _show(self):
        if self.kind is _LEAF:
            return "*"
        if self.kind is None:
            return "None"
        inner = [c._show() for c in self.children]
        if self.kind in (dict, OrderedDict):
            inner = [f"{k!r}: {s}" for k, s in zip(self.data, inner, strict=True)]
            body = "{" + ", ".join(inner) + "}"
            return body if self.kind is dict else f"OrderedDict({body})"
        if self.kind is list:
            return "[" + ", ".join(inner) + "]"
        body = "(" + ", ".join(inner) + ("," if len(inner) == 1 else "") + ")"
        return body if self.kind is tuple else self.kind.__name__ + body

    @property
    def is_leaf(self):
        """True for the structure of a single leaf."""
        return self.kind is _LEAF


_LEAF_DEF = PyTreeDef(_LEAF, None, ())


def _node(tree):
    """``(kind, keys, children)`` of a container, or None for a leaf."""
    kind = type(tree)
    if kind is tuple or kind is list:
        return kind, None, tree
    if kind is dict:
        try:
            keys = tuple(sorted(tree))
        except TypeError:
            raise TypeError(
                f"a dict in a pytree needs sortable keys (JAX's order); got {list(tree)!r}"
            ) from None
        return dict, keys, [tree[k] for k in keys]
    if tree is None:
        return None, None, ()
    if isinstance(tree, OrderedDict):
        keys = tuple(tree)
        return OrderedDict, keys, [tree[k] for k in keys]
    if isinstance(tree, tuple) and hasattr(kind, "_fields"):
        return kind, None, tree
    return None


def tree_flatten(tree):
    """Split ``tree`` into its leaves (depth first, dict keys sorted) and its structure.

    Parameters
    ----------
    tree : pytree

    Returns
    -------
    leaves : list
    treedef : PyTreeDef
        What :func:`tree_unflatten` needs to rebuild the tree from new leaves.
    """
    leaves = []
    return leaves, _flatten(tree, leaves)


def _flatten(tree, leaves):
    node = _node(tree)
    if node is None:
        leaves.append(tree)
        return _LEAF_DEF
    kind, keys, children = node
    return PyTreeDef(kind, keys, tuple(_flatten(c, leaves) for c in children))


def tree_unflatten(treedef, leaves):
    """Rebuild the tree of structure ``treedef`` from ``leaves`` (in flattened order)."""
    leaves = list(leaves)
    if len(leaves) != treedef.num_leaves:
        raise ValueError(
            f"tree_unflatten: {treedef} holds {treedef.num_leaves} leaves, got {len(leaves)}"
        )
    return _build(treedef, iter(leaves))


def _build(treedef, leaves):
    kind = treedef.kind
    if kind is _LEAF:
        return next(leaves)
    if kind is None:
        return None
    children = [_build(c, leaves) for c in treedef.children]
    if kind is dict or kind is OrderedDict:
        return kind(zip(treedef.data, children, strict=True))
    if kind is tuple or kind is list:
        return kind(children)
    return kind(*children)  # a namedtuple


def tree_leaves(tree):
    """The leaves of ``tree``, in flattened order."""
    return tree_flatten(tree)[0]


def tree_structure(tree):
    """The :class:`PyTreeDef` of ``tree``."""
    return tree_flatten(tree)[1]


def tree_map(f, tree, *rest):
    """``f`` applied leaf by leaf: ``f(leaf, *matching leaves of rest)``, in ``tree``'s structure.

    Each tree in ``rest`` must have ``tree``'s structure, or have it as a prefix (a leaf
    of ``tree`` may face a whole subtree, which is passed to ``f`` as it is), as in JAX.
    """
    leaves, treedef = tree_flatten(tree)
    others = [flatten_up_to(treedef, other) for other in rest]
    return tree_unflatten(treedef, [f(*xs) for xs in zip(leaves, *others, strict=True)])


def flatten_up_to(treedef, tree):
    """The subtrees of ``tree`` at the leaves of ``treedef`` (``tree`` must extend it)."""
    found = []
    _up_to(treedef, tree, found)
    return found


def _up_to(treedef, tree, found):
    if treedef.kind is _LEAF:
        found.append(tree)
        return
    node = _node(tree)
    if node is None or node[0] != treedef.kind or node[1] != treedef.data or (
            len(node[2]) != len(treedef.children)):
        raise ValueError(
            f"pytree structures differ: expected {treedef}, got {tree_structure(tree)}"
        )
    for child_def, child in zip(treedef.children, node[2], strict=True):
        _up_to(child_def, child, found)
