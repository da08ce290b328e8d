"""Curvature-matrix products of one batch: Hessian, GGN, Monte-Carlo and empirical Fisher.

Every product takes a block of directions ``V`` of shape ``(k, P)`` and returns
``(k, P)``: the engine pushes a batch of cotangents through one backward pass, so a
block of k products costs little more than one.

* Hessian: ``H v`` is the gradient's recorded backward pass differentiated once more
  (reverse over reverse, as ``nablanet.hvp``), with ``v`` as the gradient's cotangent.
* GGN: ``G v = J^T H_out J v``.  ``J^T u`` is one VJP of the outputs.  ``J v`` comes
  from transposing that VJP: ``u -> J^T u`` is linear in ``u``, so its own VJP with
  cotangent ``v`` is ``J v`` (the double-VJP trick; no forward mode needed).
* Fisher: ``F v = J^T (sum_m g_m g_m^T / (w s M)) J v`` with ``g_m`` the outputs'
  gradients of the loss at targets drawn from the model (MC Fisher) or at the data's
  own targets (empirical Fisher); see :class:`OutputCurvature` for ``w s``.
"""

from __future__ import annotations

import math

import numpy as np

from nablanet.autodiff import mode
from nablanet.autodiff.engine import backprop
from nablanet.autodiff.tensor import Tensor


def _cotangent(result, like_shape, k, dtype):
    if result is None:
        return np.zeros((k,) + tuple(like_shape), dtype=dtype)
    return result.data if isinstance(result, Tensor) else result


class HessianBlock:
    """One batch's loss gradient, recorded so that ``H V`` is one more backward pass."""

    def __init__(self, fn, theta0, batch):
        self.leaf = fn.leaf(theta0)
        with mode.enable_grad(), mode.TracingScope():
            loss = fn.batch_loss(fn.outputs(self.leaf, batch), batch)
            self.loss = float(loss.data)
            seed = np.ones(loss.shape, dtype=loss.dtype)
            (self.grad,) = backprop(loss, seed, [self.leaf], create_graph=True)

    def gradient(self):
        """This batch's term of the data set's gradient."""
        return _cotangent(self.grad, self.leaf.shape, 1, self.leaf.dtype).reshape(-1)

    def products(self, V):
        """``H_b V^T`` for directions stacked as rows of ``V`` (k, P)."""
        if not (isinstance(self.grad, Tensor) and self.grad.requires_grad):
            return np.zeros_like(V)  # the gradient does not depend on theta: H = 0
        (HV,) = backprop(self.grad, V, [self.leaf])
        return _cotangent(HV, self.leaf.shape, V.shape[0], V.dtype)


class JacobianBlock:
    """One batch's outputs ``f(theta)`` with ``J V`` and ``J^T U`` products."""

    def __init__(self, fn, theta0, batch):
        self.leaf = fn.leaf(theta0)
        with mode.enable_grad(), mode.TracingScope():
            self.out = fn.outputs(self.leaf, batch)
            self.u = Tensor(np.zeros(self.out.shape, dtype=self.out.dtype), requires_grad=True)
            (self.jt,) = backprop(self.out, self.u, [self.leaf], create_graph=True)
        self.values = self.out.data

    def jvp(self, V):
        """``J V``: (k, P) directions -> (k,) + outputs' shape, by the double-VJP trick."""
        if not (isinstance(self.jt, Tensor) and self.jt.requires_grad):
            return np.zeros((V.shape[0],) + self.values.shape, dtype=V.dtype)
        (JV,) = backprop(self.jt, V, [self.u])
        return _cotangent(JV, self.values.shape, V.shape[0], V.dtype)

    def vjp(self, U):
        """``J^T U``: (k,) + outputs' shape -> (k, P)."""
        if not self.out.requires_grad:
            return np.zeros((U.shape[0], self.leaf.size), dtype=U.dtype)
        (JtU,) = backprop(self.out, U, [self.leaf])
        return _cotangent(JtU, self.leaf.shape, U.shape[0], U.dtype)


