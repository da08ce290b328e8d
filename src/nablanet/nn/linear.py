"""``Linear``, the affine layer ``y = x W^T + b`` with PyTorch's default initialisation,
and ``Identity``."""

from __future__ import annotations

import math

import numpy as np

from nablanet.autodiff.dtypes import resolve_dtype
from nablanet.nn.module import Module, Parameter, check_dtype
from nablanet.ops.dense import linear as linear_2d
from nablanet.ops.nn_extra import linear


class Linear(Module):
    """Affine layer ``y = x W^T + b``; ``weight`` is stored ``(out_features, in_features)``.

    Initialisation is PyTorch's default, Kaiming-uniform with ``a = sqrt(5)``,
    which is ``U(-1/sqrt(in_features), 1/sqrt(in_features))`` for the weight and
    the same interval for the bias, drawn from ``generator``.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool, default True
    generator : numpy.random.Generator, optional
        Source of the initial values; a fresh unseeded ``default_rng()`` when omitted.
    dtype : numpy dtype, optional
        float32 or float64; :func:`nablanet.get_default_dtype` (float64 unless set)
        when omitted.

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> layer = nn.Linear(3, 2, generator=np.random.default_rng(0))
    >>> layer.weight.shape, layer(np.ones((5, 3))).shape
    ((2, 3), (5, 2))
    >>> layer(np.ones((4, 5, 3))).shape  # any leading axes, as PyTorch
    (4, 5, 2)
    """

    replayable = True

    def __init__(self, in_features, out_features, bias=True, generator=None, dtype=None):
        super().__init__()
        dtype = resolve_dtype(dtype, "Linear")
        if in_features < 1 or out_features < 1:
            raise ValueError(
                f"Linear needs positive sizes, got in_features={in_features}, "
                f"out_features={out_features}"
            )
        rng = np.random.default_rng() if generator is None else generator
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        bound = 1.0 / math.sqrt(in_features)
        self.weight = Parameter(
            rng.uniform(-bound, bound, (out_features, in_features)).astype(dtype)
        )
        if bias:
            self.bias = Parameter(rng.uniform(-bound, bound, out_features).astype(dtype))
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        """``x W^T + b`` for ``x`` of shape ``(*, in_features)`` (output ``(*, out_features)``).

        Raises TypeError when ``x`` is an array of another dtype than the weights (as
        PyTorch does): NumPy would silently promote a float32 layer to float64.
        """
        params = self._parameters  # one look-up, not two trips through __getattr__
        weight = params["weight"]
        x = check_dtype("Linear", x, weight.data.dtype)
        if len(getattr(x, "shape", ())) == 2:
            return linear_2d(x, weight, params["bias"])
        return linear(x, weight, params["bias"])

    def extra_repr(self):
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Identity(Module):
    """Returns its input unchanged (a placeholder layer); ignores any arguments.

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> x = np.ones(3)
    >>> nn.Identity(54, unused="argument")(x) is x
    True
    """

    replayable = True

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        """``x`` itself."""
        return x
