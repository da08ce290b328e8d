"""First-order optimisers with PyTorch's update rules: GD (as in the notes), SGD, Adam, AdamW.

Every optimiser walks an iterable of tensors that carry ``.grad`` and updates
their values in place (``p.data``), reusing state buffers, so a training step
allocates as little as possible.  The update formulas are printed in each
docstring and pinned against ``torch.optim`` by the tests.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from nablanet.autodiff.tensor import Tensor, raw


class Optimizer:
    """Base class: parameter groups, ``zero_grad``, ``step`` and ``state_dict``.

    Parameters
    ----------
    params : iterable of Tensor, or iterable of dict
        Tensors to optimise, or groups ``{"params": [...], "lr": ...}`` whose keys
        override ``defaults`` (as in ``torch.optim``).
    defaults : dict
        Hyper-parameters shared by every group unless a group overrides them.
    """

    def __init__(self, params, defaults):
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list; pass model.parameters()")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.defaults = dict(defaults)
        self.param_groups = [self._make_group(group) for group in groups]
        self.state = {}

    def _make_group(self, group):
        params = list(group["params"])
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer parameters must be Tensors, got {type(p).__name__}")
            if p.data.dtype.kind != "f":
                raise TypeError(f"optimizer parameters must be floating point, got {p.dtype}")
        unknown = set(group) - set(self.defaults) - {"params"}
        if unknown:
            raise ValueError(f"unknown hyper-parameter(s) {sorted(unknown)} in a parameter group")
        return {**self.defaults, **group, "params": params}

    def zero_grad(self, set_to_none=True):
        """Clear every parameter's gradient (to None, or to zeros in place)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    raw(p.grad)[...] = 0
                    if isinstance(p.grad, Tensor):
                        p.grad._bump_version()

    def step(self):
        """Update every parameter that has a gradient, in place."""
        state, update = self.state, self._update
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad, value = raw(p.grad), p.data
                if grad.shape != value.shape:
                    raise ValueError(
                        f"gradient shape {grad.shape} != parameter shape {value.shape}"
                    )
                update(value, grad, state.setdefault(p, {}), group)
                p._bump_version()  # a graph recorded before the step now refuses backward

    def _update(self, value, grad, state, group):
        raise NotImplementedError

    def state_dict(self):
        """A copy of the state and hyper-parameters; parameters are named by position."""
        index = {}
        groups = []
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                index.setdefault(p, len(index))
                ids.append(index[p])
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": ids})
        state = {index[p]: copy.deepcopy(s) for p, s in self.state.items() if p in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore what :meth:`state_dict` returned, so training resumes exactly."""
        saved = state_dict["param_groups"]
        sizes = [len(g["params"]) for g in self.param_groups]
        if [len(s["params"]) for s in saved] != sizes:
            raise ValueError("state_dict does not match this optimizer's parameter groups")
        by_index = {}
        for saved_group, group in zip(saved, self.param_groups, strict=True):
            for i, p in zip(saved_group["params"], group["params"], strict=True):
                by_index[i] = p
            group.update({k: v for k, v in saved_group.items() if k != "params"})
        self.state = {by_index[i]: copy.deepcopy(s) for i, s in state_dict["state"].items()}


class GD(Optimizer):
    """Full-batch gradient descent exactly as the notes write it (claim C1).

    ``w <- w - lr * grad``, where ``grad`` is the gradient of the **summed** loss.
    For logistic regression that is ``w <- w + lr * sum_n (y_n - yhat_n) x_n``.

    Parameters
    ----------
    params : iterable of Tensor
    lr : float
        Step size eta.

    Examples
    --------
    >>> import nablanet as nb
    >>> w = nb.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = GD([w], lr=0.25)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w.numpy()
    array([ 0.5, -1. ])
    """

    def __init__(self, params, lr):
        _check_positive("lr", lr)
        super().__init__(params, {"lr": lr})

    def _update(self, value, grad, state, group):
        value -= group["lr"] * grad


class SGD(Optimizer):
    """Stochastic gradient descent with PyTorch's momentum, dampening and Nesterov.

    With ``g = grad + weight_decay * p``: ``b <- g`` at the first step, then
    ``b <- momentum * b + (1 - dampening) * g``; the direction is ``g + momentum * b``
    (Nesterov) or ``b``; ``p <- p - lr * direction``.

    Examples
    --------
    >>> import nablanet as nb
    >>> w = nb.tensor([1.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     opt.zero_grad()
    ...     (w * w).sum().backward()
    ...     opt.step()
    >>> round(float(w.numpy()[0]), 6)
    0.46
    """

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        _check_positive("lr", lr)
        _check_nonnegative(momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires momentum > 0 and dampening = 0")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "nesterov": nesterov, "weight_decay": weight_decay}
        super().__init__(params, defaults)

    def _update(self, value, grad, state, group):
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * value
        momentum = group["momentum"]
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(grad, copy=True)
            else:
                buf *= momentum
                dampening = group["dampening"]
                # no temporary for the common dampening = 0
                buf += grad if not dampening else (1 - dampening) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        value -= group["lr"] * grad


class Adam(Optimizer):
    """Adam (Kingma & Ba) with PyTorch's update and optional AMSGrad.

    ``g = grad + weight_decay * p``; ``m <- b1 m + (1-b1) g``; ``v <- b2 v + (1-b2) g^2``;
    ``p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``
    (with ``v`` replaced by its running maximum under AMSGrad).

    Examples
    --------
    >>> import nablanet as nb
    >>> w = nb.tensor([1.0], requires_grad=True)
    >>> opt = Adam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> round(float(w.numpy()[0]), 6)
    0.9
    """

    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False):
        _check_positive("lr", lr)
        _check_nonnegative(eps=eps, weight_decay=weight_decay)
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"betas must lie in [0, 1), got {betas}")
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps,
                    "weight_decay": weight_decay, "amsgrad": amsgrad}
        super().__init__(params, defaults)

    def _update(self, value, grad, state, group):
        lr, (beta1, beta2), decay = group["lr"], group["betas"], group["weight_decay"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(value)
            state["exp_avg_sq"] = np.zeros_like(value)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(value)
        state["step"] += 1
        if decay and self._decoupled:
            value *= 1 - lr * decay
        elif decay:
            grad = grad + decay * value
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg += (1 - beta1) * (grad - exp_avg)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
            second = state["max_exp_avg_sq"]
        else:
            second = exp_avg_sq
        step = state["step"]
        # Python-float bias corrections keep float32 updates in float32
        denom = np.sqrt(second)
        denom /= math.sqrt(1 - beta2**step)
        denom += group["eps"]
        value -= (lr / (1 - beta1**step)) * exp_avg / denom


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as ``torch.optim.AdamW``.

    ``p <- p * (1 - lr * weight_decay)`` first, then the Adam step on the raw gradient.

    Examples
    --------
    >>> import nablanet as nb
    >>> w = nb.tensor([1.0], requires_grad=True)
    >>> opt = AdamW([w], lr=0.1, weight_decay=0.5)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> round(float(w.numpy()[0]), 6)
    0.85
    """

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


def _check_positive(name, value):
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}")


def _check_nonnegative(**values):
    for name, value in values.items():
        if not value >= 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
