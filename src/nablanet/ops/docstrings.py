"""Docstrings of the public primitives, with the derivative each one's VJP uses.

Primitives are objects, not functions, so their documentation is attached here in
one table rather than scattered as strings passed to each constructor.
"""

from __future__ import annotations

from nablanet.autodiff.primitive import REGISTRY

_DOCS = {
    "identity": "Return x unchanged; d x / d x = 1.",
    "add": "Elementwise x + y with NumPy broadcasting; d(x + y) = dx + dy.",
    "subtract": "Elementwise x - y with broadcasting; d(x - y) = dx - dy.",
    "multiply": "Elementwise x * y with broadcasting; d(xy) = y dx + x dy.",
    "divide": "Elementwise x / y with broadcasting; d(x/y) = dx / y - x dy / y^2.",
    "negative": "Elementwise -x; d(-x) = -dx.",
    "power": (
        "Elementwise x ** y; d(x^y) = y x^(y-1) dx + x^y log(x) dy.  The first term is 0 "
        "where y = 0 (so every derivative of x**0, x**1, x**2 at 0 is finite, as PyTorch); "
        "the second is NaN for x < 0 and 0 at x = 0 for y >= 0."
    ),
    "exp": "Elementwise e^x; d e^x = e^x dx.",
    "log": "Elementwise natural logarithm; d log x = dx / x.",
    "log1p": "Elementwise log(1 + x), accurate for small x; derivative 1 / (1 + x).",
    "expm1": "Elementwise e^x - 1, accurate for small x; derivative e^x.",
    "sqrt": "Elementwise square root; derivative 1 / (2 sqrt(x)).",
    "tanh": "Elementwise hyperbolic tangent; derivative 1 - tanh(x)^2.",
    "abs": "Elementwise |x|; derivative sign(x) (0 at x = 0, as PyTorch).",
    "sign": "Elementwise sign(x); not differentiable (its derivative is 0 almost everywhere).",
    "maximum": "Elementwise max(x, y); the gradient goes to the larger, split evenly on ties.",
    "minimum": "Elementwise min(x, y); the gradient goes to the smaller, split evenly on ties.",
    "where": "where(condition, x, y): x where condition holds, else y; gradients follow it.",
    "clip": "clip(x, lo, hi): x limited to [lo, hi]; gradient 1 inside (bounds too), else 0.",
    "sum": (
        "sum(x, axis=None, keepdims=False); its cotangent is copied to every summed element.  "
        "Large float32 sums accumulate in float64 (NumPy sums rows sequentially)."
    ),
    "max": "max(x, axis=None, keepdims=False); gradient shared evenly by the maximal elements.",
    "min": "min(x, axis=None, keepdims=False); gradient shared evenly by the minimal elements.",
    "logsumexp": (
        "logsumexp(x, axis=None, keepdims=False) = log sum exp(x), computed stably; "
        "its gradient is softmax(x) and its Hessian diag(p) - p p^T (claim C7).  An empty "
        "slice gives -inf; a slice holding +inf gives +inf, with softmax's limit as gradient."
    ),
    "reshape": "reshape(x, shape); the cotangent is reshaped back.",
    "transpose": "transpose(x, axes=None); the cotangent is transposed by the inverse permutation.",
    "broadcast_to": "broadcast_to(x, shape); the cotangent is summed over the broadcast axes.",
}


def attach():
    """Give each documented primitive its docstring."""
    for name, doc in _DOCS.items():
        if name in REGISTRY:
            REGISTRY[name].__doc__ = doc
