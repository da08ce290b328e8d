"""The engine (floor 1): Tensor, the tape, the backward pass and the transforms."""

from nablanet.autodiff.forward import jacfwd, jvp, linearize
from nablanet.autodiff.mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from nablanet.autodiff.primitive import REGISTRY, Primitive
from nablanet.autodiff.tensor import Tensor, tensor
from nablanet.autodiff.transforms import (
    grad,
    hessian,
    hvp,
    jacobian,
    jacrev,
    value_and_grad,
    vjp,
)

__all__ = [
    "REGISTRY", "Primitive", "Tensor", "enable_grad", "grad", "hessian", "hvp",
    "is_grad_enabled", "jacfwd", "jacobian", "jacrev", "jvp", "linearize", "no_grad",
    "set_grad_enabled", "tensor", "value_and_grad", "vjp",
]
