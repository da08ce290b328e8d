"""Record a step's primitive calls, then replay them as one flat function of kernels.

An eager training step spends most of its Python time outside the arithmetic: module
calls, Tensor wrappers, the recorded graph, the backward heap.  A :class:`Recorder`
notes every primitive call of one eager step (the function, where each argument came
from, the result); :meth:`Program.build` turns that tape into

* a forward list: each primitive's ``impl`` with its arguments read from slots (results
  of earlier calls and the step's inputs), from live tensors (parameters and buffers,
  read at each replay so that in-place updates and ``load_state_dict`` are seen) or
  frozen constants;
* a backward list: the recorded nodes in decreasing creation order (the order the
  engine's heap pops them), each with where its cotangents go.

:meth:`Program.compile` writes both out as one Python function
(:mod:`nablanet.autodiff._replay_source`), and :meth:`Program.run` replays it on fresh
inputs and returns the loss and the leaves' cotangents, bit for bit what the eager step
computes.  Everything that varies between steps must therefore happen inside primitives:
dropout masks, batch statistics and the running-statistics update are primitives for
this reason; a primitive marked ``guard`` (the class-label check of cross-entropy) is
re-run before anything else, and a changed answer makes the replay decline
(:class:`ReplayMissError`).  The callers (:class:`nablanet.optim.TrainStep`, the
``replay=True`` transforms) build two programs from two eager calls and replay only when
they agree, which catches values computed outside primitives that differ between them.
A recording also listens (:func:`nablanet.autodiff.mode.observing`) for tensor values read
out into Python or NumPy outside a primitive (``bool``, ``float``, ``item``, ``tolist``,
``numpy()``, ``np.asarray``): such a recording is value-dependent and never replayed.
Reading ``.data`` directly is not heard; the two-recording comparison is the net there.
"""

from __future__ import annotations

from contextlib import contextmanager
from threading import get_ident

import numpy as np

from nablanet.autodiff import mode
from nablanet.autodiff._replay_source import (
    _ARRAY,
    _AS_IS,
    _CONST,
    _LIVE,
    _MANY,
    _SEQ,
    _SLOT,
    NotReplayableError,
    ReplayMissError,
    write_source,
)
from nablanet.autodiff.primitive import RECORDERS
from nablanet.autodiff.tensor import Tensor

__all__ = [
    "NotReplayableError", "Program", "ProgramCache", "Recorder", "ReplayMissError",
    "is_recording", "recording",
]


class Recorder:
    """The primitive calls of one thread while it is recording (see :func:`recording`).

    ``observed`` lists the tensors whose values the recorded code read out into Python or
    NumPy (``bool``, ``float``, ``item``, ``tolist``, ``numpy``, ``np.asarray``) outside a
    primitive: what it did next may depend on those values, which a replay would freeze,
    so :meth:`Program.build` refuses such a recording.
    """

    __slots__ = ("entries", "busy", "observed")

    def __init__(self):
        self.entries = []
        self.busy = False
        self.observed = []

    def observe(self, tensor):
        """:func:`nablanet.autodiff.mode.observing`'s callback (a primitive's own reads
        are re-run by the replay, so they do not count)."""
        if not self.busy:
            self.observed.append(tensor)

    def record(self, prim, args, kwargs):
        """Run ``prim`` (calls it makes itself are not recorded) and note the call."""
        self.busy = True
        try:
            result = prim(*args, **kwargs)
        finally:
            self.busy = False
        self.entries.append((prim, args, kwargs, result))
        return result


def is_recording():
    """True while this thread records primitive calls (nested recordings run eagerly)."""
    return get_ident() in RECORDERS


@contextmanager
def recording():
    """Record the primitive calls this thread makes inside the block.

    Yields
    ------
    Recorder
        Its ``entries`` are ``(primitive, args, kwargs, result)`` in call order.
    """
    key = get_ident()
    if key in RECORDERS:
        raise RuntimeError("recording() is already active on this thread")
    recorder = RECORDERS[key] = Recorder()
    try:
        with mode.observing(recorder.observe):
            yield recorder
    finally:
        del RECORDERS[key]


