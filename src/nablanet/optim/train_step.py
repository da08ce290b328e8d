"""``TrainStep``: one training step as one call, recorded twice and then replayed.

The eager step (``zero_grad``, forward, loss, ``backward``, ``step``) builds Tensors, a
graph and a heap on every batch.  For the same shapes and modes the calls are always the
same, so :class:`TrainStep` records them (:mod:`nablanet.autodiff.replay`) and from then
on runs only the kernels: the primitives' forward functions, the engine's first-order
rules in the engine's order, then the optimiser.  The result is bit-identical to the eager
step; only the Python around the arithmetic is gone.
"""

from __future__ import annotations

from operator import attrgetter

import numpy as np

from nablanet.autodiff import mode
from nablanet.autodiff.engine import store_leaf_grads
from nablanet.autodiff.replay import (
    NotReplayableError,
    Program,
    ProgramCache,
    ReplayMissError,
    is_recording,
    recording,
)
from nablanet.autodiff.tensor import Tensor
from nablanet.ops.losses import (
    binary_cross_entropy_with_logits,
    cross_entropy,
    mse_loss,
)

#: Loss functions whose every data-dependent step is a primitive (with default arguments).
REPLAYABLE_LOSSES = frozenset({cross_entropy, mse_loss, binary_cross_entropy_with_logits})
#: Distinct (shapes, dtypes, modes) a step keeps programs for; further ones run eagerly.
MAX_PROGRAMS = 8

_modes = attrgetter("training", "_config_version")
#: What a recorded program assumed of each parameter and buffer (its key's share).
_tensor_state = attrgetter("requires_grad", "data.shape", "data.dtype")


