"""``nn.utils``: gradient clipping and flat parameter vectors (PyTorch's names)."""

from __future__ import annotations

import warnings

import numpy as np

from nablanet.autodiff.tensor import Tensor


def _with_grads(parameters):
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p for p in params if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale the gradients so that their joint ``norm_type``-norm is at most ``max_norm``.

    As PyTorch: the norm of all gradients viewed as one vector; each is multiplied by
    ``min(max_norm / (norm + 1e-6), 1)``.

    Parameters
    ----------
    parameters : iterable of Tensor, or a Tensor
    max_norm : float
    norm_type : float, default 2.0
        ``float('inf')`` for the largest absolute entry.
    error_if_nonfinite : bool, default False
        Raise when the norm is nan or inf; otherwise the gradients are scaled by it anyway
        (as PyTorch) and a RuntimeWarning says so.

    Returns
    -------
    Tensor
        The norm before clipping (0-d).

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> from nablanet import nn
    >>> w = nn.Parameter(np.zeros(2))
    >>> w.grad = nb.tensor([3.0, 4.0])
    >>> float(nn.utils.clip_grad_norm_([w], 1.0)), np.round(w.grad.numpy(), 6).tolist()
    (5.0, [0.6, 0.8])
    """
    params = _with_grads(parameters)
    norm_type = float(norm_type)
    if not params:
        return Tensor(np.array(0.0))
    grads = [p.grad.data for p in params]
    norms = np.array([np.linalg.norm(g.ravel(), norm_type) for g in grads])
    total = np.linalg.norm(norms, norm_type)
    if not np.isfinite(total):
        message = (f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
                   f"{total}, so they cannot be clipped")
        if error_if_nonfinite:
            raise RuntimeError(message)
        warnings.warn(message + "; they are scaled by it anyway (as PyTorch)", RuntimeWarning,
                      stacklevel=2)
    coef = min(max_norm / (total + 1e-6), 1.0)
    with np.errstate(invalid="ignore"):  # inf * 0 when the norm was inf: warned above
        for p, g in zip(params, grads, strict=True):
            p.grad = Tensor(g * g.dtype.type(coef))
    return Tensor(np.asarray(total, dtype=grads[0].dtype))


def clip_grad_value_(parameters, clip_value):
    """Clip every gradient entry to ``[-clip_value, clip_value]`` (PyTorch's).

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> from nablanet import nn
    >>> w = nn.Parameter(np.zeros(2))
    >>> w.grad = nb.tensor([3.0, -0.5])
    >>> nn.utils.clip_grad_value_([w], 1.0)
    >>> w.grad.numpy()
    array([ 1. , -0.5])
    """
    clip_value = float(clip_value)
    for p in _with_grads(parameters):
        p.grad = Tensor(np.clip(p.grad.data, -clip_value, clip_value))


def parameters_to_vector(parameters):
    """All parameters flattened and joined into one vector (differentiable).

    Examples
    --------
    >>> from nablanet import nn
    >>> nn.utils.parameters_to_vector(nn.Linear(3, 2).parameters()).shape
    (8,)
    """
    from nablanet.ops.shape import concatenate, reshape

    return concatenate([reshape(p, (-1,)) for p in parameters])


def vector_to_parameters(vec, parameters):
    """Copy the entries of ``vec`` into the parameters, in order (in place).

    Raises
    ------
    ValueError
        When ``vec`` is not 1-D or its length differs from the parameters' total size.

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> layer = nn.Linear(3, 2)
    >>> nn.utils.vector_to_parameters(np.zeros(8), layer.parameters())
    >>> float(np.abs(layer.weight.numpy()).sum())
    0.0
    """
    values = np.asarray(vec.data if isinstance(vec, Tensor) else vec)
    params = list(parameters)
    total = sum(p.data.size for p in params)
    if values.ndim != 1 or values.size != total:
        raise ValueError(f"vector_to_parameters: expected a vector of {total} entries, "
                         f"got shape {values.shape}")
    start = 0
    for p in params:
        p.data[...] = values[start:start + p.data.size].reshape(p.data.shape)
        p._bump_version()
        start += p.data.size


__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector",
           "vector_to_parameters"]
