"""``nll_loss``, ``l1_loss``, ``huber_loss`` and ``smooth_l1_loss`` (PyTorch's).

``nll_loss`` takes log-probabilities (``log_softmax`` output) and class indices; the
targets are built by the same label-checking step as ``cross_entropy``'s, a primitive, so
a replayed training step rebuilds them for each batch.
"""

from __future__ import annotations

import numpy as np

from nablanet.autodiff.primitive import Primitive
from nablanet.autodiff.tensor import raw, shape_of
from nablanet.ops.arithmetic import abs as absolute
from nablanet.ops.arithmetic import clip
from nablanet.ops.losses import _check_reduction, _check_same_shape, _index_targets, _reduce
from nablanet.ops.reductions import sum as reduce_sum


def nll_loss(log_probs, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood ``-log_probs[n, y_n]`` of class indices (PyTorch's).

    Parameters
    ----------
    log_probs : Tensor or array_like, shape (N, C) or (C,)
        Log-probabilities, e.g. ``log_softmax(z, dim=-1)``.
    target : array_like of int, shape (N,) or ()
    weight : array_like, shape (C,), optional
        One weight per class; 'mean' then divides by the summed weights of the targets.
    ignore_index : int, default -100
        Targets equal to it contribute nothing and do not count in the mean.
    reduction : {'mean', 'sum', 'none'}, default 'mean'

    Returns
    -------
    Tensor or ndarray

    Raises
    ------
    ValueError
        Labels outside ``[0, C - 1]`` (other than ``ignore_index``), or wrong shapes.
    TypeError
        Non-integer targets.

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet.ops.losses_extra import nll_loss
    >>> float(nll_loss(np.log(np.array([[0.25, 0.75]])), np.array([1])))
    0.2876820724517809
    """
    _check_reduction(reduction)
    shape = tuple(shape_of(log_probs))
    if len(shape) not in (1, 2):
        raise ValueError(f"nll_loss: input must have shape (N, C) or (C,), got {shape}")
    kind = np.asarray(raw(target)).dtype.kind
    if kind not in "iu":
        raise TypeError(f"nll_loss: target must be class indices (integers), got dtype "
                        f"{np.asarray(raw(target)).dtype}")
    dtype = np.asarray(raw(log_probs)).dtype
    y, valid, labels, count = _index_targets(target, shape[-1], ignore_index, dtype, shape[:-1])
    denominator = count
    if weight is not None:
        weight = np.asarray(raw(weight), dtype=dtype)
        if weight.shape != (shape[-1],):
            raise ValueError(f"nll_loss: weight must have shape ({shape[-1]},), got "
                             f"{weight.shape}")
        y = y * weight
        denominator = np.sum(weight[labels] * valid)
    loss = -reduce_sum(y * log_probs, axis=-1)
    return _reduce(loss, reduction, denominator)


def l1_loss(input, target, reduction="mean"):  # noqa: A002 - PyTorch's argument name
    """Mean absolute error ``|input - target|``, reduced (derivative 0 at a tie, as PyTorch).

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet.ops.losses_extra import l1_loss
    >>> float(l1_loss(np.array([1.0, -3.0]), np.zeros(2)))
    2.0
    """
    _check_reduction(reduction)
    _check_same_shape("l1_loss", input, target, "target")
    return _reduce(absolute(input - target), reduction)


def _huber_impl(x, y, delta=1.0):
    # with a = min(|d|, delta): a (|d| - a / 2) is d^2 / 2 inside, delta (|d| - delta / 2)
    # outside, without np.where
    size = np.abs(np.subtract(x, y))
    if size.dtype.kind != "f":
        size = size.astype(np.float64)
    inside = np.minimum(size, delta)
    size -= 0.5 * inside
    size *= inside
    return size


def _huber_rule(g, ans, needs, x, y, delta=1.0):
    # d huber(d) / dd = clip(d, -delta, delta); d = x - y
    slope = g * clip(x - y, -delta, delta)
    return (slope if needs[0] else None), (-slope if needs[1] else None)


_huber = Primitive("huber", _huber_impl)
_huber.defvjp_joint(_huber_rule)


def huber_loss(input, target, reduction="mean", delta=1.0):  # noqa: A002 - PyTorch's name
    """Huber loss: ``d^2 / 2`` for ``|d| <= delta``, ``delta (|d| - delta / 2)`` beyond.

    ``d = input - target``; its derivative is ``clip(d, -delta, delta)``.

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet.ops.losses_extra import huber_loss
    >>> huber_loss(np.array([0.5, 3.0]), np.zeros(2), reduction="none")
    array([0.125, 2.5  ])
    """
    _check_reduction(reduction)
    _check_same_shape("huber_loss", input, target, "target")
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    return _reduce(_huber(input, target, delta=float(delta)), reduction)


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):  # noqa: A002 - PyTorch's name
    """Smooth L1: ``huber(d, beta) / beta`` (``beta = 0``: L1), PyTorch's ``F.smooth_l1_loss``.

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet.ops.losses_extra import smooth_l1_loss
    >>> smooth_l1_loss(np.array([0.5, 3.0]), np.zeros(2), reduction="none")
    array([0.125, 2.5  ])
    """
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    if beta == 0:
        return l1_loss(input, target, reduction)
    _check_reduction(reduction)
    _check_same_shape("smooth_l1_loss", input, target, "target")
    return _reduce(_huber(input, target, delta=float(beta)) * (1.0 / beta), reduction)


__all__ = ["huber_loss", "l1_loss", "nll_loss", "smooth_l1_loss"]