class _Resolver:
    """Where each value of the tape comes from: a slot, a live tensor or a constant."""

    def __init__(self, inputs, live):
        self.slot_of_array, self.slot_of_tensor = {}, {}
        for i, value in enumerate(inputs):
            if isinstance(value, Tensor):  # a variable: its values come in as an input
                self.slot_of_tensor[id(value)] = i
                value = value.data
            self.slot_of_array[id(value)] = i
        self.live = live  # id(array) -> the Tensor holding it
        self.n_slots = len(inputs)
        self.captured = {}  # id -> (tensor, its array, requires_grad): tensors from outside

    def source(self, value):
        if isinstance(value, Tensor):
            slot = self.slot_of_tensor.get(id(value), self.slot_of_array.get(id(value.data)))
            if slot is not None:
                return _SLOT, slot
            if value._prim is not None:
                raise NotReplayableError("a recorded tensor from outside the step is used in it")
            self.captured[id(value)] = (value, value.data, value.requires_grad)
            if id(value.data) in self.live or value.requires_grad:
                return _LIVE, value
            return _CONST, value.data
        if type(value) is np.ndarray or _is_result_scalar(value):
            # (a NumPy scalar: the full reduction of a plain array, a result like any other)
            key = id(value)
            if key in self.slot_of_array:
                return _SLOT, self.slot_of_array[key]
            if key in self.live:
                return _LIVE, self.live[key]
        elif type(value) is tuple or type(value) is list:
            # an index such as (arange(n), labels): its arrays may be inputs or results
            items = tuple(self.source(item) for item in value)
            if any(kind != _CONST for kind, _ in items):
                return _SEQ, (type(value), items)
        return _CONST, value

    def new_slot(self, value):
        slot = self.n_slots
        self.n_slots += 1
        if isinstance(value, Tensor):
            self.slot_of_tensor[id(value)] = slot
            self.slot_of_array[id(value.data)] = slot
        elif type(value) is np.ndarray or _is_result_scalar(value):
            self.slot_of_array[id(value)] = slot
        return slot


def _is_result_scalar(value):
    """A NumPy number a primitive returned (np.True_ / np.False_ are shared singletons: no)."""
    return isinstance(value, np.generic) and type(value) is not np.bool_


def _has_mask(values):
    for value in values:
        value = value.data if isinstance(value, Tensor) else value
        if type(value) is np.ndarray and value.dtype == bool and value.ndim:
            return True
        if (type(value) is tuple or type(value) is list) and _has_mask(value):
            return True
    return False


def _only_inputs(sources, n_inputs):
    """Whether a call's sources are inputs and constants only (a guard's may be no more)."""
    for item in sources:
        kind, ref = item[-2], item[-1]
        if kind == _LIVE or kind == _SLOT and ref >= n_inputs:
            return False
        if kind == _SEQ and not _only_inputs(ref[1], n_inputs):
            return False
    return True


def _sources(resolver, args, kwargs):
    """Where each argument of a call comes from: ``(kind, ref)``, ``(name, kind, ref)``."""
    sources = [resolver.source(value) for value in args]
    sources += [(name, *resolver.source(value)) for name, value in kwargs.items()]
    return sources


class _Node:
    """A recorded node of the backward pass."""

    __slots__ = ("prim", "sources", "ans", "needs", "targets", "index")

    def __init__(self, prim, sources, ans, needs, targets, index):
        self.prim, self.sources, self.ans = prim, sources, ans
        self.needs, self.targets, self.index = needs, targets, index


