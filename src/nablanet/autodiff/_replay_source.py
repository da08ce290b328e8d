"""The Python source of a replayed program: one line per kernel, no engine in between.

Forward: one line per call, ``v7 = f3(v2, t0.data, c1, eps=c2)``.  Backward: per node,
the rule :func:`nablanet.autodiff.engine.first_order_cotangents` would pick (the in-place
variant when the cotangent is exclusive, checked as the engine checks it), then each
cotangent summed into its target's local as the engine's ``_Sums`` sums it.  Locals that
hold cotangents are dropped where the engine drops them, so reference counts, and with
them the in-place decisions, agree.  The rule choice is written out here rather than
calling ``first_order_cotangents`` per node: that call was the replay's largest cost.
"""

from __future__ import annotations

import numpy as np

from nablanet.autodiff.engine import _exclusive, add_owned

_SLOT, _LIVE, _CONST, _SEQ = 0, 1, 2, 3  # where an argument comes from
_AS_IS, _ARRAY, _MANY = 0, 1, 2  # what a call returns: any value, an array (a Tensor's), a tuple

#: References to a cotangent at a replayed step's in-place check: its local,
#: ``_exclusive``'s argument and ``sys.getrefcount``'s own.
_REPLAY_REFS = 3


class NotReplayableError(Exception):
    """The recorded step cannot be replayed (the message says why)."""


class ReplayMissError(Exception):
    """A guard's answer changed: this step must run eagerly."""


def write_source(program):
    """``(source, namespace)`` of the function ``replay(v0, ..., seeds)`` for ``program``."""
    return _Compiler(program).source()


class _Compiler:
    """Write a program as the source of one flat Python function (see the module)."""

    def __init__(self, program):
        self.program = program
        self.namespace = {"ReplayMissError": ReplayMissError, "asarray": np.asarray,
                          "array": np.array, "add_owned": add_owned, "exclusive": _exclusive}
        self.names = {}

    def _name(self, value, prefix):
        key = (prefix, id(value))
        if key not in self.names:
            self.names[key] = f"{prefix}{len(self.names)}"
            self.namespace[self.names[key]] = value
        return self.names[key]

    def _ref(self, kind, ref):
        if kind == _SLOT:
            return f"v{ref}"
        if kind == _SEQ:
            kind_of, items = ref
            inner = "".join(f"{self._ref(*item)}, " for item in items)
            return f"({inner})" if kind_of is tuple else f"[{inner}]"
        if kind == _LIVE:
            return self._name(ref, "t") + ".data"
        return self._name(ref, "c")

    def _arguments(self, sources):
        parts = []
        for item in sources:
            if len(item) == 2:
                parts.append(self._ref(*item))
            else:
                name, kind, ref = item
                parts.append(f"{name}={self._ref(kind, ref)}")
        return ", ".join(parts)

    def source(self):
        program = self.program
        lines = [f"def replay({''.join(f'v{i}, ' for i in range(program.n_inputs))}seeds):"]
        for impl, sources, out, was_none in program.guards:
            lines.append(f"    v{out} = {self._name(impl, 'f')}({self._arguments(sources)})")
            lines.append(f"    if v{out} is {'not ' if was_none else ''}None:")
            lines.append("        raise ReplayMissError")
        for impl, sources, out, kind in program.forward:
            expr = f"{self._name(impl, 'f')}({self._arguments(sources)})"
            if kind == _MANY:
                lines.append(f"    {', '.join(f'v{o}' for o in out)}, = {expr}")
            elif kind == _ARRAY:
                lines.append(f"    v{out} = asarray({expr})")
            else:
                lines.append(f"    v{out} = {expr}")
        lines += self._backward()
        return "\n".join(lines) + "\n", self.namespace

    def _backward(self):
        program = self.program
        root, nodes = program.root_node, program.nodes
        lines = ["    results = []", "    for seed in seeds:",
                 "        owned, leaves_owned = set(), set()"]
        lines += [f"        g{n.index} = None" for n in nodes if n.index != root]
        lines += [f"        l{i} = None" for i in range(len(program.leaves))]
        lines.append(f"        g{root} = seed")
        first_reached = []
        for node in reversed(nodes):
            g = f"g{node.index}"
            lines.append(f"        if {g} is not None:")
            rule = self._rule(node, g, f"v{node.ans}", self._arguments(node.sources))
            lines += [f"            {line}" for line in rule]
            lines.append(f"            {g} = None")
            for i, target in enumerate(node.targets):
                if target is None:
                    continue
                is_leaf, index = target
                local, owners = (f"l{index}", "leaves_owned") if is_leaf else (f"g{index}",
                                                                                "owned")
                if is_leaf and index not in first_reached:
                    first_reached.append(index)
                lines.append(f"            if r[{i}] is not None:")
                lines.append(f"                {local} = r[{i}] if {local} is None else "
                             f"add_owned({owners}, {index}, {local}, r[{i}])")
            lines.append("            r = None")
        pairs = "".join(f"({self._name(program.leaves[i], 't')}, l{i}), " for i in first_reached)
        lines.append(f"        results.append([p for p in ({pairs}) if p[1] is not None])")
        lines.append(f"    return v{nodes[root].ans}, results")
        return lines

    def _rule(self, node, g, ans, args):
        prim = node.prim
        head = f"{g}, {ans}, {self._name(list(node.needs), 'n')}, {args}"
        if prim.joint_vjp is not None:
            ordinary = f"{self._name(prim.joint_vjp, 'j')}({head})"
        elif prim.vjps is not None:
            # rule_i(g, ans, *args, **kwargs) for each argument that needs a cotangent
            rules = prim.vjps
            ordinary = "(" + "".join(
                f"{self._name(rules[i], 'd')}({g}, {ans}, {args}), "
                if need and rules[i] is not None else "None, "
                for i, need in enumerate(node.needs)) + ")"
        else:
            raise NotReplayableError(f"primitive {prim.name!r} has no VJP rule")
        if prim.inplace_vjp is None or not prim.inplace_vjp_valid():
            return [f"r = {ordinary}"]
        inplace = f"{self._name(prim.inplace_vjp, 'i')}({head})"
        if prim.inplace_needs_exclusive:
            # the in-place rule may write into g: only when this local is its one holder
            inplace += f" if exclusive({g}, {_REPLAY_REFS}) else None"
        return [f"r = {inplace}", "if r is None:", f"    r = {ordinary}"]
