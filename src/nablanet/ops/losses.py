"""Losses: fused, stable primitives whose VJPs are the notes' closed forms.

Binary cross-entropy is computed from logits (softplus form, claim C1) and
softmax cross-entropy from log-softmax (claims C3 and C7), so neither ever
takes ``log(0)``.  Reductions follow PyTorch: ``'mean'``, ``'sum'``, ``'none'``.
"""

from __future__ import annotations

import numpy as np

from nablanet.autodiff.primitive import Primitive
from nablanet.autodiff.tensor import raw, shape_of
from nablanet.ops._broadcast import unbroadcast
from nablanet.ops.activations import _log_softmax, _sigmoid, _softmax, shift_by_max, softplus
from nablanet.ops.arithmetic import log, maximum
from nablanet.ops.reductions import sum as reduce_sum
from nablanet.ops.shape import reshape

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss, reduction, denominator=None):
    if reduction == "none":
        return loss
    total = reduce_sum(loss)
    if reduction == "sum":
        return total
    count = int(np.prod(shape_of(loss)))
    return total / (count if denominator is None else denominator)


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _check_same_shape(name, a, b, what="targets"):
    if tuple(shape_of(a)) != tuple(shape_of(b)):
        raise ValueError(
            f"{name}: {what} must have the input's shape {tuple(shape_of(a))}, "
            f"got {tuple(shape_of(b))}"
        )


# -- binary cross-entropy ----------------------------------------------------------------
def _bce_logits_impl(z, y):
    z = np.asarray(z)
    if not _all_finite(z):
        return _bce_logits_at_infinity(z, y).astype(z.dtype, copy=False)
    out = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    return out.astype(z.dtype, copy=False)


def _all_finite(a):
    """No inf or NaN in ``a``: two reductions, no temporary, no warning."""
    return a.size == 0 or bool(np.isfinite(np.maximum.reduce(a, axis=None)) and np.isfinite(
        np.minimum.reduce(a, axis=None)))


def _bce_logits_at_infinity(z, y):
    # the limits z -> +inf: (1 - y) * inf (0 for y = 1); z -> -inf: y * inf (0 for y = 0)
    with np.errstate(invalid="ignore"):
        out = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
        up = np.where(y == 1, 0.0, (1 - y) * np.inf)
        down = np.where(y == 0, 0.0, y * np.inf)
    return np.where(np.isposinf(z), up, np.where(np.isneginf(z), down, out))


def _bce_logits_rule(g, ans, needs, z, y):
    # l = softplus(z) - y z  =>  dl/dz = sigma(z) - y (C1),  dl/dy = -z
    dz = g * (_sigmoid(z) - y) if needs[0] else None
    dy = g * -z if needs[1] else None
    return dz, dy


_bce_logits = Primitive("binary_cross_entropy_with_logits", _bce_logits_impl)
_bce_logits.defvjp_joint(_bce_logits_rule, values=(0, 1))


def binary_cross_entropy_with_logits(
    logits, targets, reduction="mean", weight=None, pos_weight=None
):
    """Binary cross-entropy of ``sigmoid(logits)`` against ``targets``, from the logits.

    ``l = -[pos_weight * y log sigma(z) + (1 - y) log(1 - sigma(z))]``, computed as
    ``softplus(z) - y z`` (no log of 0: ``l(z=-1e4, y=1) = 1e4``); its gradient
    in ``z`` is ``sigma(z) - y``.  Claim C1's summed loss is ``reduction='sum'``.

    Parameters
    ----------
    logits : Tensor or array_like
    targets : Tensor or array_like
        Same shape as ``logits``, values in [0, 1].
    reduction : {'mean', 'sum', 'none'}, default 'mean'
    weight : array_like, optional
        Per-element rescaling, broadcast against the loss.
    pos_weight : array_like, optional
        Weight of the positive term, broadcast over the last axis (one per class).

    Returns
    -------
    Tensor or ndarray

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> nb.ops.binary_cross_entropy_with_logits(np.array([-1e4]), np.array([1.0]), 'sum')
    np.float64(10000.0)
    """
    _check_reduction(reduction)
    _check_same_shape("binary_cross_entropy_with_logits", logits, targets)
    if pos_weight is None:
        loss = _bce_logits(logits, targets)
    else:
        loss = _bce_logits_weighted(logits, targets, pos_weight)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _bce_logits_weighted_impl(z, y, w):
    # l = (1 - y) z + c softplus(-z), c = 1 + (w - 1) y: w weighs the positive term
    z = np.asarray(z)
    c = 1 + (np.asarray(w) - 1) * y
    with np.errstate(invalid="ignore"):
        out = (1 - y) * z + c * (np.maximum(-z, 0) + np.log1p(np.exp(-np.abs(z))))
    if not _all_finite(z):
        # the limits: z -> +inf gives (1 - y) inf (0 for y = 1); z -> -inf gives w y inf
        # (0 for y = 0); -z (c - (1 - y)) = -z w y there
        with np.errstate(invalid="ignore"):
            up = np.where(y == 1, 0.0, (1 - y) * np.inf)
            down = np.where(y * w == 0, 0.0, y * w * np.inf)
        out = np.where(np.isposinf(z), up, np.where(np.isneginf(z), down, out))
    return out.astype(z.dtype, copy=False)


