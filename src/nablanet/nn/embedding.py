"""``Embedding``: a lookup table of trainable rows (PyTorch's)."""

from __future__ import annotations

import numpy as np

from nablanet.autodiff.dtypes import resolve_dtype
from nablanet.nn.module import Module, Parameter
from nablanet.ops.nn_extra import embedding


class Embedding(Module):
    """Rows of ``weight`` (``num_embeddings`` by ``embedding_dim``) looked up by index.

    Initialised ``N(0, 1)`` as PyTorch, with the ``padding_idx`` row zero; that row gets
    no gradient.  Not replayed by :class:`nablanet.optim.TrainStep` (the index range is
    checked in Python for each batch), so a step with it runs eagerly.

    Parameters
    ----------
    num_embeddings, embedding_dim : int
    padding_idx : int, optional
        Negative values count from the end, as PyTorch.
    generator : numpy.random.Generator, optional
    dtype : numpy dtype, optional
        :func:`nablanet.get_default_dtype` (float64 unless set) when omitted.

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> table = nn.Embedding(10, 3, padding_idx=0, generator=np.random.default_rng(0))
    >>> table(np.array([[1, 0, 4]])).shape
    (1, 3, 3)
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, generator=None,
                 dtype=None, max_norm=None):
        super().__init__()
        if max_norm is not None:
            raise NotImplementedError("Embedding: max_norm is not supported")
        if num_embeddings < 1 or embedding_dim < 1:
            raise ValueError(f"Embedding needs positive sizes, got {num_embeddings}, "
                             f"{embedding_dim}")
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx must lie in [-{num_embeddings}, "
                                 f"{num_embeddings - 1}], got {padding_idx}")
            padding_idx = padding_idx % num_embeddings
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.padding_idx = padding_idx
        rng = np.random.default_rng() if generator is None else generator
        rows = rng.standard_normal((num_embeddings, embedding_dim))
        if padding_idx is not None:
            rows[padding_idx] = 0
        self.weight = Parameter(rows.astype(resolve_dtype(dtype, "Embedding")))

    def forward(self, indices):
        """``weight[indices]``: shape ``indices.shape + (embedding_dim,)``."""
        return embedding(indices, self._parameters["weight"], self.padding_idx)

    def extra_repr(self):
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"
