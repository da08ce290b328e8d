"""Layer normalisation as a fused primitive with its derived backward, ``linear`` on
``(*, in)`` input, and ``embedding``.

Over the trailing axes A (``normalized_shape``, n values per sample)::

    xhat = (x - mean_A x) * r,   r = 1 / sqrt(var_A x + eps)   (biased variance)
    y    = xhat * w + b

The statistics come from a non-differentiable primitive, so that a replayed training
step (:class:`nablanet.optim.TrainStep`) recomputes them; the backward rule is written in
nablanet ops and, when a second derivative is being recorded, re-derives xhat and r from
``x`` with ops too, so every order works.
"""

from __future__ import annotations

import numpy as np

from nablanet.autodiff.primitive import Primitive
from nablanet.autodiff.tensor import Tensor, raw, shape_of
from nablanet.ops.arithmetic import sqrt
from nablanet.ops.dense import linear as linear_2d
from nablanet.ops.reductions import mean as reduce_mean
from nablanet.ops.reductions import sum as reduce_sum
from nablanet.ops.shape import reshape


def _statistics_impl(x, axes, eps):
    # one pass per statistic: the mean, the centred values, their mean square
    xv = x if x.dtype.kind == "f" else x.astype(np.float64)
    count = int(np.prod([xv.shape[a] for a in axes]))
    xhat = xv - np.add.reduce(xv, axis=axes, keepdims=True) / count
    var = np.add.reduce(xhat * xhat, axis=axes, keepdims=True) / count
    inv_std = 1 / np.sqrt(var + eps)
    xhat *= inv_std
    return inv_std, xhat


_statistics = Primitive("layer_norm_statistics", _statistics_impl, differentiable=False)


def _layer_norm_impl(x, weight, bias, inv_std, xhat, axes=(-1,), eps=1e-5):
    out = xhat * weight if weight is not None else xhat.copy()
    if bias is not None:
        out += bias
    return out


def _normalised(x, inv_std, xhat, axes, eps):
    """xhat and r: the saved ones, or re-derived with ops from a traced x (second order)."""
    if isinstance(x, Tensor) and x.requires_grad:
        centred = x - reduce_mean(x, axis=axes, keepdims=True)
        inv = 1 / sqrt(reduce_mean(centred * centred, axis=axes, keepdims=True) + eps)
        return centred * inv, inv
    return raw(xhat), raw(inv_std)


def _layer_norm_rule(g, ans, needs, x, weight, bias, inv_std, xhat, axes=(-1,), eps=1e-5):
    xhat, inv = _normalised(x, inv_std, xhat, axes, eps)
    # leading axes of g (its batch axes, then the samples'), summed for w and b
    depth = len(shape_of(g)) - len(shape_of(ans))
    lead = tuple(range(depth, len(shape_of(g)) - len(axes)))
    dx = dweight = dbias = None
    if needs[0]:
        # with gh = g w: dL/dx = r (gh - mean_A gh - xhat mean_A(gh xhat))
        gh = g if weight is None else g * weight
        dx = inv * (gh - reduce_mean(gh, axis=axes, keepdims=True)
                    - xhat * reduce_mean(gh * xhat, axis=axes, keepdims=True))
    if needs[1]:
        # dL/dw = sum over samples of g xhat
        dweight = reduce_sum(g * xhat, axis=lead)
    if needs[2]:
        # dL/db = sum over samples of g
        dbias = reduce_sum(g, axis=lead)
    return dx, dweight, dbias, None, None


_layer_norm = Primitive("layer_norm", _layer_norm_impl)
_layer_norm.defvjp_joint(_layer_norm_rule, values=(0, 1, 2))


