"""``BatchNorm1d`` (claim C2) with PyTorch's conventions and its error on batch size 1,
and ``LayerNorm``."""

from __future__ import annotations

import numpy as np

from nablanet.autodiff.dtypes import resolve_dtype
from nablanet.autodiff.tensor import shape_of
from nablanet.nn.module import Module, Parameter, check_dtype
from nablanet.ops.nn_extra import layer_norm
from nablanet.ops.normalization import _batch_norm_train as batch_norm_train
from nablanet.ops.normalization import batch_norm
from nablanet.ops.shape import reshape, transpose


class BatchNorm1d(Module):
    """Batch normalisation of ``(N, C)`` or ``(N, C, L)`` input.

    Training: ``y = gamma (x - mu) / sqrt(var + eps) + beta`` with the batch's
    mean and biased variance, and (with ``track_running_stats``)::

        running_mean <- (1 - momentum) * running_mean + momentum * mu
        running_var  <- (1 - momentum) * running_var  + momentum * var * N / (N - 1)

    ``momentum`` is the weight of the *new* batch (PyTorch's meaning); ``None``
    gives the cumulative average ``1 / num_batches_tracked``.  Evaluation
    normalises with the running statistics.

    Parameters
    ----------
    num_features : int
        C, the number of features.
    eps : float, default 1e-5
    momentum : float or None, default 0.1
    affine : bool, default True
        Learn gamma (``weight``, init 1) and beta (``bias``, init 0).
    track_running_stats : bool, default True
        Without running statistics, evaluation also uses the batch's.
    dtype : numpy dtype, optional
        :func:`nablanet.get_default_dtype` (float64 unless set) when omitted.

    Raises
    ------
    ValueError
        In training with a batch of one row (see :meth:`forward`), or for input
        of the wrong shape.

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> bn = nn.BatchNorm1d(2)
    >>> y = bn(np.array([[1.0, 0.0], [3.0, 4.0]]))
    >>> bn.running_mean.numpy()
    array([0.2, 0.2])
    """

    replayable = True

    def __init__(
        self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
        dtype=None,
    ):
        super().__init__()
        dtype = resolve_dtype(dtype, "BatchNorm1d")
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=dtype))
            self.bias = Parameter(np.zeros(num_features, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.zeros((), dtype=np.int64))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def reset_running_stats(self):
        """Running mean 0, running variance 1, no batches tracked."""
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0
            for buffer in (self.running_mean, self.running_var, self.num_batches_tracked):
                buffer._bump_version()

    def _check_input(self, x, use_batch):
        shape = tuple(shape_of(x))
        if len(shape) not in (2, 3) or shape[1] != self.num_features:
            c = self.num_features
            raise ValueError(
                f"BatchNorm1d({c}): expected input of shape (N, {c}) or (N, {c}, L), "
                f"got shape {shape}"
            )
        if use_batch and shape[0] * (shape[2] if len(shape) == 3 else 1) == 1:
            raise ValueError(
                "BatchNorm1d: training with a batch of 1 row is degenerate: the batch mean "
                "equals the row, so x_hat = 0, the output is beta whatever the input and "
                "the input gradient is exactly zero. Use batches of at least 2 rows, or "
                "call .eval() to normalise with the running statistics"
            )

    def forward(self, x):
        """Normalise ``x`` of shape ``(N, C)``, or ``(N, C, L)`` over the N L values per channel."""
        if len(shape_of(x)) == 3:
            n, c, length = shape_of(x)
            self._check_input(x, self.training or self.running_mean is None)
            # (N, C, L) -> (N L, C): each channel's statistics over batch and length
            rows = reshape(transpose(x, (0, 2, 1)), (n * length, c))
            return transpose(reshape(self.forward(rows), (n, length, c)), (0, 2, 1))
        buffers, params = self._buffers, self._parameters  # one look-up each, not __getattr__
        running_mean = buffers["running_mean"]
        use_batch = self.training or running_mean is None
        self._check_input(x, use_batch)
        if params["weight"] is not None:
            x = check_dtype("BatchNorm1d", x, params["weight"].data.dtype)
        counter = None
        if self.training and self.track_running_stats:
            counter = buffers["num_batches_tracked"].data  # counted by the statistics step
        running = not self.training or self.track_running_stats
        if use_batch:
            # the functional form without its argument checks: this module's own
            # parameters and buffers have the right shapes, and x was checked above
            return batch_norm_train(
                x, running_mean if running else None,
                buffers["running_var"] if running else None, params["weight"],
                params["bias"], self.momentum, self.eps, None, counter,
            )
        return batch_norm(
            x, running_mean, buffers["running_var"], params["weight"], params["bias"],
            training=False, eps=self.eps,
        )

    def extra_repr(self):
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, track_running_stats={self.track_running_stats}"
        )



class LayerNorm(Module):
    """Layer normalisation over the trailing ``normalized_shape`` axes (PyTorch's).

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``, with each sample's mean
    and biased variance over those axes; the same in training and evaluation.

    Parameters
    ----------
    normalized_shape : int or tuple of int
        The trailing shape of the input that is normalised.
    eps : float, default 1e-5
    elementwise_affine : bool, default True
        Learn ``weight`` (init 1) and, with ``bias``, ``bias`` (init 0), each of shape
        ``normalized_shape``.
    bias : bool, default True
    dtype : numpy dtype, optional
        :func:`nablanet.get_default_dtype` (float64 unless set) when omitted.

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> ln = nn.LayerNorm(2, eps=0.0)
    >>> ln(np.array([[1.0, 3.0]])).numpy()
    array([[-1.,  1.]])
    >>> list(ln.state_dict())
    ['weight', 'bias']
    """

    replayable = True

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 dtype=None):
        super().__init__()
        dtype = resolve_dtype(dtype, "LayerNorm")
        shape = (normalized_shape,) if np.ndim(normalized_shape) == 0 else normalized_shape
        self.normalized_shape = tuple(int(n) for n in shape)
        self.eps = float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=dtype))
        else:
            self.register_parameter("weight", None)
        if elementwise_affine and bias:
            self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dtype))
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        """Normalise ``x`` of shape ``(*, *normalized_shape)``."""
        params = self._parameters
        if params["weight"] is not None:
            x = check_dtype("LayerNorm", x, params["weight"].data.dtype)
        return layer_norm(x, self.normalized_shape, params["weight"], params["bias"], self.eps)

    def extra_repr(self):
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        )
