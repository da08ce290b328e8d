"""Batch normalisation (claim C2): a fused primitive with the closed-form backward.

Training mode normalises with the batch mean and biased variance,
``xhat = (x - mu) / sqrt(var + eps)``, ``y = gamma xhat + beta``, and updates
the running statistics in place as PyTorch does.  The backward rule is the
notes' formula, written in nablanet ops so that it can be differentiated again.
"""

from __future__ import annotations

import numpy as np

from nablanet.autodiff.primitive import Primitive
from nablanet.autodiff.tensor import Tensor, _record_write, raw, shape_of
from nablanet.ops.arithmetic import sqrt
from nablanet.ops.reductions import accurate_sum
from nablanet.ops.reductions import mean as reduce_mean
from nablanet.ops.reductions import sum as reduce_sum
from nablanet.ops.shape import reshape


def _batch_norm_impl(x, weight, bias, inv_std, xhat, eps=1e-5):
    # xhat = (x - mean) / sqrt(var + eps) was computed with the statistics and is saved
    out = xhat * weight if weight is not None else xhat.copy()
    if bias is not None:
        out += bias
    return out


def _normalised(x, inv_std, xhat, eps):
    """xhat and 1/sqrt(var + eps): the saved ones, or re-derived from a traced x."""
    if isinstance(x, Tensor) and x.requires_grad:
        centred = x - reduce_mean(x, axis=0)
        inv = 1 / sqrt(reduce_mean(centred * centred, axis=0) + eps)
        return centred * inv, inv
    return raw(xhat), raw(inv_std)


def _drop_row_axis(s):
    """(..., 1, C) -> (..., C)."""
    shape = shape_of(s)
    return reshape(s, tuple(shape[:-2]) + tuple(shape[-1:]))


def _batch_norm_rule(g, ans, needs, x, weight, bias, inv_std, xhat, eps=1e-5):
    xhat, inv = _normalised(x, inv_std, xhat, eps)
    n = shape_of(g)[-2]
    dx = dweight = dbias = None
    g_sum = reduce_sum(g, axis=-2, keepdims=True)
    gx_sum = reduce_sum(g * xhat, axis=-2, keepdims=True) if needs[0] or needs[1] else None
    if needs[0]:
        # C2: dL/dx = (gamma / sqrt(var + eps)) (g - mean(g) - xhat mean(g xhat))
        scale = inv if weight is None else weight * inv
        dx = scale * (g - g_sum * (1.0 / n) - xhat * (gx_sum * (1.0 / n)))
    if needs[1]:
        # dL/dgamma = sum_n g xhat
        dweight = _drop_row_axis(gx_sum)
    if needs[2]:
        # dL/dbeta = sum_n g
        dbias = _drop_row_axis(g_sum)
    return dx, dweight, dbias, None, None


def _batch_norm_inplace(g, ans, needs, x, weight, bias, inv_std, xhat, eps=1e-5):
    # the rule above for a first-order pass, dL/dx written into g's buffer (C2)
    if g.ndim != 2 or xhat.dtype != g.dtype or (weight is not None and weight.dtype != g.dtype):
        return None
    n = g.shape[0]
    g_sum = accurate_sum(g, axis=0)
    accumulate = np.float64 if n > _SEQUENTIAL_ROWS and g.dtype.itemsize < 8 else None
    gx_sum = np.einsum("ij,ij->j", g, xhat, dtype=accumulate).astype(g.dtype, copy=False)
    dx = None
    if needs[0]:
        g -= g_sum * (1.0 / n)
        g -= xhat * (gx_sum * (1.0 / n))
        g *= inv_std if weight is None else weight * inv_std
        dx = g
    return dx, gx_sum if needs[1] else None, g_sum if needs[2] else None, None, None


_batch_norm = Primitive("batch_norm", _batch_norm_impl)
_batch_norm.defvjp_joint(_batch_norm_rule, values=(0, 1, 2))
_batch_norm.defvjp_inplace(_batch_norm_inplace)


def _check_shapes(x, running_mean, running_var, weight, bias):
    shape = tuple(shape_of(x))
    if len(shape) != 2:
        raise ValueError(f"batch_norm: expected 2-D input of shape (N, C), got shape {shape}")
    n_features = shape[1]
    expected = (n_features,)
    for name, value in (
        ("running_mean", running_mean), ("running_var", running_var),
        ("weight", weight), ("bias", bias),
    ):
        if value is not None and tuple(shape_of(value)) != expected:
            raise ValueError(
                f"batch_norm: {name} must have shape ({n_features},) for input of shape "
                f"{shape}, got {tuple(shape_of(value))}"
            )


def _update_running(running_mean, running_var, mean, var, n, factor):
    """PyTorch's update: stat <- (1 - factor) stat + factor * batch stat (unbiased var)."""
    if running_mean is not None:
        rm = raw(running_mean)
        rm *= 1 - factor
        rm += factor * mean
        _record_write(rm)  # an eval-mode graph that read the old statistics must refuse
    if running_var is not None and n > 1:
        rv = raw(running_var)
        rv *= 1 - factor
        rv += (factor * n / (n - 1)) * var
        _record_write(rv)


