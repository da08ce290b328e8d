"""Datasets by name or path: the bundled ones and CSV, NPZ and IDX files."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nablanet.data.files import is_idx_path, read_csv_table, read_idx_pair, read_npz
from nablanet.data.validation import DataError, class_labels, validate_features, validate_labels

# Bundled datasets ship inside scikit-learn (no download); loaded lazily.
BUNDLED = ("digits", "breast_cancer", "iris", "wine")


@dataclass
class Dataset:
    """Features, labels and their names.

    Attributes
    ----------
    X : numpy.ndarray of float64, shape (n_samples, n_features)
    y : numpy.ndarray, shape (n_samples,)
    feature_names : list of str
    target_names : list of str or None
        Names of the classes in label order, when the source gives them.
    name : str
        Bundled name or the file's stem.
    target : str or None
        Name of the label column for CSV data.
    named_columns : bool
        Whether ``feature_names`` come from the file (a CSV header), so that new
        data can be matched to them by name.
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: list = field(default_factory=list)
    target_names: list | None = None
    name: str = ""
    target: str | None = None
    named_columns: bool = False

    @property
    def n_samples(self):
        """Number of rows of ``X``."""
        return self.X.shape[0]

    @property
    def n_features(self):
        """Number of columns of ``X``."""
        return self.X.shape[1]


def _load_bundled(name):
    from sklearn import datasets as sk_datasets

    loader = getattr(sk_datasets, f"load_{name}")
    bunch = loader()
    return Dataset(
        X=np.asarray(bunch.data, dtype=np.float64),
        y=np.asarray(bunch.target, dtype=np.int64),
        feature_names=[str(n) for n in getattr(bunch, "feature_names", [])]
        or [f"x{i}" for i in range(bunch.data.shape[1])],
        target_names=[str(n) for n in bunch.target_names],
        name=name,
    )


def _default_names(n_features):
    return [f"x{i}" for i in range(n_features)]


def _load_path(path, target, header):
    suffix = path.suffix.lower()
    if suffix == ".csv":
        X, y, names, target_name, lines = read_csv_table(path, target, header)
        y = class_labels(y, f"column {target_name!r} of {path}", rows=lines)
        return Dataset(X, y, names, None, path.stem, target_name, named_columns=header is not False)
    if suffix == ".npz":
        X, y = read_npz(path)
        X = validate_features(X, f"X in {path.name}")
        return Dataset(X, class_labels(y, f"y in {path.name}"), _default_names(X.shape[1]), None,
                       path.stem)
    if path.is_dir() or is_idx_path(path) or "," in path.name:
        X, y = read_idx_pair(path)
        return Dataset(X, y, _default_names(X.shape[1]), None, path.name.split(",")[0])
    raise DataError(
        f"unsupported data file {path}: expected .csv, .npz or MNIST IDX files "
        "(*-images-idx3-ubyte with *-labels-idx1-ubyte, or a directory holding them)"
    )


def load_dataset(name_or_path, target=None, header=None):
    """Load a bundled dataset by name, or a CSV, NPZ or IDX file by path.

    Parameters
    ----------
    name_or_path : str, path-like, or (images, labels) pair
        One of ``digits``, ``breast_cancer``, ``iris``, ``wine``; or a path to a
        ``.csv`` file (header row), an ``.npz`` file (arrays ``X`` and ``y``), an
        MNIST images IDX file (labels file beside it), a directory holding an IDX
        pair, or ``"images,labels"``.
    target : str, optional
        Label column of a CSV file; default its last column.
    header : bool, optional
        CSV only, as in `nablanet.data.read_csv`: None (default) expects a header
        and refuses a first row of numbers, False reads a file without one.

    Returns
    -------
    Dataset
        Validated: finite float64 ``X`` with at least 2 samples, class labels
        (integers or words; integer-valued floats become int64) of the same
        length with at least 2 classes.

    Raises
    ------
    DataError
        Unknown name, missing or malformed file, non-finite values, labels that
        look continuous or are too large to be classes, a single class, fewer
        than 2 samples.

    Examples
    --------
    >>> data = load_dataset("iris")
    >>> data.X.shape, data.target_names
    ((150, 4), ['setosa', 'versicolor', 'virginica'])
    """
    if isinstance(name_or_path, (tuple, list)):
        X, y = read_idx_pair(name_or_path)
        data = Dataset(X, y, _default_names(X.shape[1]), None, Path(name_or_path[0]).name)
    elif os.fspath(name_or_path) in BUNDLED:
        data = _load_bundled(os.fspath(name_or_path))
    else:
        path = Path(name_or_path)
        if not path.exists() and "," not in path.name:
            raise DataError(_unknown_message(name_or_path))
        data = _load_path(path, target, header)
    data.X = validate_features(data.X, f"X of {data.name}")
    data.y = validate_labels(data.y, data.X.shape[0], name=f"labels of {data.name}")
    return data


def _unknown_message(name_or_path):
    text = os.fspath(name_or_path)
    looks_like_path = any(c in text for c in "/\\.")
    if looks_like_path:
        return f"file not found: {text}"
    return (
        f"unknown dataset {text!r}: expected one of {', '.join(BUNDLED)} "
        "or a path to a .csv, .npz or IDX file"
    )