class Program:
    """A recorded step: its forward calls and backward nodes (build with :meth:`build`)."""

    def __init__(self):
        self.guards = []  # (impl, sources, out slot, the recorded result was None)
        self.forward = []  # (impl, sources, out slot or slots, what it returns)
        self.nodes = []
        self.leaves = []
        self.root_node = self.n_inputs = None
        self.root_shape = self.root_dtype = None
        self.signature = []
        self.source = None  # the replayed step's Python source, written by compile()
        self.variables = []  # a transform's differentiated inputs (their cotangents are kept)
        self.extra = {}  # what the caller needs again at replay (a jacobian's rows per pass)
        self.captured = []  # (tensor, array, requires_grad) of the tensors read from outside
        self._replay = None

    def stale(self):
        """Whether a tensor the recording read from outside has changed since.

        A tensor that required grad is read afresh at each replay: its ``requires_grad``,
        shape and dtype must be as recorded.  Any other tensor's array was frozen into the
        program: it must still be the same array (in-place writes to it are seen).
        """
        for tensor, array, requires_grad in self.captured:
            if tensor.requires_grad != requires_grad:
                return True
            data = tensor.data
            if requires_grad:
                if data.shape != array.shape or data.dtype != array.dtype:
                    return True
            elif data is not array:
                return True
        return False

    @classmethod
    def build(cls, entries, inputs, live, root, scalar=True, observed=()):
        """Turn a recorder's entries into a program.

        Parameters
        ----------
        entries : list
            ``Recorder.entries`` of one eager forward pass.
        inputs : list of ndarray or Tensor
            The step's inputs, in the order :meth:`run` will receive their values; a
            Tensor is a variable (a leaf whose cotangent :meth:`run` returns).
        live : dict
            ``id(array) -> Tensor`` for parameters and buffers, read afresh at each replay.
        root : Tensor
            The recorded tensor the backward pass starts from: a loss (one element)
            unless ``scalar`` is False.
        scalar : bool, default True
        observed : sequence of Tensor, default ()
            ``Recorder.observed``: values read out during the recording; any makes the
            recording value-dependent.

        Raises
        ------
        NotReplayableError
        """
        if observed:
            shapes = ", ".join(str(t.data.shape) for t in observed[:3])
            raise NotReplayableError(
                f"value-dependent: the recording read {len(observed)} tensor value(s) into "
                f"Python or NumPy (shapes {shapes}; bool, float, item, tolist, numpy or "
                "np.asarray), so a replay could take a stale branch; it runs eagerly")
        program, resolver = cls(), _Resolver(inputs, live)
        node_of_tensor, leaf_index = {}, {}
        for prim, args, kwargs, result in entries:
            sources = _sources(resolver, args, kwargs)
            program.signature.append((prim.name, sources))
            if isinstance(result, tuple):
                out = tuple(resolver.new_slot(r) for r in result)
            else:
                out = resolver.new_slot(result)
            if prim.guard:
                if not _only_inputs(sources, len(inputs)):
                    raise NotReplayableError(f"guard {prim.name!r} depends on more than the inputs")
                program.guards.append((prim.impl, sources, out, result is None))
                continue
            if prim.shape_from_mask and _has_mask(args):
                raise NotReplayableError(
                    f"{prim.name} with a boolean mask: the result's shape depends on values")
            kind = _MANY if isinstance(result, tuple) else (
                _ARRAY if isinstance(result, Tensor) else _AS_IS)
            program.forward.append((prim.impl_for(args), sources, out, kind))
            if isinstance(result, Tensor) and result._prim is prim:
                node_of_tensor[id(result)] = len(program.nodes)
                program.nodes.append(program._node(prim, args, sources, out, node_of_tensor,
                                                   leaf_index))
        if id(root) not in node_of_tensor or (scalar and root.data.size != 1):
            raise NotReplayableError("the loss is not a one-element tensor recorded in the step")
        program.root_node = node_of_tensor[id(root)]
        program.n_inputs = len(inputs)
        program.captured = list(resolver.captured.values())
        program.root_shape, program.root_dtype = root.data.shape, root.data.dtype
        return program

    def _node(self, prim, args, sources, out, node_of_tensor, leaf_index):
        needs, targets = [], []
        for arg in args:
            need = isinstance(arg, Tensor) and arg.requires_grad
            needs.append(need)
            if not need:
                targets.append(None)
            elif id(arg) in node_of_tensor:
                targets.append((False, node_of_tensor[id(arg)]))
            elif arg._prim is None:
                if id(arg) not in leaf_index:
                    leaf_index[id(arg)] = len(self.leaves)
                    self.leaves.append(arg)
                targets.append((True, leaf_index[id(arg)]))
            else:
                raise NotReplayableError("a recorded tensor from outside the step is used in it")
        return _Node(prim, sources, out, needs, targets, len(self.nodes))

    def same_as(self, other):
        """True when ``other`` records the same calls with the same sources and constants."""
        if len(self.signature) != len(other.signature):
            return False
        for (name, sig), (other_name, other_sig) in zip(self.signature, other.signature,
                                                          strict=True):
            if name != other_name or len(sig) != len(other_sig):
                return False
            if not all(_same_source(a, b) for a, b in zip(sig, other_sig, strict=True)):
                return False
        return True

    def run(self, inputs, seeds):
        """Replay the recorded computation on ``inputs``, then one backward pass per seed.

        Parameters
        ----------
        inputs : list of ndarray
            Values for the recorded inputs, in order.
        seeds : list of ndarray
            Cotangents of the root (for a loss, ``[np.array(1, dtype)]``); each may carry
            leading batch axes.

        Returns
        -------
        root : ndarray
            The root's value.
        leaf_cotangents : list of list of (Tensor, ndarray)
            Per seed, each leaf reached with its cotangent, in the order the engine first
            reaches them.

        Raises
        ------
        ReplayMissError
            When a guard answers otherwise than in the recording (nothing has run yet).
        """
        if self._replay is None:
            self.compile()
        return self._replay(*inputs, seeds)

    def compile(self):
        """Write and compile the replay function (:attr:`source`); done once.

        Raises
        ------
        NotReplayableError
            When a recorded node has no rule to replay.
        """
        self.source, namespace = write_source(self)
        exec(compile(self.source, "<nablanet replayed step>", "exec"), namespace)  # noqa: S102
        self._replay = namespace["replay"]


