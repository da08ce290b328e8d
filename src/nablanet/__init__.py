"""nablanet: deep learning built from its derivations.

``import nablanet`` needs NumPy only; the estimators, the data loaders, the
checks and the program load their heavier dependencies when first used.
"""

from nablanet.autodiff import (
    Primitive,
    Tensor,
    enable_grad,
    grad,
    hessian,
    hvp,
    is_grad_enabled,
    jacfwd,
    jacobian,
    jacrev,
    jvp,
    linearize,
    no_grad,
    set_grad_enabled,
    tensor,
    value_and_grad,
    vjp,
)
from nablanet.autodiff.dtypes import get_default_dtype, set_default_dtype
from nablanet.autodiff.replay_transform import replay
from nablanet.ops import (
    abs,
    add,
    broadcast_to,
    clip,
    concatenate,
    diagonal,
    divide,
    dot,
    exp,
    expand_dims,
    expm1,
    log,
    log1p,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    multiply,
    negative,
    outer,
    power,
    reshape,
    sign,
    sqrt,
    square,
    squeeze,
    stack,
    subtract,
    sum,
    swapaxes,
    take,
    take_along_axis,
    tanh,
    transpose,
    vdot,
    where,
)
from nablanet.ops._numpy_names import LAZY as _NUMPY_API  # noqa: E402 - issue 17

__version__ = "0.1.0"

# Submodules and names loaded on first use, so that the import stays light.
_LAZY_MODULES = {
    "linalg", "nn", "optim", "models", "data", "checks", "cli", "distributed", "curvature",
}
_LAZY_NAMES = {
    "LogisticRegression": "nablanet.models",
    "SoftmaxRegression": "nablanet.models",
    "MLPClassifier": "nablanet.models",
    "GaussianDropoutRegressor": "nablanet.models",
    "load": "nablanet.models",
    "ConvergenceWarning": "nablanet.optim",
    "RankDeficiencyWarning": "nablanet.models",
    "DivergenceError": "nablanet.models",
    **_NUMPY_API,  # NumPy's differentiable API: nb.sin, nb.einsum, ... (issue 17)
}


def __getattr__(name):
    import importlib

    if name in _LAZY_MODULES:
        return importlib.import_module(f"nablanet.{name}")
    if name in _LAZY_NAMES:
        value = getattr(importlib.import_module(_LAZY_NAMES[name]), name)
        if name in _NUMPY_API:
            globals()[name] = value  # looked up once: nb.sin is then a plain attribute
        return value
    raise AttributeError(f"module 'nablanet' has no attribute {name!r}")


__all__ = [
    "Primitive", "Tensor", "abs", "add", "broadcast_to", "clip", "concatenate", "diagonal",
    "divide", "dot", "enable_grad", "exp", "expand_dims", "expm1", "grad", "hessian", "hvp",
    "is_grad_enabled", "jacfwd", "jacobian", "jacrev", "jvp", "linearize", "log", "log1p",
    "logsumexp", "matmul", "max", "maximum", "mean", "min", "minimum", "multiply",
    "negative", "no_grad", "outer", "power", "replay", "reshape",
    "set_grad_enabled", "sign", "sqrt", "square", "squeeze", "stack", "subtract", "sum",
    "swapaxes", "take", "take_along_axis", "tanh", "tensor", "transpose", "value_and_grad",
    "vdot", "vjp", "where",
]
__all__ += ["get_default_dtype", "set_default_dtype"]
__all__ += [*sorted(_NUMPY_API), "linalg"]


def __dir__():
    # the lazily loaded names too, so tab completion and dir() show the whole API
    return sorted(set(globals()) | _LAZY_MODULES | set(_LAZY_NAMES))
