"""Activation layers: thin modules over :mod:`nablanet.ops.activations` and
:mod:`nablanet.ops.nn_extra`, with PyTorch's names, arguments and defaults."""

from __future__ import annotations

import warnings

from nablanet.autodiff.tensor import shape_of
from nablanet.nn._unregistered import user_stacklevel
from nablanet.nn.module import Module
from nablanet.ops import activations as act
from nablanet.ops import nn_extra
from nablanet.ops.arithmetic import tanh


def implicit_softmax_dim(name, x):
    """PyTorch's choice for ``dim=None`` (0 for 0-, 1- and 3-D input, else 1), with its warning."""
    ndim = len(shape_of(x))
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated (in PyTorch too). "
        "Change the call to include dim=X as an argument.",
        stacklevel=user_stacklevel(),
    )
    return 0 if ndim in (0, 1, 3) else 1


class ReLU(Module):
    """``max(x, 0)`` elementwise.

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> nn.ReLU()(np.array([-1.0, 2.0]))
    array([0., 2.])
    """

    replayable = True

    def forward(self, x):
        """Apply the activation."""
        return act.relu(x)


class LeakyReLU(Module):
    """``x`` for ``x > 0``, ``negative_slope * x`` otherwise (derivative: the slope at 0).

    Parameters
    ----------
    negative_slope : float, default 0.01
        The notes' network uses 0.1.

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> nn.LeakyReLU(0.1)(np.array([-1.0, 2.0]))
    array([-0.1,  2. ])
    """

    replayable = True

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        """Apply the activation."""
        return act.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Sigmoid(Module):
    """Logistic function, stable for any input.

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> nn.Sigmoid()(np.array([0.0]))
    array([0.5])
    """

    replayable = True

    def forward(self, x):
        """Apply the activation."""
        return act.sigmoid(x)


class Tanh(Module):
    """Hyperbolic tangent.

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> nn.Tanh()(np.array([0.0]))
    array([0.])
    """

    replayable = True

    def forward(self, x):
        """Apply the activation."""
        return tanh(x)


class Softmax(Module):
    """Softmax along ``dim``.

    Parameters
    ----------
    dim : int, optional
        None (PyTorch's default) picks 0 for 0-, 1- and 3-D input and 1 otherwise,
        with PyTorch's deprecation warning: pass ``dim`` (usually ``-1``).

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> nn.Softmax(dim=-1)(np.array([[0.0, 0.0]]))
    array([[0.5, 0.5]])
    """

    replayable = True

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def _dim(self, x):
        return implicit_softmax_dim(type(self).__name__, x) if self.dim is None else self.dim

    def forward(self, x):
        """Apply the softmax."""
        return act.softmax(x, axis=self._dim(x))

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """Log-softmax along ``dim`` (stable: ``x - logsumexp(x)``).

    Parameters
    ----------
    dim : int, optional
        As :class:`Softmax`.

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> nn.LogSoftmax(dim=1)(np.array([[0.0, 1e4]]))
    array([[-10000.,      0.]])
    """

    def forward(self, x):
        """Apply the log-softmax."""
        return act.log_softmax(x, axis=self._dim(x))


class GELU(Module):
    """Gaussian error linear unit ``x Phi(x)`` (exact, with erf) or its tanh approximation.

    Parameters
    ----------
    approximate : {'none', 'tanh'}, default 'none'

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> nn.GELU()(np.array([0.0, 1e4]))
    array([    0., 10000.])
    """

    replayable = True

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        """Apply the activation."""
        return nn_extra.gelu(x, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class ELU(Module):
    """``x`` for ``x > 0``, ``alpha (exp(x) - 1)`` otherwise.

    Parameters
    ----------
    alpha : float, default 1.0
    inplace : bool, default False
        Accepted for PyTorch's signature; the result is always a new array.

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> nn.ELU()(np.array([0.0, 2.0]))
    array([0., 2.])
    """

    replayable = True

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = float(alpha)
        self.inplace = inplace

    def forward(self, x):
        """Apply the activation."""
        return nn_extra.elu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class SELU(Module):
    """Scaled ELU with the self-normalising constants (Klambauer et al. 2017).

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> nn.SELU()(np.array([0.0]))
    array([0.])
    """

    replayable = True

    def forward(self, x):
        """Apply the activation."""
        return nn_extra.selu(x)


class SiLU(Module):
    """Sigmoid linear unit (swish) ``x sigmoid(x)``.

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> nn.SiLU()(np.array([0.0]))
    array([0.])
    """

    replayable = True

    def forward(self, x):
        """Apply the activation."""
        return nn_extra.silu(x)
