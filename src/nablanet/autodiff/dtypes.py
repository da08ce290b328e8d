"""The default floating dtype of new layers (PyTorch's ``set_default_dtype``).

nablanet's default is float64 (exact checks need it); ``set_default_dtype(np.float32)``
makes layers built afterwards (``nn.Linear``, ``nn.LayerNorm``, ...) hold float32
parameters unless they are given ``dtype=``.  One setting for the process, as in
PyTorch: it is not per thread.
"""

from __future__ import annotations

import numpy as np

#: The dtypes a default may be: the floating types the engine computes in.
ALLOWED = (np.dtype(np.float32), np.dtype(np.float64))

_default = [np.dtype(np.float64)]


def _as_float_dtype(dtype, where):
    try:
        resolved = None if dtype is None else np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved is None or resolved not in ALLOWED:
        raise TypeError(
            f"{where}: expected a floating dtype, float32 or float64 (np.float32, "
            f"'float64', ...), got {dtype!r}"
        )
    return resolved


def set_default_dtype(dtype):
    """Set the dtype of the parameters of layers built from now on.

    Parameters
    ----------
    dtype : numpy dtype or str
        ``np.float32`` or ``np.float64`` (nablanet's default).

    Raises
    ------
    TypeError
        For any other dtype (integers, float16, complex): a layer's parameters must be a
        floating type the engine computes in.

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> from nablanet import nn
    >>> nb.set_default_dtype(np.float32)
    >>> nn.Linear(2, 1).weight.dtype
    dtype('float32')
    >>> nb.set_default_dtype(np.float64)
    """
    _default[0] = _as_float_dtype(dtype, "set_default_dtype")


def get_default_dtype():
    """The dtype new layers' parameters get when not given ``dtype=`` (float64 unless set).

    Returns
    -------
    numpy.dtype

    Examples
    --------
    >>> import nablanet as nb
    >>> nb.get_default_dtype()
    dtype('float64')
    """
    return _default[0]


def resolve_dtype(dtype, where="dtype"):
    """``dtype`` as a float32/float64 ``numpy.dtype``, or the default when it is None.

    Parameters
    ----------
    dtype : numpy dtype, str or None
    where : str
        The caller's name, for the error message.

    Returns
    -------
    numpy.dtype
    """
    return _default[0] if dtype is None else _as_float_dtype(dtype, where)


__all__ = ["get_default_dtype", "resolve_dtype", "set_default_dtype"]
