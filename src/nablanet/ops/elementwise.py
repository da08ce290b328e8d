"""NumPy's elementwise functions beyond arithmetic: trigonometry, hyperbolics, logs.

Each one is a primitive whose rule is written with nablanet's own operations (so
its backward pass can be differentiated again); the derivative sits above it.
Functions that are a constant multiple of another (``deg2rad``) are compositions.
"""

from __future__ import annotations

import numpy as np

from nablanet.autodiff.primitive import Primitive
from nablanet.autodiff.tensor import shape_of
from nablanet.ops._broadcast import unbroadcast
from nablanet.ops.arithmetic import sqrt, where

_LN2 = float(np.log(2.0))
_LN10 = float(np.log(10.0))


def _doc(name, derivative):
    return (f"Elementwise ``numpy.{name}``, differentiable: {derivative}.\n\n"
            "Parameters\n----------\nx : Tensor or array_like\n\nReturns\n-------\n"
            "Tensor or ndarray\n    A Tensor when an input is one.")


def _unary(name, impl, rule):
    prim = Primitive(name, impl)
    prim.defvjp(rule)
    return prim


def _binary(name, impl, dx, dy):
    """A broadcasting binary primitive from its two local derivatives."""

    def rule_x(g, ans, x, y):
        return unbroadcast(dx(g, ans, x, y), shape_of(x), len(shape_of(ans)))

    def rule_y(g, ans, x, y):
        return unbroadcast(dy(g, ans, x, y), shape_of(y), len(shape_of(ans)))

    prim = Primitive(name, impl)
    prim.defvjp(rule_x, rule_y)
    return prim


isnan = Primitive("isnan", np.isnan, differentiable=False)

# -- trigonometric -------------------------------------------------------------------
# d sin x = cos x dx
sin = _unary("sin", np.sin, lambda g, ans, x: g * cos(x))
# d cos x = -sin x dx
cos = _unary("cos", np.cos, lambda g, ans, x: -g * sin(x))
# d tan x = (1 + tan^2 x) dx
tan = _unary("tan", np.tan, lambda g, ans, x: g * (1 + ans * ans))
# d arcsin x = dx / sqrt(1 - x^2)
arcsin = _unary("arcsin", np.arcsin, lambda g, ans, x: g / sqrt(1 - x * x))
# d arccos x = -dx / sqrt(1 - x^2)
arccos = _unary("arccos", np.arccos, lambda g, ans, x: -g / sqrt(1 - x * x))
# d arctan x = dx / (1 + x^2)
arctan = _unary("arctan", np.arctan, lambda g, ans, x: g / (1 + x * x))
# d atan2(y, x) = (x dy - y dx) / (x^2 + y^2)
arctan2 = _binary(
    "arctan2", np.arctan2,
    lambda g, a, y, x: g * x / (x * x + y * y),
    lambda g, a, y, x: -g * y / (x * x + y * y),
)

# -- hyperbolic ----------------------------------------------------------------------
# d sinh x = cosh x dx
sinh = _unary("sinh", np.sinh, lambda g, ans, x: g * cosh(x))
# d cosh x = sinh x dx
cosh = _unary("cosh", np.cosh, lambda g, ans, x: g * sinh(x))
# d arcsinh x = dx / sqrt(x^2 + 1)
arcsinh = _unary("arcsinh", np.arcsinh, lambda g, ans, x: g / sqrt(x * x + 1))
# d arccosh x = dx / sqrt(x^2 - 1)
arccosh = _unary("arccosh", np.arccosh, lambda g, ans, x: g / sqrt(x * x - 1))
# d arctanh x = dx / (1 - x^2)
arctanh = _unary("arctanh", np.arctanh, lambda g, ans, x: g / (1 - x * x))

# -- logarithms and exponentials -----------------------------------------------------
# d log2 x = dx / (x ln 2)
log2 = _unary("log2", np.log2, lambda g, ans, x: g / (x * _LN2))
# d log10 x = dx / (x ln 10)
log10 = _unary("log10", np.log10, lambda g, ans, x: g / (x * _LN10))
# d 2^x = 2^x ln 2 dx
exp2 = _unary("exp2", np.exp2, lambda g, ans, x: g * ans * _LN2)
def _share(x, y, scale=1.0):
    """sigmoid(scale (x - y)): the weight of x in log(e^x + e^y), 1/2 where x = y = +-inf."""
    from nablanet.ops.activations import sigmoid

    both_infinite = _same_infinity(x, y)
    gap = where(both_infinite, 0.0, x) - where(both_infinite, 0.0, y)
    return sigmoid(gap * scale)


