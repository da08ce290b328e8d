"""Dropout (claim C3) and Gaussian dropout (claim C5): multiplicative noise.

Both are a product of the input with a constant random mask, so their
derivative is the same mask (``upstream * M`` or ``upstream * M / (1 - p)``);
no extra primitive is needed.  Randomness comes only from the
``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

import numpy as np

from nablanet.autodiff.primitive import Primitive
from nablanet.autodiff.tensor import raw, shape_of
from nablanet.ops.arithmetic import multiply


def _float_dtype(x):
    value = raw(x)
    dtype = value.dtype if type(value) is np.ndarray else np.asarray(value).dtype
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def _check_generator(generator):
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError(
            f"generator must be a numpy.random.Generator, got {type(generator).__name__}; "
            "create one with numpy.random.default_rng(seed)"
        )


def _uniform(generator, shape, dtype):
    if generator is None:
        generator = np.random.default_rng()
    if dtype.type is np.float32 or dtype.type is np.float64:
        return generator.random(shape, dtype=dtype)
    return generator.random(shape)


def _scaled_mask_impl(generator, shape, dtype, p, scale):
    # keep with probability 1 - p, survivors scaled; a primitive so that a replayed
    # step draws a fresh mask (generator None: a fresh unseeded one, as eagerly)
    uniform = _uniform(generator, shape, dtype)
    if uniform.dtype == dtype:
        # keep-test and scaling in one pass, into the uniform draws' own buffer
        return np.multiply(uniform >= p, dtype.type(scale), out=uniform)
    mask = (uniform >= p).astype(dtype)
    return mask * scale if scale != 1.0 else mask


_scaled_mask = Primitive("dropout_mask_draw", _scaled_mask_impl, differentiable=False)


def _gaussian_noise_impl(generator, shape, dtype, sigma2):
    # 1 + sqrt(sigma2) * N(0, 1), drawn by a primitive for the same reason as the mask
    if generator is None:
        generator = np.random.default_rng()
    noise = generator.standard_normal(shape, dtype=dtype)
    noise *= np.sqrt(sigma2)
    noise += 1
    return noise


_gaussian_noise = Primitive("gaussian_noise_draw", _gaussian_noise_impl, differentiable=False)


def dropout_mask(shape, p, generator=None, dtype=np.float64):
    """A 0/1 mask keeping each entry with probability ``1 - p``.

    Parameters
    ----------
    shape : tuple of int
    p : float
        Drop probability.
    generator : numpy.random.Generator, optional
        Source of randomness; a fresh unseeded ``default_rng()`` when omitted.
    dtype : numpy dtype, default float64

    Returns
    -------
    ndarray

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> nb.ops.dropout_mask((4,), 0.0, np.random.default_rng(0))
    array([1., 1., 1., 1.])
    """
    dtype = np.dtype(dtype)
    _check_generator(generator)
    shape = tuple(shape) if np.iterable(shape) else (int(shape),)
    return _scaled_mask(generator, shape, dtype, p, 1.0)


def dropout(x, p=0.5, training=True, generator=None, inverted=True, mask=None):
    """Zero each entry with probability ``p``.

    Inverted dropout (default) scales the survivors by ``1 / (1 - p)`` so that
    evaluation is the identity; ``inverted=False`` is the notes' bare 0/1 mask
    ``M`` (claim C3).  The gradient is ``upstream * M`` (times ``1/(1-p)``).

    Parameters
    ----------
    x : Tensor or array_like
    p : float, default 0.5
        Drop probability, in [0, 1].
    training : bool, default True
        False returns ``x`` unchanged.
    generator : numpy.random.Generator, optional
        Source of the mask; a fresh unseeded ``numpy.random.default_rng()`` when
        omitted (pass one for reproducible runs).
    inverted : bool, default True
    mask : array_like, optional
        A fixed 0/1 mask of ``x``'s shape to use instead of drawing one.

    Returns
    -------
    Tensor or ndarray

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> nb.ops.dropout(np.ones(4), 0.5, mask=np.array([1, 0, 1, 0]))
    array([2., 0., 2., 0.])
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must lie in [0, 1], got {p}")
    if not training:
        return x
    dtype = _float_dtype(x)
    scale = 1.0 if not inverted else (0.0 if p == 1.0 else 1.0 / (1.0 - p))
    if mask is None:
        if p == 0.0:
            return x
        _check_generator(generator)
        mask = _scaled_mask(generator, tuple(shape_of(x)), dtype, p, scale)
    else:
        mask = np.asarray(raw(mask)).astype(dtype)
        if mask.shape != tuple(shape_of(x)):
            raise ValueError(
                f"dropout: mask must have the input's shape {tuple(shape_of(x))}, "
                f"got {mask.shape}"
            )
        if inverted:
            mask = mask * scale
    # d (x * M) / dx = M  (C3)
    return multiply(x, mask)


def gaussian_dropout(x, sigma2, training=True, generator=None):
    """Multiply each entry by independent ``Normal(1, sigma2)`` noise (claim C5).

    With ``sigma2 = p / (1 - p)`` the noise has the variance of inverted binary
    dropout with drop probability ``p``.  Evaluation is the identity.

    Parameters
    ----------
    x : Tensor or array_like
    sigma2 : float
        Variance of the noise, >= 0.
    training : bool, default True
    generator : numpy.random.Generator, optional
        A fresh unseeded ``numpy.random.default_rng()`` when omitted.

    Returns
    -------
    Tensor or ndarray

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> nb.ops.gaussian_dropout(np.ones(3), 0.0, generator=np.random.default_rng(0))
    array([1., 1., 1.])
    """
    if not sigma2 >= 0:
        raise ValueError(f"gaussian_dropout: sigma2 must be >= 0, got {sigma2}")
    if not training or sigma2 == 0:
        return x
    _check_generator(generator)
    noise = _gaussian_noise(generator, tuple(shape_of(x)), _float_dtype(x), sigma2)
    # d (x * delta) / dx = delta  (C5)
    return multiply(x, noise)


__all__ = ["dropout", "dropout_mask", "gaussian_dropout"]
