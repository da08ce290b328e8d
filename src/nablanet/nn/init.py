"""``nn.init``: PyTorch's initialisers, in place, drawing from a ``numpy.random.Generator``.

Each function writes into the tensor's own array (so an optimiser and a replayed step
holding it see the new values), keeps its dtype and returns it.  ``generator`` is the
source of the draws; a fresh unseeded ``default_rng()`` when omitted (nablanet never uses
global random state).

Examples
--------
>>> import numpy as np
>>> from nablanet import nn
>>> layer = nn.Linear(4, 3)
>>> _ = nn.init.xavier_uniform_(layer.weight, generator=np.random.default_rng(0))
>>> _ = nn.init.zeros_(layer.bias)
>>> bool(np.abs(layer.weight.numpy()).max() <= np.sqrt(6 / 7))
True
"""

from __future__ import annotations

import math

import numpy as np

from nablanet.autodiff.tensor import Tensor

_LINEAR = {"linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "sigmoid"}


def _array(tensor):
    data = tensor.data if isinstance(tensor, Tensor) else tensor
    if not isinstance(data, np.ndarray) or data.dtype.kind != "f":
        raise TypeError(
            f"nn.init: expected a floating Tensor or array, got {type(tensor).__name__} "
            f"of dtype {getattr(data, 'dtype', None)}"
        )
    return data


def _fill(tensor, values):
    data = _array(tensor)
    data[...] = values
    return tensor


def _rng(generator):
    return np.random.default_rng() if generator is None else generator


def calculate_gain(nonlinearity, param=None):
    """The gain PyTorch recommends for ``nonlinearity`` (the std factor of its output).

    ``linear``/``conv*``/``sigmoid`` 1, ``tanh`` 5/3, ``relu`` sqrt(2), ``leaky_relu``
    sqrt(2 / (1 + slope^2)) (slope ``param``, default 0.01), ``selu`` 3/4.

    Examples
    --------
    >>> from nablanet import nn
    >>> nn.init.calculate_gain("tanh")
    1.6666666666666667
    """
    if nonlinearity in _LINEAR:
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, int | float) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _fans(tensor):
    shape = _array(tensor).shape
    if len(shape) < 2:
        raise ValueError(
            f"nn.init: fan in and fan out need a tensor of at least 2 dimensions, got shape {shape}"
        )
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with draws from ``U(a, b)``."""
    return _fill(tensor, _rng(generator).uniform(a, b, _array(tensor).shape))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with draws from ``N(mean, std^2)``."""
    return _fill(tensor, _rng(generator).normal(mean, std, _array(tensor).shape))


def constant_(tensor, val):
    """Fill with ``val``."""
    return _fill(tensor, val)


def ones_(tensor):
    """Fill with 1."""
    return _fill(tensor, 1)


def zeros_(tensor):
    """Fill with 0."""
    return _fill(tensor, 0)


def eye_(tensor):
    """The identity (ones on the diagonal) of a 2-D tensor."""
    shape = _array(tensor).shape
    if len(shape) != 2:
        raise ValueError(f"eye_: expected a 2-D tensor, got shape {shape}")
    return _fill(tensor, np.eye(*shape))


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot uniform: ``U(-a, a)``, ``a = gain sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = _fans(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot normal: ``N(0, std^2)``, ``std = gain sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = _fans(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(tensor, a, mode, nonlinearity):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He uniform: ``U(-b, b)``, ``b = sqrt(3) gain / sqrt(fan)`` (``a``: the leaky slope).

    ``nn.Linear``'s own default is this with ``a = sqrt(5)``.
    """
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He normal: ``N(0, std^2)``, ``std = gain / sqrt(fan)``."""
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


__all__ = [
    "calculate_gain", "constant_", "eye_", "kaiming_normal_", "kaiming_uniform_", "normal_",
    "ones_", "uniform_", "xavier_normal_", "xavier_uniform_", "zeros_",
]
