"""Scale-out: Newton logistic and softmax regression on Dask arrays.

Install with ``pip install nablanet[dask]``.

Nothing here is imported by ``import nablanet``; Dask itself loads only when a fit runs.
``fit_newton`` is what ``LogisticRegression.fit`` and ``SoftmaxRegression.fit`` call when
``X`` is a dask array; the readers turn files on disk into dask arrays read block by block.
"""

from nablanet.distributed.files import read_csv, read_npz_shards, read_parquet
from nablanet.distributed.glm import check_row_blocks, fit_newton

__all__ = ["check_row_blocks", "fit_newton", "read_csv", "read_npz_shards", "read_parquet"]