class GGNBlock:
    """``J^T H_out J`` on one batch (``H_out`` from :class:`OutputCurvature`)."""

    def __init__(self, fn, theta0, batch, output_curvature):
        self.jacobian = JacobianBlock(fn, theta0, batch)
        self.batch = batch
        self.output_curvature = output_curvature

    def products(self, V):
        JV = self.jacobian.jvp(V)
        HJV = self.output_curvature.hessian_products(self.jacobian.values, self.batch, JV)
        return self.jacobian.vjp(HJV)


class FisherBlock:
    """``J^T (sum_m g_m g_m^T / (w s M)) J`` on one batch, ``g_m`` output gradients."""

    def __init__(self, fn, theta0, batch, output_curvature, targets_list):
        self.jacobian = JacobianBlock(fn, theta0, batch)
        oc = output_curvature
        grads = [oc.output_gradient(self.jacobian.values, batch, t) for t in targets_list]
        self.grads = np.stack(grads)  # (M, n_b, ...)
        self.scale = 1.0 / (oc.sample_weight * oc.element_scale(self.jacobian.values)
                            * len(targets_list))

    def products(self, V):
        JV = self.jacobian.jvp(V)  # (k, n_b, ...)
        G = self.grads.reshape(self.grads.shape[0], self.grads.shape[1], -1)
        JVf = JV.reshape(JV.shape[0], JV.shape[1], -1)
        # per sample i: sum_m g_mi (g_mi . (J v)_i)
        coef = np.einsum("mic,kic->kmi", G, JVf)
        W = np.einsum("kmi,mic->kic", coef, G) * self.scale
        return self.jacobian.vjp(W.reshape(JV.shape))


