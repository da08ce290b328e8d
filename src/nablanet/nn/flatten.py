"""``Flatten`` and ``Unflatten``: reshapes of the batch's trailing axes (PyTorch's)."""

from __future__ import annotations

import math

from nablanet.autodiff.tensor import shape_of
from nablanet.nn.module import Module
from nablanet.ops.shape import reshape


def _axis(dim, ndim, where):
    if not -ndim <= dim < ndim:
        raise IndexError(
            f"{where}: dim {dim} is out of range for input with {ndim} dimensions "
            f"(expected in [{-ndim}, {ndim - 1}])"
        )
    return dim + ndim if dim < 0 else dim


class Flatten(Module):
    """Merge axes ``start_dim`` to ``end_dim`` (inclusive) into one.

    Parameters
    ----------
    start_dim : int, default 1
        The batch axis 0 is kept by default.
    end_dim : int, default -1

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> nn.Flatten()(np.ones((2, 3, 4))).shape
    (2, 12)
    """

    replayable = True

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def forward(self, x):
        """``x`` with the axes from ``start_dim`` to ``end_dim`` merged."""
        shape = tuple(shape_of(x))
        ndim = max(len(shape), 1)  # a 0-d input counts as 1-d, as in PyTorch
        start = _axis(self.start_dim, ndim, "Flatten")
        end = _axis(self.end_dim, ndim, "Flatten")
        if start > end:
            raise ValueError(
                f"Flatten: start_dim {self.start_dim} comes after end_dim {self.end_dim} "
                f"for input of shape {shape}"
            )
        if not shape:
            return reshape(x, (1,))
        merged = math.prod(shape[start:end + 1])
        return reshape(x, (*shape[:start], merged, *shape[end + 1:]))

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split axis ``dim`` into ``unflattened_size``.

    Parameters
    ----------
    dim : int
    unflattened_size : tuple of int
        Its product must equal the size of axis ``dim``; one entry may be -1.

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> nn.Unflatten(1, (3, 4))(np.ones((2, 12))).shape
    (2, 3, 4)
    """

    replayable = True

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim = int(dim)
        self.unflattened_size = tuple(int(n) for n in unflattened_size)

    def forward(self, x):
        """``x`` with axis ``dim`` split."""
        shape = tuple(shape_of(x))
        axis = _axis(self.dim, len(shape), "Unflatten")
        sizes = self.unflattened_size
        known = math.prod(n for n in sizes if n != -1)
        if sizes.count(-1) > 1 or (-1 not in sizes and known != shape[axis]) or (
                -1 in sizes and (known == 0 or shape[axis] % known)):
            raise ValueError(
                f"Unflatten: unflattened_size {sizes} does not split axis {self.dim} of "
                f"size {shape[axis]} (input shape {shape})"
            )
        return reshape(x, (*shape[:axis], *sizes, *shape[axis + 1:]))

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