def _bce_logits_weighted_rule(g, ans, needs, z, y, w):
    # dl/dz = (1 - y) - c sigma(-z),  dl/dy = -z + (w - 1) softplus(-z),
    # dl/dw = y softplus(-z)  (summed over what w was broadcast to)
    c = 1 + (w - 1) * y
    dz = g * ((1 - y) - c * _sigmoid(-z)) if needs[0] else None
    dy = dw = None
    if needs[1] or needs[2]:
        tail = softplus(-z)
        if needs[1]:
            dy = unbroadcast(g * (-z + (w - 1) * tail), shape_of(y), len(shape_of(ans)))
        if needs[2]:
            dw = unbroadcast(g * (y * tail), shape_of(w), len(shape_of(ans)))
    return dz, dy, dw


_bce_logits_weighted = Primitive("binary_cross_entropy_with_logits_weighted",
                                 _bce_logits_weighted_impl)
_bce_logits_weighted.defvjp_joint(_bce_logits_weighted_rule, values=(0, 1, 2))


def _bce_impl(p, y):
    p = np.asarray(p)
    with np.errstate(divide="ignore"):  # log(0) = -inf, then clamped at -100
        log_p = np.maximum(np.log(p), -100)
        log_q = np.maximum(np.log1p(-p), -100)
    return (-(y * log_p + (1 - y) * log_q)).astype(p.dtype, copy=False)


#: PyTorch's floor of the derivative's denominator (-1e12 at p = 0, y = 1).
_DENOMINATOR_FLOOR = 1e-12


def _bce_rule(g, ans, needs, p, y):
    # dl/dp = (1 - y) / (1 - p) - y / p, each denominator floored at 1e-12 on its own:
    # PyTorch's value where it floors, but exact for the other class (PyTorch floors
    # p (1 - p) whole: at p = 1e-13, y = 0 its dl/dp is 0.1 and d2l/dp2 1e12; here 1 and 1)
    dp = None
    if needs[0]:
        floor = _DENOMINATOR_FLOOR
        dp = g * ((1 - y) / maximum(1 - p, floor) - y / maximum(p, floor))
    # dl/dy = log(1 - p) - log p, each floored at -100
    dy = g * (maximum(log(1 - p), -100.0) - maximum(log(p), -100.0)) if needs[1] else None
    return dp, dy


_bce = Primitive("binary_cross_entropy", _bce_impl)
_bce.defvjp_joint(_bce_rule, values=(0, 1))


def binary_cross_entropy(probs, targets, reduction="mean", weight=None):
    """Binary cross-entropy of probabilities, with PyTorch's clamping of each log at -100.

    Prefer :func:`binary_cross_entropy_with_logits`: it is exact where this one clamps.

    Parameters
    ----------
    probs : Tensor or array_like
        Values in [0, 1].
    targets : Tensor or array_like
        Same shape as ``probs``.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
    weight : array_like, optional

    Returns
    -------
    Tensor or ndarray

    Raises
    ------
    ValueError
        If a probability lies outside [0, 1].

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> nb.ops.binary_cross_entropy(np.array([0.0]), np.array([1.0]))
    np.float64(100.0)
    """
    _check_reduction(reduction)
    _check_same_shape("binary_cross_entropy", probs, targets)
    pv = np.asarray(raw(probs))
    if pv.size and not (np.all(pv >= 0) and np.all(pv <= 1)):
        raise ValueError(
            "binary_cross_entropy: probs must lie in [0, 1], got values in "
            f"[{np.nanmin(pv)}, {np.nanmax(pv)}]; pass logits to "
            "binary_cross_entropy_with_logits instead"
        )
    loss = _bce(probs, targets)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


# -- softmax cross-entropy ---------------------------------------------------------------
def _softmax_ce_impl(z, y):
    log_p = shift_by_max(np.asarray(z), -1)
    if log_p.size:
        log_p -= np.log(np.add.reduce(np.exp(log_p), axis=-1, keepdims=True))
    if _all_finite(log_p):
        terms = y * log_p
    else:
        with np.errstate(invalid="ignore"):  # 0 log 0 = 0: a class of zero weight costs nothing
            terms = np.where(y == 0, 0.0, y * log_p)
    return -np.add.reduce(terms, axis=-1)