class OutputCurvature:
    """The loss as a function of the outputs: its Hessian, gradients and sampled targets.

    The data set's loss is ``sum_i w s NLL_i(f_i)`` with ``w = 1/N`` (mean reduction)
    or 1 (sum), ``s = 1/C`` when the loss also averages over the ``C`` outputs of a
    sample (MSE, BCE with 'mean'), else 1, and ``NLL_i`` the negative log-likelihood
    of the model's predictive distribution: categorical (softmax cross-entropy),
    Gaussian of variance 1/2 (squared error) or Bernoulli (BCE with logits).  The
    Hessian in the outputs has closed forms for cross-entropy (``diag(p) - p p^T``,
    claim C7) and squared error (``2 w s I``); other losses use autodiff.
    """

    def __init__(self, fn):
        self.fn = fn
        self.loss_fn = fn.loss_fn
        self.kind = _loss_kind(fn.loss_fn)
        self.sample_weight = fn.sample_weight()

    def element_scale(self, values):
        """``s``: 1/C for losses averaging over a sample's outputs too, else 1."""
        if self.kind in ("mse", "bce") and self.fn.reduction == "mean":
            return 1.0 / max(1, math.prod(values.shape[1:]))
        return 1.0

    # -- Hessian in the outputs ---------------------------------------------------------
    def hessian_products(self, values, batch, U):
        """``H_out U`` for the batch's term of the loss; ``U`` is (k,) + outputs' shape."""
        weight = self.fn.batch_weight(batch)
        n_b = values.shape[0]
        per_sample = 1.0 if self.fn.reduction == "sum" else 1.0 / n_b
        if self.kind == "cross_entropy":
            p = _softmax(values)
            mass = _target_mass(self.fn.y[batch], values, self.loss_fn.ignore_index)
            # softmax cross-entropy: H = sum(y) (diag(p) - p p^T) per sample (C7)
            pu = p * U
            HU = pu - p * pu.sum(axis=-1, keepdims=True)
            return HU * (weight * per_sample * mass)[..., None]
        if self.kind == "mse":
            # squared error: H = 2 I, over the batch's n_b C elements for a mean
            return U * (2.0 * weight * per_sample * self.element_scale(values))
        return self._autodiff_hessian_products(values, batch, U)

    def _autodiff_hessian_products(self, values, batch, U):
        key = batch.start
        cached = getattr(self, "_graphs", {}).get(key)
        if cached is None or cached[0] is not values:
            z = Tensor(np.array(values), requires_grad=True)
            with mode.enable_grad(), mode.TracingScope():
                loss = self.fn.batch_loss(z, batch)
                (g,) = backprop(loss, np.ones(loss.shape, dtype=loss.dtype), [z],
                                create_graph=True)
            cached = (values, z, g)
            self.__dict__.setdefault("_graphs", {})[key] = cached
        _, z, g = cached
        if not (isinstance(g, Tensor) and g.requires_grad):
            return np.zeros_like(U)
        (HU,) = backprop(g, U, [z])
        return _cotangent(HU, values.shape, U.shape[0], U.dtype)

    # -- gradients and samples --------------------------------------------------------------
    def output_gradient(self, values, batch, targets):
        """``d(batch loss)/d outputs`` at ``targets`` (``w s`` times the NLL's gradient)."""
        return self.loss_and_output_gradient(values, batch, targets)[1]

    def loss_and_output_gradient(self, values, batch, targets=None):
        """The batch's loss term and its gradient in the outputs (data targets by default)."""
        z = Tensor(np.array(values), requires_grad=True)
        with mode.enable_grad():
            loss = self.fn.batch_loss(z, batch, targets)
        (g,) = backprop(loss, np.ones(loss.shape, dtype=loss.dtype), [z])
        return float(loss.data), _cotangent(g, values.shape, 1, values.dtype).reshape(
            values.shape)

    def sample_targets(self, values, batch, rng):
        """Targets drawn from the model's predictive distribution at ``values``."""
        y = self.fn.y[batch]
        if self.kind == "cross_entropy":
            p = _softmax(values.reshape(-1, values.shape[-1]))
            u = rng.random((p.shape[0], 1))
            labels = np.minimum((np.cumsum(p, axis=1) < u).sum(axis=1), p.shape[1] - 1)
            if y.dtype.kind in "iu":
                return labels.reshape(values.shape[:-1]).astype(y.dtype)
            return np.eye(p.shape[1], dtype=values.dtype)[labels].reshape(values.shape)
        if self.kind == "mse":
            return values + rng.standard_normal(values.shape) * math.sqrt(0.5)
        self.check_sampling()
        return (rng.random(values.shape) < _sigmoid(values)).astype(values.dtype)

    def check_sampling(self):
        """Raise unless the loss's predictive distribution is known (for the MC Fisher)."""
        if self.kind == "other":
            raise ValueError(
                f"curvature: the Monte-Carlo Fisher needs the loss's predictive distribution, "
                f"known for CrossEntropyLoss, MSELoss and BCEWithLogitsLoss (without weights); "
                f"got {type(self.loss_fn).__name__}. Use kind='ggn' or kind='empirical_fisher'"
            )


def _loss_kind(loss_fn):
    name = type(loss_fn).__name__
    if name == "CrossEntropyLoss" and loss_fn.weight is None:
        return "cross_entropy"
    if name == "MSELoss":
        return "mse"
    if name == "BCEWithLogitsLoss" and loss_fn.weight is None and loss_fn.pos_weight is None:
        return "bce"
    return "other"


def _target_mass(y, values, ignore_index=None):
    """Per-sample ``sum_k y_k``: 1 for class indices (0 for ignored ones), else the sum."""
    if y.dtype.kind in "iu" or y.ndim < values.ndim:
        mass = np.ones(values.shape[:-1], dtype=values.dtype)
        if ignore_index is not None:
            mass[np.asarray(y).reshape(mass.shape) == ignore_index] = 0.0
        return mass
    return y.sum(axis=-1)


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))
