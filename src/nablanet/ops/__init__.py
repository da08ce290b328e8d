"""Every primitive with its derived VJP beside it (floor 2)."""

from nablanet.ops import tensor_methods as _tensor_methods  # noqa: F401 - gives Tensor its operators
from nablanet.ops.activations import (
    leaky_relu,
    log_sigmoid,
    log_softmax,
    relu,
    sigmoid,
    softmax,
    softplus,
)
from nablanet.ops.arithmetic import (
    abs,
    add,
    clip,
    divide,
    exp,
    expm1,
    identity,
    log,
    log1p,
    maximum,
    minimum,
    multiply,
    negative,
    power,
    sign,
    sqrt,
    square,
    subtract,
    tanh,
    where,
)
from nablanet.ops.dense import linear
from nablanet.ops.linalg import dot, matmul, outer, vdot
from nablanet.ops.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    mse_loss,
)
from nablanet.ops.normalization import batch_norm
from nablanet.ops.reductions import logsumexp, max, mean, min, sum
from nablanet.ops.shape import (
    broadcast_to,
    concatenate,
    diagonal,
    expand_dims,
    reshape,
    squeeze,
    stack,
    swapaxes,
    take,
    take_along_axis,
    transpose,
)
from nablanet.ops.stochastic import dropout, dropout_mask, gaussian_dropout

__all__ = [
    "abs", "add", "broadcast_to", "clip", "concatenate", "diagonal", "divide", "dot", "exp",
    "expand_dims", "expm1", "identity", "log", "log1p", "logsumexp", "matmul", "max",
    "maximum", "mean", "min", "minimum", "multiply", "negative", "outer", "power", "reshape",
    "sign", "sqrt", "square", "squeeze", "stack", "subtract", "sum", "swapaxes", "take",
    "take_along_axis", "tanh", "transpose", "vdot", "where",
]
# layers and losses (issue 3)
__all__ += [
    "batch_norm", "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy",
    "dropout", "dropout_mask", "gaussian_dropout", "leaky_relu", "linear", "log_sigmoid",
    "log_softmax", "mse_loss", "relu", "sigmoid", "softmax", "softplus",
]

# issue 17: the nn layers' new primitives and compositions
from nablanet.ops.nn_extra import elu, gelu, layer_norm, selu, silu  # noqa: E402

__all__ += ["elu", "gelu", "layer_norm", "selu", "silu"]

# NumPy's differentiable API (issue 17): loaded on first use, so the import stays light
from nablanet.ops._numpy_names import LAZY as _LAZY  # noqa: E402

__all__ += sorted(_LAZY)


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nablanet.ops' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


from nablanet.ops import docstrings as _docstrings  # noqa: E402

_docstrings.attach()
