"""Undo NumPy broadcasting in a cotangent: the one helper every binary rule uses."""

from __future__ import annotations

from nablanet.autodiff.tensor import shape_of


def unbroadcast(g, shape, out_ndim):
    """Sum ``g`` down to ``batch_shape + shape``.

    ``g`` has shape ``batch_shape + out_shape`` where ``out_shape`` (of length
    ``out_ndim``) is ``shape`` broadcast against the other operands.  Axes that
    broadcasting added or stretched from 1 are summed; batch axes are kept.
    """
    gshape = shape_of(g)
    shape = tuple(shape)
    n_batch = len(gshape) - out_ndim
    if len(shape) == out_ndim and gshape[n_batch:] == shape:
        return g  # nothing was broadcast (the common case)
    from nablanet.ops.reductions import sum as reduce_sum
    from nablanet.ops.shape import reshape

    lead = out_ndim - len(shape)
    axes = list(range(n_batch, n_batch + lead))
    offset = n_batch + lead
    stretched = False
    for i, size in enumerate(shape):
        if size == 1 and gshape[offset + i] != 1:
            axes.append(offset + i)
            stretched = True
    if not axes:
        return g
    g = reduce_sum(g, axis=tuple(axes), keepdims=stretched)
    if stretched:
        g = reshape(g, gshape[:n_batch] + shape)
    return g


def batch_ndim(g, ans):
    """Number of leading batch axes that cotangent ``g`` carries over output ``ans``."""
    return len(shape_of(g)) - len(shape_of(ans))