_same_infinity = Primitive(
    "same_infinity", lambda x, y: np.isinf(x) & (x == y), differentiable=False
)


# d log(e^x + e^y) = e^x / (e^x + e^y) dx + ... = sigmoid(x - y) dx + sigmoid(y - x) dy
logaddexp = _binary(
    "logaddexp", np.logaddexp,
    lambda g, a, x, y: g * _share(x, y),
    lambda g, a, x, y: g * _share(y, x),
)
# d log2(2^x + 2^y) = sigmoid((x - y) ln 2) dx + sigmoid((y - x) ln 2) dy
logaddexp2 = _binary(
    "logaddexp2", np.logaddexp2,
    lambda g, a, x, y: g * _share(x, y, _LN2),
    lambda g, a, x, y: g * _share(y, x, _LN2),
)
# d sqrt(x^2 + y^2) = (x dx + y dy) / hypot  (0 at the origin, as PyTorch)
hypot = _binary(
    "hypot", np.hypot,
    lambda g, a, x, y: g * x / where(a == 0, 1.0, a),
    lambda g, a, x, y: g * y / where(a == 0, 1.0, a),
)
# d (1/x) = -dx / x^2
reciprocal = _unary("reciprocal", np.reciprocal, lambda g, ans, x: -g * ans * ans)


def _sinc_impl(x):
    return np.sinc(x)


#: Below this |x| sinc's derivative is its Taylor series (the quotient cancels there).
_SINC_SERIES = 1e-3


def _sinc_rule(g, ans, x):
    # sinc x = sin(pi x)/(pi x)  =>  d sinc = (cos(pi x) - sinc x) / x dx, and near 0 the
    # series -pi^2 x / 3 + pi^4 x^3 / 30 (exact to rounding below 1e-3, every order)
    small = _small(x, _SINC_SERIES)
    safe = where(small, 1.0, x)
    series = x * (-(np.pi ** 2) / 3 + (np.pi ** 4 / 30) * x * x)
    return g * where(small, series, (cos(np.pi * x) - ans) / safe)


_small = Primitive("abs_below", lambda x, bound: np.abs(x) < bound, differentiable=False)


sinc = _unary("sinc", _sinc_impl, _sinc_rule)


def _floor_quotient(x, y):
    return np.floor_divide(x, y)


def _trunc_quotient(x, y):
    return np.trunc(np.true_divide(x, y))


_floor_q = Primitive("floor_quotient", _floor_quotient, differentiable=False)
_trunc_q = Primitive("trunc_quotient", _trunc_quotient, differentiable=False)

# mod(x, y) = x - floor(x / y) y  =>  d mod = dx - floor(x / y) dy  (away from the jumps)
mod = _binary(
    "mod", np.mod, lambda g, a, x, y: g, lambda g, a, x, y: -g * _floor_q(x, y)
)
# fmod(x, y) = x - trunc(x / y) y  =>  d fmod = dx - trunc(x / y) dy
fmod = _binary(
    "fmod", np.fmod, lambda g, a, x, y: g, lambda g, a, x, y: -g * _trunc_q(x, y)
)
remainder = mod

# -- piecewise constant: zero gradient -------------------------------------------------
floor = Primitive("floor", np.floor, differentiable=False)
ceil = Primitive("ceil", np.ceil, differentiable=False)
trunc = Primitive("trunc", np.trunc, differentiable=False)
rint = Primitive("rint", np.rint, differentiable=False)
_round = Primitive("round", lambda x, decimals=0: np.round(x, decimals), differentiable=False)


def round(x, decimals=0):  # noqa: A001 - mirrors numpy.round
    """Round to ``decimals`` places (half to even, as NumPy); its gradient is zero."""
    return _round(x, decimals=decimals)


around = round


