"""GELU, ELU, SELU and SiLU; layer normalisation and ``linear`` on ``(*, in)`` input (from
:mod:`nablanet.ops.layer_normalization`).

``gelu`` and ``elu`` are primitives whose slopes are primitives too, each slope's own
rule written in nablanet ops, so every order of derivative works.  The others are
compositions of primitives (their derivatives are the chain rule through those).

Every forward is finite wherever the maths is: ``gelu(-inf) = 0`` (the limit of
``x Phi(x)``), slopes at +-inf are their limits, and no ``inf * 0`` is ever formed.
"""

from __future__ import annotations

import math

import numpy as np

from nablanet.autodiff.primitive import Primitive
from nablanet.ops.activations import _positive, sigmoid
from nablanet.ops.arithmetic import clip, exp

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TANH_C = math.sqrt(2.0 / math.pi)  # GELU's tanh form: tanh(c (x + a x^3))
_TANH_A = 0.044715
#: Beyond these the slopes equal their limits in float64 (phi(40) = e^-800 = 0, and the
#: tanh form's sigmoid is exactly 0 or 1 at 1e3): clipping there avoids inf * 0.
_EXACT_CLIP, _TANH_CLIP = 40.0, 1e3
_APPROXIMATIONS = ("none", "tanh")


def _sig(x):
    """Logistic ``1 / (1 + e^-x)`` in three passes: e^-x overflows to inf for x < -709 and
    the result is then 0, as it should be; accurate in both tails (no ``1 - s`` formed)."""
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


def _ndtr(x):
    from scipy.special import ndtr  # the standard normal CDF, accurate in both tails

    return ndtr(x)


def _zero_at_minus_inf(out, x):
    # x Phi(x) -> 0 as x -> -inf, where the product would be -inf * 0 = nan
    minus_inf = np.isneginf(x)
    if minus_inf.any():
        out = np.asarray(out)  # a 0-d result may be a NumPy scalar
        out[minus_inf] = 0
    return out


# -- GELU ---------------------------------------------------------------------------------
def _gelu_impl(x, approximate="none"):
    x = np.asarray(x)
    # -inf * 0 is fixed below; x^3 beyond 1e102 overflows to the sigmoid's +-inf
    with np.errstate(over="ignore", invalid="ignore"):
        if approximate == "none":
            out = x * _ndtr(x)  # x Phi(x)
        else:
            v = 2 * _TANH_C * (x + _TANH_A * x * x * x)
            # 0.5 x (1 + tanh(v / 2)) = x sigmoid(v), without the cancellation of 1 + tanh
            out = x * _sig(v)
    out = np.asarray(out, dtype=np.result_type(x, np.float32) if x.dtype.kind == "f" else
                     np.float64)
    return _zero_at_minus_inf(out, x)


def _tanh_form_parts(x, sig):
    """``s = sigmoid(v)``, ``v'`` and ``v''`` of the tanh form at ``x``, with op ``sig``."""
    v = 2 * _TANH_C * (x + _TANH_A * x * x * x)
    dv = 2 * _TANH_C * (1 + 3 * _TANH_A * x * x)
    d2v = 12 * _TANH_C * _TANH_A * x
    return sig(v), dv, d2v


def _gelu_slope_impl(x, approximate="none"):
    x = np.asarray(x, dtype=np.result_type(x, np.float32))
    if approximate == "none":
        xc = np.clip(x, -_EXACT_CLIP, _EXACT_CLIP)
        # d/dx x Phi(x) = Phi(x) + x phi(x)
        return (_ndtr(x) + xc * np.exp(-0.5 * xc * xc) * _INV_SQRT_2PI).astype(
            x.dtype, copy=False)
    xc = np.clip(x, -_TANH_CLIP, _TANH_CLIP)
    s, dv, _ = _tanh_form_parts(xc, _sig)
    # d/dx x s(v) = s + x s (1 - s) v'
    return (s + xc * s * (1 - s) * dv).astype(x.dtype, copy=False)


def _gelu_curvature(x, approximate):
    """The second derivative of GELU in nablanet ops (so it differentiates again)."""
    if approximate == "none":
        xc = clip(x, -_EXACT_CLIP, _EXACT_CLIP)
        # d/dx (Phi + x phi) = 2 phi + x phi' = phi (2 - x^2), phi' = -x phi
        return exp(-0.5 * xc * xc) * _INV_SQRT_2PI * (2 - xc * xc)
    xc = clip(x, -_TANH_CLIP, _TANH_CLIP)
    s, dv, d2v = _tanh_form_parts(xc, sigmoid)
    # d/dx (s + x s(1-s) v') with s' = s(1-s) v', (s(1-s))' = s(1-s)(1-2s) v':
    #   = s(1-s) [2 v' + x ((1 - 2s) v'^2 + v'')]
    return s * (1 - s) * (2 * dv + xc * ((1 - 2 * s) * dv * dv + d2v))


_gelu_slope = Primitive("gelu_slope", _gelu_slope_impl)
_gelu_slope.defvjp(lambda g, ans, x, approximate="none": g * _gelu_curvature(x, approximate))

