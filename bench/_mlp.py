"""The benchmark MLP: 64-16-10 tanh, softmax cross-entropy, all 1,210 parameters in one vector."""

from __future__ import annotations

import numpy as np

N_IN, N_HIDDEN, N_OUT, N_SAMPLES = 64, 16, 10, 256
SIZES = [(N_IN, N_HIDDEN), (N_HIDDEN,), (N_HIDDEN, N_OUT), (N_OUT,)]
N_PARAMS = sum(int(np.prod(s)) for s in SIZES)


def problem(seed=0):
    """Data X (256 x 64), integer labels y, one-hot Y and a parameter vector theta (float64)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N_SAMPLES, N_IN))
    y = rng.integers(0, N_OUT, size=N_SAMPLES)
    Y = np.eye(N_OUT)[y]
    theta = 0.3 * rng.standard_normal(N_PARAMS)
    return X, y, Y, theta


def unflatten(theta):
    """Split theta into W1, b1, W2, b2 (works on NumPy arrays, nablanet and torch tensors)."""
    parts, start = [], 0
    for shape in SIZES:
        size = int(np.prod(shape))
        parts.append(theta[start:start + size].reshape(shape))
        start += size
    return parts


def nablanet_loss(X, Y):
    import nablanet as nb

    def loss(theta):
        W1, b1, W2, b2 = unflatten(theta)
        z = nb.tanh(X @ W1 + b1) @ W2 + b2
        return nb.mean(nb.logsumexp(z, axis=1) - nb.sum(z * Y, axis=1))

    return loss


def torch_loss(X, Y):
    import torch

    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)

    def loss(theta):
        W1, b1, W2, b2 = unflatten(theta)
        z = torch.tanh(Xt @ W1 + b1) @ W2 + b2
        return torch.mean(torch.logsumexp(z, dim=1) - torch.sum(z * Yt, dim=1))

    return loss
