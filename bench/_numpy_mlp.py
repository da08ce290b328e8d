"""A hand-written NumPy forward/backward of the notes' network: the zero-overhead limit.

784-256-10: Linear -> BatchNorm1d -> LeakyReLU(0.1) -> Dropout(0.2) -> Linear, mean
softmax cross-entropy, SGD with momentum (PyTorch's rule), float32.  Written as a
competent NumPy programmer would (in-place updates where natural, no graph, no checks):
it is what an autodiff engine built on NumPy cannot beat, only approach.
"""

from __future__ import annotations

import math

import numpy as np


class NumpyMLP:
    """Parameters, momentum buffers and one ``step(x, labels)`` of the notes' network."""

    def __init__(self, n_in, n_hidden, n_out, rng, p=0.2, slope=0.1, lr=0.01, momentum=0.9,
                 dtype=np.float32, eps=1e-5):
        def uniform(fan_in, shape):
            bound = 1.0 / math.sqrt(fan_in)
            return rng.uniform(-bound, bound, shape).astype(dtype)

        self.W1, self.b1 = uniform(n_in, (n_hidden, n_in)), uniform(n_in, n_hidden)
        self.gamma, self.beta = np.ones(n_hidden, dtype), np.zeros(n_hidden, dtype)
        self.W2, self.b2 = uniform(n_hidden, (n_out, n_hidden)), uniform(n_hidden, n_out)
        self.running_mean, self.running_var = np.zeros(n_hidden, dtype), np.ones(n_hidden, dtype)
        self.params = [self.W1, self.b1, self.gamma, self.beta, self.W2, self.b2]
        self.buffers = [None] * len(self.params)
        self.rng, self.p, self.slope, self.eps = rng, p, slope, eps
        self.lr, self.momentum, self.dtype = lr, momentum, np.dtype(dtype)

    def step(self, x, labels):
        """Forward, backward and SGD update on one batch; returns the mean loss."""
        n = len(x)
        dt = self.dtype
        # forward
        z1 = x @ self.W1.T
        z1 += self.b1
        mu = z1.mean(axis=0)
        xhat = z1 - mu
        var = np.square(xhat).mean(axis=0)
        inv = 1 / np.sqrt(var + dt.type(self.eps))
        xhat *= inv
        y = xhat * self.gamma
        y += self.beta
        self.running_mean *= 0.9
        self.running_mean += 0.1 * mu
        self.running_var *= 0.9
        self.running_var += (0.1 * n / (n - 1)) * var
        # slope = [y > 0](1 - s) + s (exact for s = 0.1 in float32; np.where on random
        # signs is ~15x slower here)
        slope = (y > 0).astype(dt)
        slope *= dt.type(1 - self.slope)
        slope += dt.type(self.slope)
        uniform = self.rng.random(y.shape, dtype=dt)
        mask = np.multiply(uniform >= self.p, dt.type(1 / (1 - self.p)), out=uniform)
        y *= slope
        h = y
        h *= mask
        z2 = h @ self.W2.T
        z2 += self.b2
        # softmax cross-entropy and dL/dz2 = (p - onehot) / n
        z2 -= z2.max(axis=1, keepdims=True)
        e = np.exp(z2)
        total = e.sum(axis=1, keepdims=True)
        rows = np.arange(n)
        loss = float(np.log(total[:, 0]).mean() - z2[rows, labels].mean())
        e /= total
        e[rows, labels] -= 1
        e *= dt.type(1 / n)
        dz2 = e
        # backward
        dW2 = dz2.T @ h
        db2 = dz2.sum(axis=0)
        dy = dz2 @ self.W2
        dy *= mask
        dy *= slope
        dbeta = dy.sum(axis=0)
        dgamma = np.einsum("ij,ij->j", dy, xhat)
        # C2: dz1 = gamma inv (dy - mean(dy) - xhat mean(dy xhat))
        xhat *= dgamma * dt.type(1 / n)
        dy -= dbeta * dt.type(1 / n)
        dy -= xhat
        dy *= self.gamma * inv
        dW1 = dy.T @ x
        db1 = dy.sum(axis=0)
        self._sgd([dW1, db1, dgamma, dbeta, dW2, db2])
        return loss

    def _sgd(self, grads):
        for i, (param, grad) in enumerate(zip(self.params, grads, strict=True)):
            buf = self.buffers[i]
            if buf is None:
                self.buffers[i] = buf = grad.copy()
            else:
                buf *= self.momentum
                buf += grad
            param -= self.lr * buf