_gelu = Primitive("gelu", _gelu_impl)
# d gelu(x)/dx = gelu_slope(x): Phi(x) + x phi(x) (exact), or the tanh form's derivative
_gelu.defvjp(lambda g, ans, x, approximate="none": g * _gelu_slope(x, approximate=approximate))


def gelu(x, approximate="none"):
    """Gaussian error linear unit ``x Phi(x)``, ``Phi`` the standard normal CDF (PyTorch's).

    Parameters
    ----------
    x : Tensor or array_like
    approximate : {'none', 'tanh'}, default 'none'
        ``'tanh'``: ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``.

    Returns
    -------
    Tensor or ndarray
        ``gelu(-inf) = 0`` and ``gelu(inf) = inf`` (limits; PyTorch returns nan at -inf).

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet.ops.nn_extra import gelu
    >>> gelu(np.array([-np.inf, 0.0, 1e4]))
    array([    0.,     0., 10000.])
    """
    if approximate not in _APPROXIMATIONS:
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _gelu(x, approximate=approximate)


# -- ELU and SELU ---------------------------------------------------------------------------
def _elu_impl(x, alpha=1.0):
    x = _floating(x)
    # max(x, 0) + alpha expm1(min(x, 0)): one term is exactly 0 on each side, and no
    # np.where (slow on random signs: branch mispredictions), no exp of a large x
    out = np.expm1(np.minimum(x, 0))
    out *= alpha
    out += np.maximum(x, 0)
    return out


def _elu_slope_impl(x, alpha=1.0):
    x = _floating(x)
    positive = np.greater(x, 0).astype(x.dtype)
    # [x > 0] + [x <= 0] alpha e^min(x, 0), without np.where
    out = np.exp(np.minimum(x, 0))
    out *= alpha
    out *= 1 - positive
    out += positive
    return out


_elu_slope = Primitive("elu_slope", _elu_slope_impl)
# d/dx [x > 0 ? 1 : alpha e^x] = [x <= 0] alpha e^x = elu_slope(x) (1 - [x > 0])
_elu_slope.defvjp(lambda g, ans, x, alpha=1.0: g * (ans * (1 - _positive(x))))

_elu = Primitive("elu", _elu_impl)
# elu'(x) = 1 for x > 0, alpha e^x for x <= 0 (alpha at 0, as PyTorch)
_elu.defvjp(lambda g, ans, x, alpha=1.0: g * _elu_slope(x, alpha=alpha))

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def elu(x, alpha=1.0):
    """Exponential linear unit: ``x`` for ``x > 0``, ``alpha (exp(x) - 1)`` otherwise.

    Parameters
    ----------
    x : Tensor or array_like
    alpha : float, default 1.0

    Returns
    -------
    Tensor or ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet.ops.nn_extra import elu
    >>> elu(np.array([-np.inf, 0.0, 2.0]))
    array([-1.,  0.,  2.])
    """
    return _elu(x, alpha=float(alpha))


def selu(x):
    """Scaled ELU ``scale * elu(x, alpha)`` with the self-normalising constants (PyTorch's).

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet.ops.nn_extra import selu
    >>> selu(np.array([1.0]))
    array([1.05070099])
    """
    return _SELU_SCALE * _elu(x, alpha=_SELU_ALPHA)


# -- SiLU -----------------------------------------------------------------------------------
def _floating(x):
    x = np.asarray(x)
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def _silu_impl(x):
    x = _floating(x)
    with np.errstate(invalid="ignore"):  # -inf * 0, fixed below
        out = x * _sig(x)
    return _zero_at_minus_inf(out, x)


def _silu_slope_impl(x):
    xc = np.clip(_floating(x), -_TANH_CLIP, _TANH_CLIP)  # s is exactly 0 or 1 beyond
    s = _sig(xc)
    # d/dx x s(x) = s + x s (1 - s)
    return s * (1 + xc * (1 - s))


def _silu_curvature(x):
    xc = clip(x, -_TANH_CLIP, _TANH_CLIP)
    s = sigmoid(xc)
    # d/dx s (1 + x (1 - s)) = s(1-s)(1 + x(1-s)) + s((1-s) - x s(1-s)) = s(1-s)(2 + x(1-2s))
    return s * (1 - s) * (2 + xc * (1 - 2 * s))


_silu_slope = Primitive("silu_slope", _silu_slope_impl)
_silu_slope.defvjp(lambda g, ans, x: g * _silu_curvature(x))

_silu = Primitive("silu", _silu_impl)
# d silu(x)/dx = silu_slope(x) = s (1 + x (1 - s)), s = sigmoid(x)
_silu.defvjp(lambda g, ans, x: g * _silu_slope(x))


def silu(x):
    """Sigmoid linear unit (swish) ``x sigmoid(x)``; ``silu(-inf) = 0``.

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet.ops.nn_extra import silu
    >>> silu(np.array([-np.inf, 0.0, 1e4]))
    array([    0.,     0., 10000.])
    """
    return _silu(x)


from nablanet.ops.layer_normalization import (  # noqa: E402 - one import surface
    embedding,
    layer_norm,
    linear,
)

__all__ = ["elu", "embedding", "gelu", "layer_norm", "linear", "selu", "silu"]