class TrainStep:
    """``optimizer.zero_grad()``, ``loss_fn(model(x), y).backward()``, ``optimizer.step()``.

    The first two calls for given input shapes and dtypes, training modes and module
    settings, and every parameter's and buffer's ``requires_grad``, shape and dtype run
    eagerly and are recorded (programs belong to the model, loss and optimiser the step
    holds: assigning another one starts afresh); when both recordings agree, later calls
    replay the recorded kernels without building a graph, with the same results bit for
    bit (fresh dropout masks, running statistics and batch counters included).  Anything
    the replay cannot promise runs eagerly instead, and :attr:`reason` says why:

    * a module whose ``replayable`` attribute is False (user-defined modules, until their
      author sets it: their forward must do everything that varies between batches through
      nablanet's primitives, with no Python branching on values), or a loss function
      outside :data:`REPLAYABLE_LOSSES` that is not a replayable module;
    * a recording that read a tensor's value into Python or NumPy (``bool``, ``float``,
      ``item``, ``tolist``, ``numpy()``, ``np.asarray``): a branch or mask may depend on it;
    * two recordings that differ (a value computed outside primitives, e.g. from ``.data``);
    * a batch whose labels leave the fused cross-entropy path (an ``ignore_index`` label,
      an out-of-range label, which then raises the eager error);
    * inputs that require grad, or a call under ``no_grad`` (which then fails as eagerly).

    Parameters
    ----------
    model : Module
    loss_fn : callable
        Called as ``loss_fn(model(x), y)``; returns a one-element tensor.
    optimizer : Optimizer
        Over (some of) the parameters of ``model``.
    replay : bool, default True
        False: always the eager step.

    Attributes
    ----------
    replayed_steps, eager_steps : int
        How the calls so far ran.
    reason : str or None
        Why the latest eager call was not replayed (None after a replay).
    source : str or None
        The Python code of the latest replayed step (None before the first replay).

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn, optim
    >>> rng = np.random.default_rng(0)
    >>> net = nn.MLP(4, 8, 3, batch_norm=True, dropout=0.2, generator=rng)
    >>> step = optim.TrainStep(net, nn.CrossEntropyLoss(), optim.SGD(net.parameters(), lr=0.1))
    >>> x, y = rng.standard_normal((16, 4)), rng.integers(0, 3, 16)
    >>> losses = [float(step(x, y)) for _ in range(4)]
    >>> step.eager_steps, step.replayed_steps
    (2, 2)
    """

    def __init__(self, model, loss_fn, optimizer, replay=True):
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self._static_reason = None if replay else "replay=False"
        self._find_modules()
        self.replayed_steps = self.eager_steps = 0
        self.reason = self._static_reason or self._unreplayable()
        self.source = None

    def _find_modules(self):
        # the modules and tensors a key and a recording look at; found again before each
        # recording, since a layer may have been added (a new key: its parent's
        # _config_version changed).  The programs belong to the objects held now: a step
        # given another model, loss or optimiser starts a new cache.
        owners = (self.model, self.loss_fn, self.optimizer)
        if getattr(self, "_owners", None) != tuple(map(id, owners)):
            self._owners, self._owner_refs = tuple(map(id, owners)), owners
            self._cache = ProgramCache(MAX_PROGRAMS)
        self._modules = list(self.model.modules())
        if hasattr(self.loss_fn, "modules"):
            self._modules += list(self.loss_fn.modules())
        self._tensors = [t for m in self._modules for t in (*m._parameters.values(),
                                                            *m._buffers.values())
                         if isinstance(t, Tensor)]

    def _key(self, x, y):
        # the live state a program assumes: input shapes and dtypes (x is y: an
        # autoencoder's batch is one input in two places), every module's training flag
        # and settings, every parameter's and buffer's requires_grad, shape and dtype
        return (x.shape, x.dtype, y.shape, y.dtype, x is y, *map(_modes, self._modules),
                *map(_tensor_state, self._tensors))

    def _same_owners(self):
        owners = self._owner_refs
        return (self.model is owners[0] and self.loss_fn is owners[1]
                and self.optimizer is owners[2])

    def _build(self, recorder, inputs, live, loss):
        # modules and losses are checked at each recording: a setting may have changed
        # (CrossEntropyLoss.weight), and a changed setting is a new key
        reason = self._unreplayable()
        if reason is not None:
            raise NotReplayableError(reason)
        return Program.build(recorder.entries, inputs, live, loss, observed=recorder.observed)

    def _unreplayable(self):
        for module in self._modules:
            if not getattr(module, "replayable", False):
                return (f"{type(module).__name__} is not marked replayable (its forward may "
                        "branch on values or compute outside primitives)")
        if not hasattr(self.loss_fn, "modules") and self.loss_fn not in REPLAYABLE_LOSSES:
            return f"loss function {self.loss_fn!r} is not one of REPLAYABLE_LOSSES"
        return None

    def __call__(self, x, y):
        """Run one step on the batch ``(x, y)``; return its loss (a tensor without graph).

        Parameters
        ----------
        x, y : array_like or Tensor
            The model's input and the loss's target.

        Returns
        -------
        Tensor
        """
        reason = self._static_reason
        if reason is None and (_needs_grad(x) or _needs_grad(y)):
            reason = "an input requires grad"
        elif reason is None and not mode.is_grad_enabled():
            reason = "gradients are disabled (no_grad)"
        elif reason is None and is_recording():
            reason = "called inside another recording"
        if reason is not None:
            self.reason = reason
            return self._eager(x, y)
        x, y = _as_array(x), _as_array(y)
        if not self._same_owners():
            self._find_modules()  # (a recording checks the new loss and modules)
        key = self._key(x, y)
        program = self._cache.get(key)
        if program is None:
            self._find_modules()  # a layer may have been added since the lists were made
            key = self._key(x, y)
            program = self._cache.get(key)
        if program is not None:
            return self._replay(program, x, y)
        if not self._cache.wants(key):
            self.reason = self._cache.reason
            return self._eager(x, y)
        self.optimizer.zero_grad()
        with recording() as recorder:
            loss = self.loss_fn(self.model(x), y)
        live = {id(t.data): t for t in self._tensors}
        self._cache.add(key, lambda: self._build(recorder, [x, y], live, loss))
        self.reason = self._cache.reason
        return self._finish(loss)

    def _replay(self, program, x, y):
        seed = np.array(1, program.root_dtype)  # Tensor.backward's seed
        if seed.shape != program.root_shape:
            seed = seed.reshape(program.root_shape)
        try:
            loss, (leaf_cotangents,) = program.run([x, y], [seed])
        except ReplayMissError:
            self.reason = "a guard declined this batch (e.g. its labels leave the recorded path)"
            return self._eager(x, y)
        self.optimizer.zero_grad()
        store_leaf_grads(leaf_cotangents, {id(seed)})
        self.optimizer.step()
        self.replayed_steps += 1
        self.reason, self.source = None, program.source
        return Tensor._wrap(loss)

    def _eager(self, x, y):
        self.optimizer.zero_grad()
        return self._finish(self.loss_fn(self.model(x), y))

    def _finish(self, loss):
        loss.backward()
        self.optimizer.step()
        self.eager_steps += 1
        return Tensor._wrap(loss.data)

    def __repr__(self):
        return (f"TrainStep(replayed_steps={self.replayed_steps}, "
                f"eager_steps={self.eager_steps}, reason={self.reason!r})")


def _needs_grad(value):
    return isinstance(value, Tensor) and value.requires_grad


def _as_array(value):
    value = value.data if isinstance(value, Tensor) else value
    return value if type(value) is np.ndarray else np.asarray(value)