def _expand_last(g):
    from nablanet.ops.shape import expand_dims

    return expand_dims(g, -1)


def _softmax_ce_rule(g, ans, needs, z, y):
    # L = -sum_k y_k (z_k - lse z)  =>  dL/dz = p sum(y) - y  (= p - y, C3/C7)
    g = _expand_last(g)
    dz = dy = None
    if needs[0]:
        dz = g * (_softmax(z, axis=-1) * reduce_sum(y, axis=-1, keepdims=True) - y)
    if needs[1]:
        # dL/dy_k = -log p_k
        dy = g * -_log_softmax(z, axis=-1)
    return dz, dy


_softmax_ce = Primitive("softmax_cross_entropy", _softmax_ce_impl)
_softmax_ce.defvjp_joint(_softmax_ce_rule, values=(0, 1))


def _pick(values, labels):
    """values[..., labels] along the last axis, one entry per label."""
    if values.ndim == 2:
        return values[np.arange(len(labels)), labels]  # fancy indexing: no Python helper
    return np.take_along_axis(values, labels[..., None], axis=-1)[..., 0]


def _ce_index_impl(z, labels, denominator=1):
    z = np.asarray(z)
    shifted = shift_by_max(z, -1)
    lse = np.log(np.add.reduce(np.exp(shifted), axis=-1))
    return z.dtype.type(np.add.reduce(lse - _pick(shifted, labels), axis=None) / denominator)


def _one_hot(labels, n_classes, dtype):
    onehot = np.zeros(labels.shape + (n_classes,), dtype=dtype)
    if labels.ndim == 1:
        onehot[np.arange(len(labels)), labels] = 1
    else:
        np.put_along_axis(onehot, labels[..., None], 1, axis=-1)
    return onehot


# a primitive (not differentiated), so that a replayed backward pass rebuilds it
_one_hot_step = Primitive("one_hot", _one_hot, differentiable=False)


def _ce_index_rule(g, ans, needs, z, labels, denominator=1):
    # L = sum_n (lse z_n - z_n[y_n]) / d  =>  dL/dz = (softmax(z) - onehot(y)) / d  (C3/C7)
    z_shape = tuple(shape_of(z))
    onehot = _one_hot_step(labels, z_shape[-1], raw(z).dtype)
    g = reshape(g, tuple(shape_of(g)) + (1,) * len(z_shape))
    return (g * (1.0 / denominator)) * (_softmax(z, axis=-1) - onehot), None


def _ce_index_first_order(g, ans, needs, z, labels, denominator=1):
    # the rule above on plain arrays, in place in the fresh softmax: (p - onehot) g / d
    if z.ndim != 2 or (g.ndim if type(g) is np.ndarray else np.ndim(g)) != 0:
        return None  # (a batch of cotangents: the ordinary rule)
    p = shift_by_max(z, -1)
    np.exp(p, out=p)
    p /= np.add.reduce(p, axis=-1, keepdims=True)
    p[np.arange(len(labels)), labels] -= 1
    p *= p.dtype.type(g / denominator)
    return p, None


_ce_index = Primitive("softmax_cross_entropy_index", _ce_index_impl)
_ce_index.defvjp_joint(_ce_index_rule, values=(0,))
_ce_index.defvjp_inplace(_ce_index_first_order, needs_exclusive=False)


def _plain_labels_impl(labels, shape, ignore_index):
    """The labels as an integer array when every one is a valid class index, else None."""
    if labels.dtype.kind not in "iu" or labels.shape != shape[:-1] or labels.size == 0:
        return None
    low, high = np.minimum.reduce(labels, axis=None), np.maximum.reduce(labels, axis=None)
    if low < 0 or high >= shape[-1] or (low <= ignore_index <= high and np.any(
            labels == ignore_index)):
        return None
    return labels


# a guard: whether the fused path applies depends on the labels' values
_plain_labels_guard = Primitive(
    "class_index_labels", _plain_labels_impl, differentiable=False, guard=True
)


def _plain_labels(target, shape, ignore_index):
    """The labels as an integer array when every one is a valid class index, else None."""
    return _plain_labels_guard(np.asarray(raw(target)), shape, ignore_index)


