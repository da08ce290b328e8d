"""Data on disk as dask arrays, read chunk by chunk: NPZ shards, Parquet, CSV.

Nothing is read when these functions return (except the small headers needed for
shapes, and for Parquet / CSV the row count of each partition); each row block is
loaded by the task that uses it, so a dataset larger than any worker's memory can be
fitted as long as one block fits.
"""

from __future__ import annotations

import glob
import os
import zipfile

import numpy as np

from nablanet.data.validation import DataError


def _npz_member_header(path, key):
    """Shape and dtype of array ``key`` in an NPZ file, read from its header only."""
    with zipfile.ZipFile(path) as archive:
        name = f"{key}.npy"
        if name not in archive.namelist():
            found = sorted(n.removesuffix(".npy") for n in archive.namelist())
            raise DataError(f"{path} must hold an array named {key!r}, found {found}")
        with archive.open(name) as member:
            version = np.lib.format.read_magic(member)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read_header(member)
    return shape, dtype


def _load_npz_pair(path, x_key, y_key):
    with np.load(path, allow_pickle=False) as archive:
        return archive[x_key], archive[y_key]


def _first(pair):
    return pair[0]


def _second(pair):
    return pair[1]


def _expand_paths(paths):
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    expanded = []
    for path in paths:
        matches = sorted(glob.glob(os.fspath(path)))
        if not matches:
            raise DataError(f"no file matches {os.fspath(path)!r}")
        expanded.extend(matches)
    return expanded


def read_npz_shards(paths, x_key="X", y_key="y"):
    """Lazy ``(X, y)`` dask arrays from NPZ shards, one row block per shard.

    Parameters
    ----------
    paths : str, path or list of them
        Files or glob patterns (sorted), each an NPZ holding ``x_key`` (n_i, d) and
        ``y_key`` (n_i,).
    x_key, y_key : str
        Array names inside each file.

    Returns
    -------
    X : dask.array.Array, shape (sum n_i, d), float
    y : dask.array.Array, shape (sum n_i,)
        Row blocks match shard by shard; each block is read when a task needs it.
    """
    import dask
    import dask.array as da

    x_blocks, y_blocks, n_features = [], [], None
    for path in _expand_paths(paths):
        x_shape, x_dtype = _npz_member_header(path, x_key)
        y_shape, y_dtype = _npz_member_header(path, y_key)
        if len(x_shape) != 2 or len(y_shape) != 1 or x_shape[0] != y_shape[0]:
            raise DataError(f"{path}: {x_key} must be (n, d) and {y_key} (n,) with the same n, "
                            f"got {x_shape} and {y_shape}")
        if n_features is not None and x_shape[1] != n_features:
            raise DataError(f"every shard must have {n_features} features, {path} has "
                            f"{x_shape[1]}")
        n_features = x_shape[1]
        # one task reads both arrays of a shard, so X and y blocks start on the same worker
        # and the task that uses them runs there without moving data between workers
        pair = dask.delayed(_load_npz_pair, pure=True)(path, x_key, y_key)
        x_blocks.append(da.from_delayed(dask.delayed(_first)(pair), x_shape, dtype=x_dtype))
        y_blocks.append(da.from_delayed(dask.delayed(_second)(pair), y_shape, dtype=y_dtype))
    return da.concatenate(x_blocks, axis=0), da.concatenate(y_blocks, axis=0)


def _frame_to_arrays(frame, target, features):
    if target not in frame.columns:
        raise DataError(f"target column {target!r} not found; columns are {list(frame.columns)}")
    features = [c for c in frame.columns if c != target] if features is None else list(features)
    X = frame[features].to_dask_array(lengths=True).astype(np.float64)
    y = frame[target].to_dask_array(lengths=True)
    return X, y


def read_parquet(path, target, features=None, **kwargs):
    """Lazy ``(X, y)`` from Parquet files (one row block per partition); needs
    ``dask[dataframe]`` and pyarrow.

    Parameters
    ----------
    path : str
        File, directory or glob accepted by ``dask.dataframe.read_parquet``.
    target : str
        Label column.
    features : list of str or None
        Feature columns (default: every other column).
    **kwargs
        Passed to ``dask.dataframe.read_parquet``.

    Returns
    -------
    X : dask.array.Array (float64), y : dask.array.Array
        Partition lengths are counted once so that the row blocks are known.
    """
    import dask.dataframe as dd

    return _frame_to_arrays(dd.read_parquet(path, **kwargs), target, features)


def read_csv(path, target, features=None, blocksize="64MB", **kwargs):
    """Lazy ``(X, y)`` from CSV files with a header row, ``blocksize`` bytes per block;
    needs ``dask[dataframe]``.

    Parameters
    ----------
    path : str
        File or glob accepted by ``dask.dataframe.read_csv``.
    target : str
        Label column.
    features : list of str or None
        Feature columns (default: every other column).
    blocksize : str or int, default "64MB"
    **kwargs
        Passed to ``dask.dataframe.read_csv``.

    Returns
    -------
    X : dask.array.Array (float64), y : dask.array.Array
    """
    import dask.dataframe as dd

    return _frame_to_arrays(dd.read_csv(path, blocksize=blocksize, **kwargs), target, features)
