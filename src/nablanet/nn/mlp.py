"""``MLP``: the notes' network (claim C3) in one line."""

from __future__ import annotations

import numpy as np

from nablanet.nn.activation import LeakyReLU, ReLU, Sigmoid, Tanh
from nablanet.nn.container import Sequential
from nablanet.nn.dropout import Dropout
from nablanet.nn.linear import Linear
from nablanet.nn.normalization import BatchNorm1d

_ACTIVATIONS = {"leaky_relu": None, "relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid}


class MLP(Sequential):
    """Multilayer perceptron returning logits (pair it with :class:`CrossEntropyLoss`).

    Each hidden layer is ``Linear -> [BatchNorm1d] -> activation -> [Dropout]``;
    the last layer is a ``Linear`` to ``out_features``.  With the defaults and
    one hidden layer this is the notes' network: ``z1 = x W1^T + b1``,
    ``a1 = leaky_relu(z1, 0.1)``, dropout with ``p = 0.2``, ``z2 = a1 W2^T + b2``.

    Parameters
    ----------
    in_features : int
    hidden : int or sequence of int
        Width of each hidden layer.
    out_features : int
    activation : {'leaky_relu', 'relu', 'tanh', 'sigmoid'}, default 'leaky_relu'
    negative_slope : float, default 0.1
        Slope of the leaky ReLU.
    batch_norm : bool, default False
    dropout : float, default 0.2
        Drop probability (0 for none).
    generator : numpy.random.Generator, optional
        Source of the initial weights and of the dropout masks.
    dtype : numpy dtype, optional
        :func:`nablanet.get_default_dtype` (float64 unless set) when omitted.

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> net = nn.MLP(784, 256, 10, batch_norm=True, generator=np.random.default_rng(0))
    >>> [type(m).__name__ for m in net]
    ['Linear', 'BatchNorm1d', 'LeakyReLU', 'Dropout', 'Linear']
    """

    def __init__(
        self, in_features, hidden, out_features, activation="leaky_relu", negative_slope=0.1,
        batch_norm=False, dropout=0.2, generator=None, dtype=None,
    ):
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"MLP: activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}"
            )
        rng = np.random.default_rng() if generator is None else generator
        widths = [hidden] if np.ndim(hidden) == 0 else list(hidden)
        layers, previous = [], in_features
        for width in widths:
            layers.append(Linear(previous, width, generator=rng, dtype=dtype))
            if batch_norm:
                layers.append(BatchNorm1d(width, dtype=dtype))
            if activation == "leaky_relu":
                layers.append(LeakyReLU(negative_slope))
            else:
                layers.append(_ACTIVATIONS[activation]())
            if dropout:
                layers.append(Dropout(dropout, generator=rng))
            previous = width
        layers.append(Linear(previous, out_features, generator=rng, dtype=dtype))
        super().__init__(*layers)
