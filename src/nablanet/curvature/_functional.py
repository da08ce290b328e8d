"""A model as a function of one flat parameter vector, evaluated batch by batch.

The curvature operators differentiate ``theta -> loss(model(X; theta), y)``.  Rather
than rewriting each layer functionally, :meth:`ModelFunction.substituted` puts
slices of a traced ``theta`` in place of the model's parameters for the length of
one evaluation (as ``torch.func.functional_call`` does) and puts the parameters
back afterwards, together with every module's train/eval mode.

Modes.  The operator is a fixed linear map only if the model is deterministic, so
dropout and Gaussian dropout are always off (evaluation mode).  Batch norm
normalises with its running statistics by default (``batch_norm="eval"``): every
sample's output depends on its own input only, and the curvature of the data set
is the sum of per-sample terms.  With ``batch_norm="train"`` it normalises each
batch with that batch's statistics (samples coupled within a batch, the loss being
the one training minimises on that batch) without touching the running statistics.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from nablanet.autodiff.tensor import Tensor

_BATCH_NORM_MODES = ("eval", "train")
_LOSS_REDUCTIONS = ("mean", "sum")


def _check_model(model):
    from nablanet.nn.module import Module

    if not isinstance(model, Module):
        raise TypeError(f"curvature: model must be a nablanet.nn.Module, got {type(model)}")
    params = list(model.named_parameters())
    if not params:
        raise ValueError("curvature: the model has no parameters")
    return params


def _check_data(X, y, dtype):
    X = np.asarray(getattr(X, "data", X))
    if X.ndim == 0 or X.shape[0] == 0:
        raise ValueError(f"curvature: X must have at least one sample, got shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise TypeError(f"curvature: X must be numeric, got dtype {X.dtype}")
    X = X.astype(dtype, copy=False)
    if not np.all(np.isfinite(X)):
        raise ValueError("curvature: X contains NaN or inf")
    y = np.asarray(getattr(y, "data", y))
    if y.ndim == 0 or y.shape[0] != X.shape[0]:
        raise ValueError(
            f"curvature: y must have one entry per sample of X ({X.shape[0]}), got shape {y.shape}"
        )
    if y.dtype.kind == "f":
        y = y.astype(dtype, copy=False)
    return X, y


def loss_reduction(loss_fn):
    """``'mean'`` or ``'sum'``: how ``loss_fn`` reduces a batch (its ``reduction`` attribute).

    A plain function is taken to average over the batch, as nablanet's and PyTorch's
    losses do by default.
    """
    reduction = getattr(loss_fn, "reduction", "mean")
    if reduction not in _LOSS_REDUCTIONS:
        raise ValueError(
            f"curvature: the loss must reduce a batch to a scalar by 'mean' or 'sum', got "
            f"reduction={reduction!r}"
        )
    if type(loss_fn).__name__ == "CrossEntropyLoss" and reduction == "mean" and (
            loss_fn.weight is not None):
        raise ValueError(
            "curvature: CrossEntropyLoss(weight=..., reduction='mean') divides each batch by "
            "its summed class weights, so the data set's loss is not a sum of batch losses; "
            "use reduction='sum' (the same curvature up to a constant factor)"
        )
    return reduction


class ModelFunction:
    """``model`` and ``loss_fn`` on ``(X, y)`` as functions of a flat parameter vector.

    Parameters
    ----------
    model : nablanet.nn.Module
    loss_fn : callable
        ``loss_fn(outputs, targets) -> scalar`` reducing by mean or sum.
    X, y : array_like
        Inputs and targets, one row per sample.
    batch_size : int, optional
        Samples per evaluation (default: all at once).
    batch_norm : {'eval', 'train'}, default 'eval'
    dtype : numpy dtype, default float64
        The dtype of the parameter vector, of ``X`` and of every product.
    """

    def __init__(self, model, loss_fn, X, y, batch_size=None, batch_norm="eval",
                 dtype=np.float64):
        named = _check_model(model)
        if batch_norm not in _BATCH_NORM_MODES:
            raise ValueError(f"batch_norm must be 'eval' or 'train', got {batch_norm!r}")
        if not callable(loss_fn):
            raise TypeError(f"curvature: loss_fn must be callable, got {type(loss_fn)}")
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise TypeError(f"curvature: dtype must be a float dtype, got {self.dtype}")
        self.model, self.loss_fn = model, loss_fn
        self.reduction = loss_reduction(loss_fn)
        self.batch_norm = batch_norm
        self.X, self.y = _check_data(X, y, self.dtype)
        self.n_samples = self.X.shape[0]
        self.names = [name for name, _ in named]
        self.parameters = [p for _, p in named]
        self.shapes = [p.shape for p in self.parameters]
        self.sizes = [int(math.prod(s)) for s in self.shapes]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int)
        self.n_params = int(self.offsets[-1])
        self.batches = self._batches(batch_size)
        self._check_ignored_labels()

    def _batches(self, batch_size):
        n = self.n_samples
        if batch_size is None:
            batch_size = n
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
        if self.batch_norm == "train" and n % batch_size == 1:
            raise ValueError(
                f"curvature: batch_norm='train' with {n} samples in batches of {batch_size} "
                f"leaves a batch of 1 row, which batch norm cannot normalise; pick another "
                f"batch_size or batch_norm='eval'"
            )
        return [slice(start, min(n, start + batch_size)) for start in range(0, n, batch_size)]

    def _check_ignored_labels(self):
        ignore = getattr(self.loss_fn, "ignore_index", None)
        if (ignore is not None and self.reduction == "mean" and self.y.dtype.kind in "iu"
                and np.any(self.y == ignore)):
            raise ValueError(
                f"curvature: labels equal to ignore_index={ignore} make a batch's mean count "
                f"fewer samples, so batches do not add up; drop those samples first"
            )

    # -- the parameter vector ------------------------------------------------------------
    def flat(self):
        """The model's current parameters as one vector (named_parameters() order)."""
        return np.concatenate([np.asarray(p.data, dtype=self.dtype).ravel()
                               for p in self.parameters])

    def unflatten(self, vector):
        """``{name: array}`` of ``vector`` cut into the parameters' shapes."""
        vector = np.asarray(vector)
        return {name: vector[a:b].reshape(shape) for name, a, b, shape in
                zip(self.names, self.offsets[:-1], self.offsets[1:], self.shapes, strict=True)}

    def batch_weight(self, batch):
        """The factor of a batch's loss in the data set's: ``n_b / N`` for a mean, else 1."""
        if self.reduction == "sum":
            return 1.0
        return (batch.stop - batch.start) / self.n_samples

    def sample_weight(self):
        """The weight ``w`` of one sample's loss in the data set's (``1/N`` or 1)."""
        return 1.0 / self.n_samples if self.reduction == "mean" else 1.0

    # -- evaluation ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def substituted(self, theta):
        """Within the block the model computes with ``theta`` (a Tensor) as its parameters."""
        from nablanet.ops.shape import reshape

        pieces = {}
        for p, a, b, shape in zip(self.parameters, self.offsets[:-1], self.offsets[1:],
                                  self.shapes, strict=True):
            pieces[id(p)] = reshape(theta[int(a):int(b)], shape)
        saved_params, saved_modes, saved_bn = [], [], []
        try:
            for module in self.model.modules():
                saved_modes.append((module, module.training))
                object.__setattr__(module, "training", False)
                table = module._parameters
                for name, value in table.items():
                    if value is not None and id(value) in pieces:
                        saved_params.append((table, name, value))
                        table[name] = pieces[id(value)]
                if self.batch_norm == "train" and type(module).__name__.startswith("BatchNorm"):
                    saved_bn.append(_batch_statistics_only(module))
            yield
        finally:
            for table, name, value in saved_params:
                table[name] = value
            for module, buffers, track in saved_bn:
                module._buffers.update(buffers)
                module.__dict__["track_running_stats"] = track
            for module, training in saved_modes:
                object.__setattr__(module, "training", training)

    def outputs(self, theta, batch):
        """The model's outputs (a Tensor) on ``X[batch]`` with ``theta`` as parameters."""
        with self.substituted(theta):
            return self.model(self.X[batch])

    def batch_loss(self, out, batch, targets=None):
        """``weight * loss_fn(out, y[batch])``: this batch's term of the data set's loss."""
        y = self.y[batch] if targets is None else targets
        loss = self.loss_fn(out, y)
        if not isinstance(loss, Tensor):
            loss = Tensor(np.asarray(loss, dtype=self.dtype))
        if loss.size != 1:
            raise ValueError(
                f"curvature: loss_fn must return a scalar, got shape {loss.shape}; use "
                f"reduction='mean' or 'sum'"
            )
        return loss * self.batch_weight(batch)

    def loss_at(self, theta):
        """The data set's loss at ``theta`` (a plain float; nothing recorded)."""
        from nablanet.autodiff import mode

        theta = Tensor(np.asarray(theta, dtype=self.dtype))
        total = 0.0
        with mode.no_grad():
            for batch in self.batches:
                total += float(self.batch_loss(self.outputs(theta, batch), batch).data)
        return total

    def leaf(self, theta0):
        """A fresh variable holding ``theta0``."""
        return Tensor(np.array(theta0, dtype=self.dtype), requires_grad=True)


def _batch_statistics_only(module):
    """Put a batch-norm module in training mode without running statistics (restorable)."""
    names = ("running_mean", "running_var", "num_batches_tracked")
    buffers = {name: module._buffers.get(name) for name in names}
    track = module.__dict__.get("track_running_stats", True)
    for name in names:
        module._buffers[name] = None
    module.__dict__["track_running_stats"] = False
    object.__setattr__(module, "training", True)
    return module, buffers, track
