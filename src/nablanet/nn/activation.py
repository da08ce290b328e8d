"""Activation layers: thin modules over :mod:`nablanet.ops.activations`."""

from __future__ import annotations

from nablanet.nn.module import Module
from nablanet.ops import activations as act
from nablanet.ops.arithmetic import tanh


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
    dim : int, default -1

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> nn.Softmax()(np.array([[0.0, 0.0]]))
    array([[0.5, 0.5]])
    """

    replayable = True

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        """Apply the softmax."""
        return act.softmax(x, axis=self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """Log-softmax along ``dim`` (stable: ``x - logsumexp(x)``).

    Parameters
    ----------
    dim : int, default -1

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> nn.LogSoftmax()(np.array([[0.0, 1e4]]))
    array([[-10000.,      0.]])
    """

    def forward(self, x):
        """Apply the log-softmax."""
        return act.log_softmax(x, axis=self.dim)