class ProgramCache:
    """Programs by key (shapes, dtypes, modes), each replayed only after two equal recordings.

    Parameters
    ----------
    limit : int, default 8
        Keys kept; calls with further keys run eagerly.

    Attributes
    ----------
    reason : str or None
        Why the latest :meth:`get` returned no program.
    """

    def __init__(self, limit=8):
        self.limit = limit
        self.entries = {}
        self.reason = None

    def get(self, key):
        """The program to replay for ``key``, or None (run eagerly; see :meth:`wants`)."""
        known = self.entries.get(key)
        if type(known) is Program:
            return known
        if type(known) is str:
            self.reason = known
        elif known is None and len(self.entries) >= self.limit:
            self.reason = f"more than {self.limit} distinct input shapes and modes"
        return None

    def wants(self, key):
        """Whether an eager call with ``key`` should be recorded (after :meth:`get`)."""
        known = self.entries.get(key)
        return type(known) is tuple or (known is None and len(self.entries) < self.limit)

    def add(self, key, build):
        """File a recording: ``build()`` returns its Program or raises NotReplayableError."""
        if type(self.entries.get(key)) is not tuple and key in self.entries:
            return  # settled: a program (this call was one its guard declined) or a reason
        try:
            program = build()
        except NotReplayableError as err:
            self.entries[key] = self.reason = str(err)
            return
        except Exception as err:  # noqa: BLE001 - a step must not fail for its recording
            self.entries[key] = self.reason = f"could not be recorded: {err!r}"
            return
        first = self.entries.get(key)
        if first is None:
            self.entries[key] = (program,)
            self.reason = "recorded once; replays after a second, identical recording"
        elif program.same_as(first[0]):
            try:
                program.compile()
            except NotReplayableError as err:
                self.entries[key] = self.reason = str(err)
                return
            self.entries[key] = program
            self.reason = "recorded twice, identically; replays from the next call"
        else:
            self.entries[key] = self.reason = (
                "two recordings differ: a value is computed outside primitives")

    def __getstate__(self):
        # programs hold generated functions: a copy records its own
        return {"limit": self.limit, "entries": {}, "reason": None}


def _same_source(a, b):
    """Whether two signature items (``(kind, ref)`` or ``(name, kind, ref)``) agree."""
    if len(a) != len(b) or a[:-1] != b[:-1]:
        return False
    kind, x, y = a[-2], a[-1], b[-1]
    if kind == _SLOT:
        return x == y
    if kind == _LIVE:
        return x is y
    if kind == _SEQ:
        return x[0] is y[0] and len(x[1]) == len(y[1]) and all(
            map(_same_source, x[1], y[1]))
    return _same_constant(x, y)


def _same_constant(x, y):
    if x is y:
        return True
    if type(x) is not type(y):
        return False
    if type(x) is np.ndarray:
        return x.shape == y.shape and x.dtype == y.dtype and bool(np.array_equal(x, y))
    if isinstance(x, tuple | list):
        return len(x) == len(y) and all(map(_same_constant, x, y))
    try:
        return bool(x == y)
    except (TypeError, ValueError):
        return False