def _normalized_axes(x, normalized_shape, where):
    shape = tuple(shape_of(x))
    wanted = (normalized_shape,) if np.ndim(normalized_shape) == 0 else tuple(normalized_shape)
    wanted = tuple(int(n) for n in wanted)
    if not wanted or len(shape) < len(wanted) or shape[len(shape) - len(wanted):] != wanted:
        raise ValueError(
            f"{where}: normalized_shape={list(wanted)} expects input of shape "
            f"(*, {', '.join(map(str, wanted))}), got shape {shape}"
        )
    return wanted, tuple(range(-len(wanted), 0))


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing ``normalized_shape`` axes: ``(x - mean) / sqrt(var + eps)``.

    The variance is the biased one (divided by the count), as PyTorch's; then
    ``* weight + bias`` when given (each of shape ``normalized_shape``).

    Parameters
    ----------
    x : Tensor or array_like, shape (*, *normalized_shape)
    normalized_shape : int or tuple of int
    weight, bias : Tensor or array_like, optional
    eps : float, default 1e-5

    Returns
    -------
    Tensor or ndarray, the shape of ``x``

    Raises
    ------
    ValueError
        When the trailing shape of ``x`` or the shape of ``weight``/``bias`` differs.

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet.ops.nn_extra import layer_norm
    >>> layer_norm(np.array([[1.0, 3.0]]), 2, eps=0.0)
    array([[-1.,  1.]])
    """
    wanted, axes = _normalized_axes(x, normalized_shape, "layer_norm")
    for name, value in (("weight", weight), ("bias", bias)):
        if value is not None and tuple(shape_of(value)) != wanted:
            raise ValueError(
                f"layer_norm: {name} must have shape {wanted}, got {tuple(shape_of(value))}"
            )
    inv_std, xhat = _statistics(np.asarray(raw(x)), axes, float(eps))
    return _layer_norm(x, weight, bias, inv_std, xhat, axes=axes, eps=float(eps))


# -- linear on any leading shape -----------------------------------------------------------
def linear(x, weight, bias=None):
    """``x W^T + b`` for ``x`` of shape ``(*, in)`` (PyTorch's ``F.linear``).

    Leading axes are flattened into rows for the fused 2-D primitive and restored
    after: ``(in,) -> (out,)``, ``(N, in) -> (N, out)``, ``(A, B, in) -> (A, B, out)``.

    Parameters
    ----------
    x : Tensor or array_like, shape (*, in)
    weight : Tensor or array_like, shape (out, in)
    bias : Tensor or array_like, shape (out,), optional

    Returns
    -------
    Tensor or ndarray, shape (*, out)

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet.ops.nn_extra import linear
    >>> linear(np.ones((2, 3, 4)), np.ones((5, 4))).shape
    (2, 3, 5)
    """
    x_shape, w_shape = tuple(shape_of(x)), tuple(shape_of(weight))
    if len(x_shape) == 2:
        return linear_2d(x, weight, bias)
    if len(w_shape) != 2:
        raise ValueError(f"linear: weight must be 2-D (out, in), got shape {w_shape}")
    if not x_shape or x_shape[-1] != w_shape[1]:
        raise ValueError(
            f"linear: expected input of shape (*, {w_shape[1]}), got shape {x_shape}"
        )
    rows = reshape(x, (-1, w_shape[1]))
    return reshape(linear_2d(rows, weight, bias), (*x_shape[:-1], w_shape[0]))




# -- embedding ---------------------------------------------------------------------------------
def _keep_impl(indices, padding_idx):
    return (np.asarray(indices) != padding_idx)[..., None]


# which looked-up rows train: a primitive, so a replayed backward recomputes it
_keep_mask = Primitive("embedding_keep_mask", _keep_impl, differentiable=False)


def _embedding_impl(weight, indices, padding_idx=None):
    return np.take(weight, indices, axis=0)


def _embedding_rule(g, ans, needs, weight, indices, padding_idx=None):
    from nablanet.ops.shape import index_add

    depth = len(shape_of(g)) - len(shape_of(ans))
    if padding_idx is not None:
        g = g * _keep_mask(indices, padding_idx)  # the padding row gets no gradient
    # out[..., j, :] = W[indices[...], :]  =>  dL/dW[v] = sum of g where indices == v
    return index_add(g, (raw(indices),), tuple(shape_of(weight)), depth), None


_embedding = Primitive("embedding", _embedding_impl)
_embedding.defvjp_joint(_embedding_rule)


def embedding(indices, weight, padding_idx=None):
    """Rows of ``weight`` at integer ``indices`` (PyTorch's ``F.embedding``).

    Parameters
    ----------
    indices : array_like of int, any shape
        Each in ``[0, num_embeddings)``.
    weight : Tensor or array_like, shape (num_embeddings, embedding_dim)
    padding_idx : int, optional
        That row receives no gradient.

    Returns
    -------
    Tensor or ndarray, shape ``indices.shape + (embedding_dim,)``

    Raises
    ------
    TypeError
        Non-integer indices.
    IndexError
        An index outside ``[0, num_embeddings)`` (NumPy would wrap negative ones).

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet.ops.nn_extra import embedding
    >>> embedding(np.array([[2, 0]]), np.arange(6.0).reshape(3, 2))
    array([[[4., 5.],
            [0., 1.]]])
    """
    idx = np.asarray(raw(indices))
    n_rows = tuple(shape_of(weight))[0]
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= n_rows):
        bad = idx[(idx < 0) | (idx >= n_rows)][:5].tolist()
        raise IndexError(f"embedding: indices must lie in [0, {n_rows - 1}], got {bad}")
    return _embedding(weight, idx, padding_idx=padding_idx)


__all__ = ["embedding", "layer_norm", "linear"]
