"""``nablanet.nn.functional``: the layers and losses as functions (PyTorch's ``F``).

The implementations live in :mod:`nablanet.ops`; this module gathers them.
"""

from nablanet.ops.activations import (
    leaky_relu,
    log_sigmoid,
    log_softmax,
    relu,
    sigmoid,
    softmax,
    softplus,
)
from nablanet.ops.arithmetic import tanh
from nablanet.ops.dense import linear
from nablanet.ops.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    mse_loss,
)
from nablanet.ops.normalization import batch_norm
from nablanet.ops.stochastic import dropout, dropout_mask, gaussian_dropout

__all__ = [
    "batch_norm", "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy",
    "dropout", "dropout_mask", "gaussian_dropout", "leaky_relu", "linear", "log_sigmoid",
    "log_softmax", "mse_loss", "relu", "sigmoid", "softmax", "softplus", "tanh",
]
