"""``replay=True`` for ``jacobian``, ``hessian`` and ``hvp``: record twice, then replay.

A transform called again and again at points of the same shape (a Newton solver, a
Hessian in a loop) rebuilds the same graph each time.  With ``replay=True`` it records
its primitive calls (the function and, for second derivatives, the recorded backward
pass of its gradient) on the first two calls per input shapes, dtypes and constant
arguments; when both recordings agree it replays them as flat code
(:mod:`nablanet.autodiff.replay`) and pushes the cotangents back through the recorded
graph with the engine's first-order rules, bit for bit what the eager transform computes.

A program never outlives the live state it was recorded for: the key holds the input
shapes and dtypes, the constant arguments, and the training flag and settings of every
module the function reaches (through its closure, defaults, the globals it names, bound
methods, partials and its arguments); a tensor read from outside that has changed
(``requires_grad``, shape or dtype, or a new array for one that does not require grad)
makes the call record afresh.  A recording that reads a traced value out into Python
(``bool``, ``float``, ``item``, ``tolist``, ``np.asarray``; see
:func:`nablanet.autodiff.replay.recording`) is never replayed.  As with ``jax.jit``,
plain Python values and NumPy arrays captured from closures are fixed by the recording
when they are rebound (in-place writes to an array are seen).  Nested transforms and
differentiated Tensors that require grad run eagerly.
"""

from __future__ import annotations

import functools
import types

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

    def __init__(self, fun=None):
        self.cache = ProgramCache()
        self.fun = fun
        self._held = {}  # id -> module, so that an id in a key is never reused

    def _module_state(self, args):
        # the training flags and settings of every module the function can reach
        state = []
        for module in _modules_reached((self.fun, *args)):
            self._held[id(module)] = module
            state.append(id(module))
            state.extend((m.training, m._config_version) for m in module.modules())
        return tuple(state)

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
        key = tuple(_key_of(a) for a in args) + (nums, aliases, self._module_state(args))
        if None in key:
            return None, None, None  # an unhashable argument: its contents may change
        values = arrays
        program = self.cache.get(key)
        if program is not None and program.stale():
            del self.cache.entries[key]  # a tensor it read has changed: record afresh
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
            program = Program.build(recorder.entries, slots, {}, root, scalar=False,
                                    observed=recorder.observed)
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


_LIBRARIES = frozenset({"nablanet", "numpy", "scipy"})
#: Values that hold no module (skipped without a look inside).
_NO_MODULES = (np.ndarray, np.generic, Tensor, int, float, complex, str, bytes, type,
               type(None), types.ModuleType, types.BuiltinFunctionType)


def _is_module(value):
    # duck-typed: autodiff does not import nn (a higher floor)
    return hasattr(value, "_config_version") and hasattr(value, "modules")


def _modules_reached(roots, depth=6):
    """The modules reachable from ``roots`` through functions' closures, defaults and named
    globals, bound methods, partials, containers and callable objects' attributes."""
    found, seen, todo = {}, set(), [(root, 0) for root in roots]
    while todo:
        value, level = todo.pop()
        if isinstance(value, _NO_MODULES) or level > depth or id(value) in seen:
            continue
        seen.add(id(value))
        if _is_module(value):
            found[id(value)] = value
            continue
        level += 1
        todo.extend((child, level) for child in _children(value))
    return list(found.values())


def _children(value):
    if isinstance(value, types.FunctionType):
        children = [cell.cell_contents for cell in value.__closure__ or ()
                    if _cell_filled(cell)]
        children += list(value.__defaults__ or ())
        if value.__globals__.get("__name__", "").partition(".")[0] in _LIBRARIES:
            return children  # a library's globals hold no user's module
        names, glob = _names(value.__code__), value.__globals__
        children += [glob[name] for name in names if name in glob
                     and not isinstance(glob[name], types.ModuleType)]
        return children
    if isinstance(value, types.MethodType):
        return [value.__self__, value.__func__]
    if isinstance(value, functools.partial):
        return [value.func, *value.args, *value.keywords.values()]
    if type(value) in (tuple, list):
        return list(value)
    if type(value) is dict:
        return list(value.values())
    if callable(value) and hasattr(value, "__dict__") and not isinstance(value, type):
        return list(vars(value).values())
    return []


def _cell_filled(cell):
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=256)
def _names(code):
    names = list(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names += _names(const)
    return tuple(names)
