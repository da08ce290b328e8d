"""Kronecker factors (K-FAC) of the GGN / Fisher, one pair per ``Linear`` layer.

For a Linear layer ``s = a W^T + b`` the curvature block of ``[W | b]`` is
``sum_i sum_c (g_ic g_ic^T) kron (a_i a_i^T)`` with ``a_i`` the layer's input
(1 appended for the bias) and ``g_ic`` the backpropagated output-side factor
columns (square-root columns of ``w H_out``, or scaled output gradients for the
Fisher).  K-FAC replaces the sum of Kronecker products by the Kronecker product of
sums, ``G kron A`` with ``A = mean_i a_i a_i^T`` and ``G = sum_ic g_ic g_ic^T``:
exact when there is one sample, or when ``g g^T`` does not vary with the sample
(linear regression).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nablanet.autodiff.engine import backprop
from nablanet.curvature._products import _sigmoid, _softmax, _target_mass


@dataclass
class KFACFactor:
    """The Kronecker factors of one Linear layer: block ``~ kron(G, A)``.

    Attributes
    ----------
    name : str
        The layer's dotted name in the model.
    A : ndarray
        ``(in + 1, in + 1)`` with a bias (the input with 1 appended), else ``(in, in)``:
        the mean outer product of the layer's inputs.
    G : ndarray
        ``(out, out)``: the summed outer products of the backpropagated factor columns.
    bias : bool
    """

    name: str
    A: np.ndarray
    G: np.ndarray
    bias: bool

    def to_dense(self):
        """The K-FAC block in the parameters' order: ``weight`` (row-major), then ``bias``."""
        n_out, n_in = self.G.shape[0], self.A.shape[0] - int(self.bias)
        block = np.kron(self.G, self.A)  # indexed by (o, i) of [W | b], row-major
        aug = np.arange(n_out * self.A.shape[0]).reshape(n_out, self.A.shape[0])
        order = np.concatenate([aug[:, :n_in].ravel(), aug[:, n_in:].ravel()])
        return block[np.ix_(order, order)]


def _output_columns(op, block, batch):
    """Per-sample factor columns ``(K, n_b, C)`` with ``sum_K u u^T`` the output curvature."""
    oc, fn = op._output_curvature, op._fn
    values = block.jacobian.values
    w = fn.batch_weight(batch) * (1.0 if fn.reduction == "sum" else 1.0 / values.shape[0])
    if op.kind == "ggn":
        n_b, C = values.shape[0], math.prod(values.shape[1:])
        if oc.kind == "cross_entropy":
            p = _softmax(values)
            mass = _target_mass(fn.y[batch], values, fn.loss_fn.ignore_index)
            root_p = np.sqrt(p)
            # (diag(sqrt p) - p sqrt(p)^T)(...)^T = diag(p) - p p^T  since sum(p) = 1
            S = np.einsum("ic,cd->dic", root_p, np.eye(C)) - np.einsum("ic,id->dic", p, root_p)
            return S * np.sqrt(w * mass)[None, :, None]
        if oc.kind == "mse":
            eye = np.broadcast_to(np.eye(C).reshape(C, 1, C), (C, n_b, C))
            return (eye * np.sqrt(2 * w * oc.element_scale(values))).reshape((C,) + values.shape)
        if oc.kind == "bce":
            h = np.sqrt(w * oc.element_scale(values) * _sigmoid(values) * _sigmoid(-values))
            flat = h.reshape(n_b, C)
            return np.einsum("ic,cd->dic", flat, np.eye(C)).reshape((C,) + values.shape)
        raise ValueError(
            f"kfac of the GGN needs a closed-form output Hessian square root (CrossEntropyLoss, "
            f"MSELoss, BCEWithLogitsLoss); got {type(fn.loss_fn).__name__}. Use "
            f"kind='fisher' or 'empirical_fisher'"
        )
    return block.grads * np.sqrt(block.scale)  # (M, n_b, ...): g / sqrt(w s M)


def kfac_factors(op):
    """K-FAC factors of every Linear layer of ``op``'s model (GGN or Fisher kinds)."""
    from nablanet.nn.linear import Linear

    fn = op._fn
    layers = [(name, m) for name, m in fn.model.named_modules() if isinstance(m, Linear)]
    if not layers:
        raise ValueError("kfac: the model has no Linear layer")
    sums = {name: [0.0, 0.0] for name, _ in layers}
    for batch in fn.batches:
        taps = {}
        originals = _tap(layers, taps)
        try:
            block = op._make_block(batch)
        finally:
            for module in originals:
                module.__dict__.pop("forward", None)
        columns = _output_columns(op, block, batch)
        for name, module in layers:
            if name not in taps:
                continue
            a, s = taps[name]
            if module.bias is not None:
                a = np.concatenate([a, np.ones((a.shape[0], 1), dtype=a.dtype)], axis=1)
            (g,) = backprop(block.jacobian.out, columns, [s])
            g = np.zeros(columns.shape[:2] + s.shape[1:]) if g is None else np.asarray(g)
            g = g.reshape(-1, g.shape[-1])
            sums[name][0] = sums[name][0] + a.T @ a
            sums[name][1] = sums[name][1] + g.T @ g
    return [KFACFactor(name, np.asarray(sums[name][0]) / fn.n_samples,
                       np.asarray(sums[name][1]), module.bias is not None)
            for name, module in layers]


def _tap(layers, taps):
    """Wrap each layer's forward to keep its input and output (undone by the caller)."""
    for name, module in layers:
        original = type(module).forward.__get__(module)

        def forward(x, _name=name, _original=original):
            out = _original(x)
            taps[_name] = (np.asarray(getattr(x, "data", x)), out)
            return out

        module.__dict__["forward"] = forward
    return [module for _, module in layers]