# -- nan_to_num -----------------------------------------------------------------------
def _nan_to_num_impl(x, nan=0.0, posinf=None, neginf=None):
    return np.nan_to_num(x, copy=True, nan=nan, posinf=posinf, neginf=neginf)


_finite = Primitive("isfinite", np.isfinite, differentiable=False)
isfinite = _finite
isinf = Primitive("isinf", np.isinf, differentiable=False)

_nan_to_num = Primitive("nan_to_num", _nan_to_num_impl)
# replaced entries are constants: the cotangent passes only where x was finite
_nan_to_num.defvjp(lambda g, ans, x, **kw: where(_finite(x), g, 0.0))


def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """Replace NaN and infinities by finite numbers (``numpy.nan_to_num``).

    The gradient is 1 where ``x`` is finite and 0 at the replaced entries.
    ``copy`` is accepted for NumPy's signature; the result is always new.
    """
    return _nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)


# -- angle conversions (constant multiples) -------------------------------------------
def deg2rad(x):
    """Degrees to radians: ``x * pi / 180``."""
    return x * (np.pi / 180.0)


def rad2deg(x):
    """Radians to degrees: ``x * 180 / pi``."""
    return x * (180.0 / np.pi)


radians = deg2rad
degrees = rad2deg


def cbrt(x):
    """Cube root, real for negative x: ``sign(x) |x|^(1/3)``, via ``exp(log|x| / 3)``."""
    return _cbrt(x)


_cbrt = Primitive("cbrt", np.cbrt)
# d x^(1/3) = dx / (3 x^(2/3))
_cbrt.defvjp(lambda g, ans, x: g / (3 * ans * ans))


_DERIVATIVES = {
    sin: "d sin x = cos x dx", cos: "d cos x = -sin x dx", tan: "d tan x = (1 + tan^2 x) dx",
    arcsin: "d arcsin x = dx / sqrt(1 - x^2)", arccos: "d arccos x = -dx / sqrt(1 - x^2)",
    arctan: "d arctan x = dx / (1 + x^2)",
    arctan2: "arctan2(y, x), the angle of (x, y); d = (x dy - y dx) / (x^2 + y^2)",
    sinh: "d sinh x = cosh x dx", cosh: "d cosh x = sinh x dx",
    arcsinh: "d arcsinh x = dx / sqrt(x^2 + 1)", arccosh: "d arccosh x = dx / sqrt(x^2 - 1)",
    arctanh: "d arctanh x = dx / (1 - x^2)", log2: "d log2 x = dx / (x ln 2)",
    log10: "d log10 x = dx / (x ln 10)", exp2: "d 2^x = 2^x ln 2 dx",
    logaddexp: "log(e^x + e^y) computed stably; d = e^(x - out) dx + e^(y - out) dy",
    logaddexp2: "log2(2^x + 2^y); d = 2^(x - out) dx + 2^(y - out) dy",
    hypot: "sqrt(x^2 + y^2); d = (x dx + y dy) / out, 0 at the origin",
    reciprocal: "d (1/x) = -dx / x^2",
    sinc: "sin(pi x) / (pi x); d = (cos(pi x) - sinc x) / x dx (its series near 0)",
    mod: "x - floor(x / y) y with the sign of y; d = dx - floor(x / y) dy",
    fmod: "x - trunc(x / y) y with the sign of x; d = dx - trunc(x / y) dy",
    _cbrt: "d x^(1/3) = dx / (3 x^(2/3))",
}
for _prim, _text in _DERIVATIVES.items():
    _prim.__doc__ = _doc(_prim.name, _text)
for _prim in (floor, ceil, trunc, rint, _round, isfinite, isnan, isinf):
    _prim.__doc__ = (f"Elementwise ``numpy.{_prim.name}``; piecewise constant, so not "
                     "differentiated (its gradient is zero).")

__all__ = [
    "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2", "arctanh", "around",
    "cbrt", "ceil", "cos", "cosh", "deg2rad", "degrees", "exp2", "floor", "fmod", "hypot",
    "isfinite", "isinf", "isnan", "log10", "log2", "logaddexp", "logaddexp2", "mod",
    "nan_to_num", "rad2deg", "radians", "reciprocal", "remainder", "rint", "round", "sin",
    "sinc", "sinh", "tan", "trunc",
]