def batch_norm(
    x,
    running_mean,
    running_var,
    weight=None,
    bias=None,
    training=False,
    momentum=0.1,
    eps=1e-5,
    num_batches_tracked=None,
):
    """Batch normalisation of ``(N, C)`` input (PyTorch's ``F.batch_norm``).

    Training: ``y = gamma (x - mu) / sqrt(var + eps) + beta`` with batch mean and
    biased variance, and the running statistics updated **in place**::

        running_mean <- (1 - momentum) * running_mean + momentum * mu
        running_var  <- (1 - momentum) * running_var  + momentum * var * N / (N - 1)

    (``momentum`` is the weight of the new batch; ``momentum=None`` uses
    ``1 / num_batches_tracked``, a cumulative average).  Evaluation uses the
    running statistics.  The input gradient sums to zero over the batch (C2).
    With ``N = 1`` in training the output is ``beta`` whatever the input and the
    gradient is zero; the running variance is then left unchanged (its unbiased
    estimate is undefined).  :class:`nablanet.nn.BatchNorm1d` raises instead.

    Parameters
    ----------
    x : Tensor or array_like, shape (N, C)
    running_mean, running_var : ndarray or Tensor, shape (C,), or None
        Updated in place in training mode.
    weight, bias : Tensor or array_like, shape (C,), optional
        gamma and beta (1 and 0 when omitted).
    training : bool, default False
    momentum : float or None, default 0.1
    eps : float, default 1e-5
    num_batches_tracked : int, optional
        Batches seen including this one; needed when ``momentum`` is None.

    Returns
    -------
    Tensor or ndarray, shape (N, C)

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> rm, rv = np.zeros(1), np.ones(1)
    >>> nb.ops.batch_norm(np.array([[1.0], [3.0]]), rm, rv, training=True, eps=0.0)
    array([[-1.],
           [ 1.]])
    >>> rm, rv
    (array([0.2]), array([1.1]))
    """
    _check_shapes(x, running_mean, running_var, weight, bias)
    if training and shape_of(x)[0] == 0:
        raise ValueError(
            "batch_norm: training needs at least one row for the batch statistics, got an "
            f"empty batch of shape {tuple(shape_of(x))} (the running statistics would be NaN)"
        )
    if training:
        return _batch_norm_train(
            x, running_mean, running_var, weight, bias, momentum, eps, num_batches_tracked
        )
    if running_mean is None or running_var is None:
        raise ValueError(
            "batch_norm: evaluation mode needs running_mean and running_var; "
            "pass training=True to normalise with the batch statistics"
        )
    inv_std = _inverse_std(raw(running_var), eps)
    out = (x - raw(running_mean)) * inv_std
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


#: Rows a float32 batch statistic sums in its own precision (relative error ~ rows * 6e-8).
_SEQUENTIAL_ROWS = 1024


def batch_statistics(xv, eps):
    """Batch mean, biased variance, 1/sqrt(var + eps) and xhat of a plain (N, C) array."""
    n = xv.shape[0]
    # two passes (mean, then the centred sum of squares, no squared temporary); for many
    # float32 rows both accumulate in float64, as NumPy sums rows sequentially
    wide = n > _SEQUENTIAL_ROWS and xv.dtype.itemsize < 8
    accumulate = np.float64 if wide else None
    mean = np.add.reduce(xv, axis=0, dtype=accumulate)
    mean /= n
    mean = mean.astype(xv.dtype, copy=False)
    xhat = xv - mean
    var = np.einsum("ij,ij->j", xhat, xhat, dtype=accumulate)
    var /= n
    var = var.astype(xv.dtype, copy=False)
    inv_std = 1 / np.sqrt(var + eps)
    xhat *= inv_std
    return mean, var, inv_std, xhat


def _training_statistics_impl(x, running_mean, running_var, momentum, eps, tracked=None,
                              counter=None):
    # one batch's inv_std and xhat, and its effects: the batch counter (when given) and
    # the running statistics, updated in place, so that a replayed step repeats them
    xv = x if x.dtype.kind == "f" else x.astype(np.float64)
    if counter is not None:
        counter += 1
        tracked = int(counter)
    mean, var, inv_std, xhat = batch_statistics(xv, eps)
    if momentum is None:
        if not tracked:
            raise ValueError(
                "batch_norm: momentum=None (cumulative average) needs num_batches_tracked >= 1"
            )
        factor = 1.0 / tracked
    else:
        factor = float(momentum)
    _update_running(running_mean, running_var, mean, var, xv.shape[0], factor)
    return inv_std, xhat


_training_statistics = Primitive(
    "batch_norm_statistics", _training_statistics_impl, differentiable=False
)


def _batch_norm_train(x, running_mean, running_var, weight, bias, momentum, eps, tracked,
                      counter=None):
    """Training-mode batch norm; ``counter`` (a 0-d array) is incremented first if given."""
    inv_std, xhat = _training_statistics(
        np.asarray(raw(x)), raw(running_mean), raw(running_var), momentum, eps,
        tracked=tracked, counter=counter,
    )
    return _batch_norm(x, weight, bias, inv_std, xhat, eps=float(eps))


_inverse_std = Primitive(
    "inverse_std", lambda var, eps: 1 / np.sqrt(var + eps), differentiable=False
)


__all__ = ["batch_norm"]
