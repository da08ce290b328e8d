"""``nablanet.nn.functional``: the layers and losses as functions (PyTorch's ``F``).

The implementations live in :mod:`nablanet.ops`; this module gathers them under
PyTorch's names and signatures (``F.softmax(x, dim)``, ``F.linear`` on ``(*, in)``).
"""

from nablanet.nn.activation import implicit_softmax_dim
from nablanet.ops import activations as _act
from nablanet.ops.activations import leaky_relu, log_sigmoid, relu, sigmoid, softplus
from nablanet.ops.arithmetic import tanh
from nablanet.ops.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    mse_loss,
)
from nablanet.ops.losses_extra import huber_loss, l1_loss, nll_loss, smooth_l1_loss
from nablanet.ops.nn_extra import elu, embedding, gelu, linear, selu, silu
from nablanet.ops.nn_extra import layer_norm as _layer_norm
from nablanet.ops.normalization import batch_norm
from nablanet.ops.stochastic import dropout, dropout_mask, gaussian_dropout


def _cast(x, dtype):
    return x if dtype is None else x.astype(dtype)


def softmax(x, dim=None, dtype=None):
    """Softmax along ``dim`` (PyTorch's ``F.softmax``; ``axis=`` in :mod:`nablanet.ops`).

    Parameters
    ----------
    x : Tensor or array_like
    dim : int, optional
        None picks PyTorch's implicit axis (0 for 0-, 1- and 3-D input, else 1) and
        warns, as PyTorch does.
    dtype : numpy dtype, optional
        Cast the input to it first.

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet.nn import functional as F
    >>> F.softmax(np.array([[0.0, 0.0]]), dim=-1)
    array([[0.5, 0.5]])
    """
    if dim is None:
        dim = implicit_softmax_dim("softmax", x)
    return _act.softmax(_cast(x, dtype), axis=dim)


def log_softmax(x, dim=None, dtype=None):
    """Log-softmax along ``dim`` (PyTorch's ``F.log_softmax``); ``dim`` as :func:`softmax`.

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet.nn import functional as F
    >>> F.log_softmax(np.array([[0.0, 1e4]]), dim=1)
    array([[-10000.,      0.]])
    """
    if dim is None:
        dim = implicit_softmax_dim("log_softmax", x)
    return _act.log_softmax(_cast(x, dtype), axis=dim)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """PyTorch's ``F.layer_norm``: see :func:`nablanet.ops.nn_extra.layer_norm`.

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet.nn import functional as F
    >>> F.layer_norm(np.array([[1.0, 3.0]]), (2,), eps=0.0)
    array([[-1.,  1.]])
    """
    return _layer_norm(x, normalized_shape, weight, bias, eps)


def flatten(x, start_dim=0, end_dim=-1):
    """``torch.flatten``: merge axes ``start_dim`` to ``end_dim`` (all, by default).

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet.nn import functional as F
    >>> F.flatten(np.ones((2, 3, 4)), 1).shape
    (2, 12)
    """
    from nablanet.nn.flatten import Flatten

    return Flatten(start_dim, end_dim).forward(x)


__all__ = [
    "batch_norm", "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy",
    "dropout", "dropout_mask", "elu", "embedding", "flatten", "gaussian_dropout", "gelu",
    "huber_loss", "l1_loss", "layer_norm", "leaky_relu", "linear", "log_sigmoid", "log_softmax",
    "mse_loss", "nll_loss", "relu", "selu", "sigmoid", "silu", "smooth_l1_loss", "softmax",
    "softplus", "tanh",
]
