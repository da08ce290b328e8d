"""``Dropout`` (claim C3) and ``GaussianDropout`` (claim C5) layers."""

from __future__ import annotations

import numpy as np

from nablanet.nn.module import Module
from nablanet.ops.stochastic import dropout, gaussian_dropout


def _generator(generator):
    if generator is None:
        return np.random.default_rng()
    if not isinstance(generator, np.random.Generator):
        raise TypeError(
            f"generator must be a numpy.random.Generator, got {type(generator).__name__}"
        )
    return generator


class Dropout(Module):
    """Inverted dropout: in training zero each entry with probability ``p`` and scale
    the rest by ``1 / (1 - p)``; the identity in evaluation.

    Parameters
    ----------
    p : float, default 0.5
        Drop probability.
    inverted : bool, default True
        False: the notes' bare 0/1 mask (no rescaling).
    generator : numpy.random.Generator, optional
        Kept as the ``generator`` attribute (replace it to reseed); a fresh
        unseeded ``default_rng()`` when omitted.

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> drop = nn.Dropout(0.5, generator=np.random.default_rng(0)).eval()
    >>> drop(np.ones(3))
    array([1., 1., 1.])
    """

    replayable = True

    def __init__(self, p=0.5, inverted=True, generator=None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must lie in [0, 1], got {p}")
        self.p = float(p)
        self.inverted = inverted
        self.generator = _generator(generator)

    def forward(self, x):
        """Apply a fresh mask in training; return ``x`` in evaluation."""
        return dropout(x, self.p, self.training, self.generator, self.inverted)

    def extra_repr(self):
        return f"p={self.p}" + ("" if self.inverted else ", inverted=False")


class GaussianDropout(Module):
    """Multiplicative ``Normal(1, sigma^2)`` noise in training (claim C5).

    Give either ``sigma2`` or ``p``: ``sigma^2 = p / (1 - p)`` matches the
    variance of inverted binary dropout with drop probability ``p``.

    Parameters
    ----------
    p : float, optional
        Drop probability of the binary dropout to match, in [0, 1).
    sigma2 : float, optional
        Variance of the noise.
    generator : numpy.random.Generator, optional

    Examples
    --------
    >>> from nablanet import nn
    >>> nn.GaussianDropout(p=0.5).sigma2
    1.0
    """

    replayable = True

    def __init__(self, p=None, sigma2=None, generator=None):
        super().__init__()
        if (p is None) == (sigma2 is None):
            raise ValueError("GaussianDropout takes exactly one of p and sigma2")
        if p is not None:
            if not 0.0 <= p < 1.0:
                raise ValueError(f"GaussianDropout: p must lie in [0, 1), got {p}")
            sigma2 = p / (1.0 - p)
        if sigma2 < 0:
            raise ValueError(f"GaussianDropout: sigma2 must be >= 0, got {sigma2}")
        self.sigma2 = float(sigma2)
        self.generator = _generator(generator)

    def forward(self, x):
        """Multiply by fresh noise in training; return ``x`` in evaluation."""
        return gaussian_dropout(x, self.sigma2, self.training, self.generator)

    def extra_repr(self):
        return f"sigma2={self.sigma2}"
