"""Parameter blocks sliced out of one flat vector (the tests' MLP losses of a vector theta)."""

import numpy as np


def split_flat(theta, shapes):
    """The consecutive blocks of ``theta`` (array or Tensor), reshaped to ``shapes``."""
    parts, start = [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        parts.append(theta[start:start + size].reshape(shape))
        start += size
    return parts