def _index_targets_impl(labels, n_classes, ignore_index, dtype, expected_shape):
    # one-hot targets, the mask of counted labels, safe indices and their count (in the
    # logits' dtype, a divisor); a primitive so that a replayed step rebuilds them
    if labels.shape != expected_shape:
        raise ValueError(
            f"cross_entropy: class-index target must have shape {expected_shape}, "
            f"got {labels.shape}"
        )
    valid = labels != ignore_index
    bad = valid & ((labels < 0) | (labels >= n_classes))
    if np.any(bad):
        raise ValueError(
            f"cross_entropy: class labels must lie in [0, {n_classes - 1}] for {n_classes} "
            f"classes, got {labels[bad][:5].tolist()}"
        )
    onehot = np.zeros(labels.shape + (n_classes,), dtype=dtype)
    safe = np.where(valid, labels, 0)
    np.put_along_axis(onehot, safe[..., None], 1, axis=-1)
    onehot *= valid[..., None]
    return onehot, valid, safe, np.array(np.count_nonzero(valid), dtype=dtype)


_index_targets_step = Primitive("class_index_targets", _index_targets_impl, differentiable=False)


def _index_targets(target, n_classes, ignore_index, dtype, expected_shape):
    return _index_targets_step(np.asarray(raw(target)), n_classes, ignore_index, dtype,
                               expected_shape)


def cross_entropy(
    logits, target, reduction="mean", weight=None, label_smoothing=0.0, ignore_index=-100
):
    """Softmax cross-entropy ``-sum_k y_k log softmax(z)_k`` over the last axis.

    Its gradient in the logits is ``softmax(z) - y`` (claims C3, C7), computed in
    one fused primitive; its Hessian is ``diag(p) - p p^T``.

    Parameters
    ----------
    logits : Tensor or array_like
        Shape ``(N, C)`` or ``(C,)``.
    target : array_like or Tensor
        Class indices (integers, shape ``(N,)`` or ``()``) or probabilities
        (floats, the logits' shape).
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        With class indices and ``weight``, 'mean' divides by the summed weights
        of the targets (PyTorch).
    weight : array_like, optional
        One weight per class.
    label_smoothing : float, default 0.0
        Mixes the target with the uniform distribution: ``(1 - s) y + s / C``.
    ignore_index : int, default -100
        Class-index targets equal to it contribute nothing (and do not count in the mean).

    Returns
    -------
    Tensor or ndarray

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> nb.ops.cross_entropy(np.array([[0.0, 0.0]]), np.array([1]))
    np.float64(0.6931471805599453)
    """
    _check_reduction(reduction)
    shape = tuple(shape_of(logits))
    if len(shape) not in (1, 2):
        raise ValueError(f"cross_entropy: logits must have shape (N, C) or (C,), got {shape}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must lie in [0, 1], got {label_smoothing}")
    dtype = np.asarray(raw(logits)).dtype
    if dtype.kind != "f":
        dtype = np.dtype(np.float64)  # integer logits are promoted (nablanet.autodiff.primitive)
    n_classes = shape[-1]
    if reduction != "none" and weight is None and not label_smoothing:
        labels = _plain_labels(target, shape, ignore_index)
        if labels is not None:
            # the common case in one fused primitive: no one-hot, no separate mean
            count = labels.size if reduction == "mean" else 1
            return _ce_index(logits, labels, denominator=count)
    target_kind = np.asarray(raw(target)).dtype.kind
    denominator = None
    if target_kind in "iub":
        y, valid, labels, count = _index_targets(target, n_classes, ignore_index, dtype,
                                                 shape[:-1])
        if label_smoothing:
            uniform = valid[..., None].astype(dtype) * (label_smoothing / n_classes)
            y = y * (1 - label_smoothing) + uniform
        if weight is not None:
            denominator = reduce_sum(weight[labels] * valid) if count else 1.0
            weight_rows = weight
        else:
            denominator = count
            weight_rows = None
    elif target_kind == "f":
        _check_same_shape("cross_entropy", logits, target, "probability targets")
        y = target
        if label_smoothing:
            y = y * (1 - label_smoothing) + label_smoothing / n_classes
        weight_rows = weight
    else:
        raise TypeError(
            f"cross_entropy: target must be class indices (integers) or probabilities "
            f"(floats), got dtype {np.asarray(raw(target)).dtype}"
        )
    if weight_rows is not None:
        y = y * weight_rows
    loss = _softmax_ce(logits, y)
    return _reduce(loss, reduction, denominator)


def mse_loss(input, target, reduction="mean"):  # noqa: A002 - PyTorch's argument name
    """Mean squared error ``(input - target)^2``, reduced.

    Parameters
    ----------
    input, target : Tensor or array_like
        Same shape.
    reduction : {'mean', 'sum', 'none'}, default 'mean'

    Returns
    -------
    Tensor or ndarray

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> nb.ops.mse_loss(np.array([1.0, 3.0]), np.array([0.0, 0.0]))
    np.float64(5.0)
    """
    _check_reduction(reduction)
    _check_same_shape("mse_loss", input, target, "target")
    diff = input - target
    return _reduce(diff * diff, reduction)


__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "mse_loss",
]
