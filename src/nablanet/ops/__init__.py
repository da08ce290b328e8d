"""Every primitive with its derived VJP beside it (floor 2)."""

from nablanet.ops import tensor_methods as _tensor_methods  # noqa: F401 - gives Tensor its operators
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
from nablanet.ops.linalg import dot, matmul, outer, vdot
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

__all__ = [
    "abs", "add", "broadcast_to", "clip", "concatenate", "diagonal", "divide", "dot", "exp",
    "expand_dims", "expm1", "identity", "log", "log1p", "logsumexp", "matmul", "max",
    "maximum", "mean", "min", "minimum", "multiply", "negative", "outer", "power", "reshape",
    "sign", "sqrt", "square", "squeeze", "stack", "subtract", "sum", "swapaxes", "take",
    "take_along_axis", "tanh", "transpose", "vdot", "where",
]
