"""``replay=True`` for ``jacobian``, ``hessian`` and ``hvp``: record twice, then replay.

A transform called again and again at points of the same shape (a Newton solver, a
Hessian in a loop) rebuilds the same graph each time.  With ``replay=True`` it records
its primitive calls (the function and, for second derivatives, the recorded backward
pass of its gradient) on the first two calls per input shapes, dtypes and constant
arguments; when both recordings agree it replays them as flat code
(:mod:`nablanet.autodiff.replay`) and pushes the cotangents back through the recorded
graph with the engine's first-order rules, bit for bit what the eager transform computes.

As with ``jax.jit``, what the function does in Python is fixed by the recording: branches
on values and values captured from closures when they are rebound (not mutated) are not
seen again.  Nested transforms and differentiated Tensors that require grad run eagerly.
"""

from __future__ import annotations

import numpy as np

from nablanet.autodiff import mode
from nablanet.autodiff.replay import (
    Program,
    ProgramCache,
    ReplayMissError,
    is_recording,
    recording,
)
from nablanet.autodiff.tensor import Tensor


class Replayer:
    """The programs of one transform (``jacobian(..., replay=True)`` and the like)."""

    def __init__(self):
        self.cache = ProgramCache()

    def lookup(self, args, nums):
        """``(program, key, values)``: a program to replay (or None) for these arguments.

        ``key`` is None when the call must run eagerly without recording (inside another
        transform, or a differentiated tensor requires grad).
        """
        if mode.inside_trace() or is_recording() or any(
                not _is_array(args[i]) or isinstance(args[i], Tensor) and args[i].requires_grad
                for i in nums):
            return None, None, None
        arrays = [_array_of(a) for a in args if _is_array(a)]
        # which array arguments are the same object: one input in two places
        aliases = tuple(next(j for j, b in enumerate(arrays) if b is a) for a in arrays)
        key = tuple(_key_of(a) for a in args) + (nums, aliases)
        if None in key:
            return None, None, None  # an unhashable argument: its contents may change
        values = arrays
        program = self.cache.get(key)
        if program is None and not self.cache.wants(key):
            key = None
        return program, key, values

    @staticmethod
    def record(key):
        """A recording context for an eager call with ``key`` (a dummy one when None)."""
        return recording() if key is not None else _NotRecording()

    def add(self, key, recorder, args, inputs, nums, root, **extra):
        """File the recording of an eager call; ``inputs`` are its variables by argnum."""
        if key is None:
            return
        variables = dict(zip(nums, inputs, strict=True))
        slots = [variables.get(i, _array_of(a)) for i, a in enumerate(args) if _is_array(a)]

        def build():
            program = Program.build(recorder.entries, slots, {}, root, scalar=False)
            program.variables = list(inputs)
            program.extra = extra
            return program

        self.cache.add(key, build)

    @staticmethod
    def run(program, values, seeds):
        """Replay: the root's value and, per seed, each variable's cotangent (or None).

        Returns None when a guard declines (the caller then runs eagerly).
        """
        try:
            root, per_seed = program.run(values, seeds)
        except ReplayMissError:
            return None
        cotangents = []
        for pairs in per_seed:
            found = {id(leaf): cot for leaf, cot in pairs}
            cotangents.append([found.get(id(var)) for var in program.variables])
        return root, cotangents


class _NotRecording:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _is_array(value):
    return type(value) is np.ndarray or isinstance(value, Tensor)


def _array_of(value):
    return value.data if isinstance(value, Tensor) else value


def _key_of(value):
    if _is_array(value):
        array = _array_of(value)
        return ("array", array.shape, array.dtype)
    try:
        hash(value)
    except TypeError:
        return None  # a list, a dict: its contents may change under the same object
    return ("value", type(value), value)
