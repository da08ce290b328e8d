"""Reading data files: CSV with a header, NPZ with arrays X and y, MNIST's IDX format.

Every reader turns a missing, unreadable or malformed file into a `DataError`
with a one-line message naming the file and the problem.
"""

from __future__ import annotations

import csv
import gzip
import os
import struct
import zipfile
from pathlib import Path

import numpy as np

from nablanet.data.validation import DataError

# IDX header: two zero bytes, a type code, the number of dimensions, then one
# big-endian uint32 per dimension.  Type codes from the format's definition.
_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _require_file(path):
    path = Path(path)
    if not path.exists():
        raise DataError(f"file not found: {path}")
    if not path.is_file():
        raise DataError(f"expected a file, got a directory or special file: {path}")
    return path


def _parse_number(text):
    """Parse one CSV cell; empty cells and words raise ValueError."""
    return float(text)


def _read_csv_rows(path):
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.reader(handle) if row]
    except UnicodeDecodeError:
        raise DataError(f"cannot read CSV {path}: not UTF-8 text") from None
    except (OSError, csv.Error) as err:
        raise DataError(f"cannot read CSV {path}: {err}") from None
    if len(rows) < 2:
        raise DataError(f"CSV {path} needs a header row and at least one data row")
    header = [name.strip() for name in rows[0]]
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise DataError(
                f"CSV {path} line {line} has {len(row)} fields, the header has {len(header)}"
            )
    return header, rows[1:]


def _target_index(header, target, path):
    if target is None:
        return len(header) - 1
    if target in header:
        return header.index(target)
    raise DataError(
        f"target column {target!r} not found in CSV {path}; columns are: {', '.join(header)}"
    )


def _numeric_column(values, column, path):
    out = np.empty(len(values))
    for row, text in enumerate(values):
        try:
            out[row] = _parse_number(text)
        except ValueError:
            raise DataError(
                f"non-numeric value {text!r} in column {column!r} of CSV {path} "
                f"(data row {row + 1}); features must be numbers"
            ) from None
    return out


def _fast_numeric(rows):
    """The whole table as float64 in one NumPy call, or None if any cell is not a number."""
    try:
        return np.array(rows, dtype=np.float64)
    except ValueError:
        return None


def _label_column(values):
    """Labels may be numbers or words; integral numbers become int64."""
    try:
        numbers = np.array([_parse_number(text) for text in values])
    except ValueError:
        return np.array([text.strip() for text in values])
    return _label_column_from_numbers(numbers)


def _label_column_from_numbers(numbers):
    if np.all(np.isfinite(numbers)) and np.all(numbers == np.round(numbers)):
        return numbers.astype(np.int64)
    return numbers


def read_csv(path, target=None):
    """Read a CSV file with a header row into features and labels.

    Parameters
    ----------
    path : str or path-like
        CSV file; the first row names the columns.
    target : str, optional
        Name of the label column; default the last column.

    Returns
    -------
    X : numpy.ndarray of float64, shape (n_samples, n_features)
    y : numpy.ndarray, shape (n_samples,)
        Labels: int64 when every value is an integer, else float64 or str.
    feature_names : list of str
    target_name : str

    Raises
    ------
    DataError
        Missing file, unreadable text, ragged rows, a non-numeric feature value,
        or a target column that is not in the header.

    Examples
    --------
    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "tiny.csv")
    >>> _ = open(path, "w").write("a,b,label\\n1,2,0\\n3,4,1\\n")
    >>> X, y, names, target = read_csv(path)
    >>> X.shape, y.tolist(), names, target
    ((2, 2), [0, 1], ['a', 'b'], 'label')
    """
    path = _require_file(path)
    header, rows = _read_csv_rows(path)
    if len(header) < 2:
        raise DataError(f"CSV {path} needs at least one feature column and a target column")
    t_index = _target_index(header, target, path)
    feature_index = [i for i in range(len(header)) if i != t_index]
    table = _fast_numeric(rows)
    if table is not None:
        X, y = table[:, feature_index], _label_column_from_numbers(table[:, t_index])
    else:
        columns = list(zip(*rows, strict=True))
        X = np.column_stack([_numeric_column(columns[i], header[i], path) for i in feature_index])
        y = _label_column(columns[t_index])
    return X, y, [header[i] for i in feature_index], header[t_index]


def read_csv_features(path, drop=None):
    """Read every numeric column of a CSV file as features (for prediction).

    Parameters
    ----------
    path : str or path-like
        CSV file with a header row.
    drop : str, optional
        Column to leave out if present (the training target).

    Returns
    -------
    X : numpy.ndarray of float64
    feature_names : list of str

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "x.csv")
    >>> _ = open(path, "w").write("a,b\\n1,2\\n")
    >>> read_csv_features(path)[0]
    array([[1., 2.]])
    """
    path = _require_file(path)
    header, rows = _read_csv_rows(path)
    keep = [i for i, name in enumerate(header) if name != drop]
    table = _fast_numeric(rows)
    if table is not None:
        return table[:, keep], [header[i] for i in keep]
    columns = list(zip(*rows, strict=True))
    X = np.column_stack([_numeric_column(columns[i], header[i], path) for i in keep])
    return X, [header[i] for i in keep]


def read_npz(path, require_y=True):
    """Read arrays ``X`` (and ``y``) from an NPZ file without unpickling anything.

    Parameters
    ----------
    path : str or path-like
        File written by ``numpy.savez`` with arrays named ``X`` and ``y``.
    require_y : bool, default True
        Whether a missing ``y`` array is an error (prediction needs only ``X``).

    Returns
    -------
    X : numpy.ndarray
    y : numpy.ndarray or None

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "d.npz")
    >>> np.savez(path, X=np.eye(2), y=np.array([0, 1]))
    >>> read_npz(path)[1]
    array([0, 1])
    """
    path = _require_file(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = set(archive.files)
            missing = [key for key in ("X", "y") if key not in names and (key == "X" or require_y)]
            if missing:
                raise DataError(
                    f"NPZ {path} must hold arrays named X and y; missing {', '.join(missing)} "
                    f"(found: {', '.join(sorted(names)) or 'nothing'})"
                )
            X = archive["X"]
            y = archive["y"] if "y" in names else None
    except DataError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise DataError(f"cannot read NPZ {path}: {err}") from None
    return X, y


def _open_maybe_gzip(path):
    with open(path, "rb") as handle:
        magic = handle.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def read_idx(path):
    """Read one IDX file (MNIST's format), plain or gzip-compressed.

    Parameters
    ----------
    path : str or path-like
        An ``*-idx3-ubyte`` / ``*-idx1-ubyte`` file, optionally ending in ``.gz``.

    Returns
    -------
    numpy.ndarray
        Array with the shape stored in the header, in native byte order.

    Examples
    --------
    >>> import tempfile, os, struct
    >>> path = os.path.join(tempfile.mkdtemp(), "t-labels-idx1-ubyte")
    >>> _ = open(path, "wb").write(struct.pack(">BBBBI", 0, 0, 8, 1, 3) + bytes([1, 0, 7]))
    >>> read_idx(path)
    array([1, 0, 7], dtype=uint8)
    """
    path = _require_file(path)
    try:
        with _open_maybe_gzip(path) as handle:
            content = handle.read()
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise DataError(f"cannot read IDX file {path}: {err}") from None
    if len(content) < 4 or content[:2] != b"\x00\x00" or content[2] not in _IDX_DTYPES:
        raise DataError(f"{path} is not an IDX file (bad magic number)")
    dtype, ndim = _IDX_DTYPES[content[2]], content[3]
    header_size = 4 + 4 * ndim
    if len(content) < header_size:
        raise DataError(f"IDX file {path} is truncated inside its header")
    shape = struct.unpack(f">{ndim}I", content[4:header_size])
    n_bytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(content) - header_size != n_bytes:
        raise DataError(
            f"IDX file {path} should hold {n_bytes} data bytes for shape {shape}, "
            f"found {len(content) - header_size}"
        )
    data = np.frombuffer(content, dtype=dtype, offset=header_size).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def is_idx_path(path):
    """Whether ``path`` is named like an IDX file (``...idx3-ubyte``, ``.idx1``, ``.gz``).

    Examples
    --------
    >>> is_idx_path("train-images-idx3-ubyte.gz"), is_idx_path("data.csv")
    (True, False)
    """
    name = Path(path).name.lower().removesuffix(".gz")
    return "idx" in name and (name.endswith("ubyte") or ".idx" in name)


def _sibling_labels(images_path):
    """Find the labels file beside an images file (MNIST naming)."""
    name = images_path.name
    for old, new in (("images-idx3", "labels-idx1"), ("images.idx3", "labels.idx1")):
        if old in name:
            base = name.replace(old, new).removesuffix(".gz")
            candidates = [base, base + ".gz"]
            for candidate in candidates:
                if (images_path.parent / candidate).is_file():
                    return images_path.parent / candidate
    raise DataError(
        f"no labels file beside {images_path}: expected a matching '*-labels-idx1-ubyte' file"
    )


def find_idx_pair(path):
    """Resolve a directory, an images file, or "images,labels" into (images, labels) paths.

    Parameters
    ----------
    path : str, path-like or pair of them
        A directory holding ``*-images-idx3-ubyte`` and ``*-labels-idx1-ubyte``
        (optionally ``.gz``), an images file with its labels file beside it, two
        paths joined by a comma, or a (images, labels) tuple.

    Returns
    -------
    tuple of pathlib.Path

    Examples
    --------
    >>> find_idx_pair(("a-images-idx3-ubyte", "a-labels-idx1-ubyte"))[0].name
    'a-images-idx3-ubyte'
    """
    if isinstance(path, (tuple, list)):
        return Path(path[0]), Path(path[1])
    text = os.fspath(path)
    if "," in text:
        images, labels = text.split(",", 1)
        return Path(images.strip()), Path(labels.strip())
    path = Path(text)
    if path.is_dir():
        images = sorted(path.glob("*images*idx3*"))
        labels = sorted(path.glob("*labels*idx1*"))
        if not images or not labels:
            raise DataError(
                f"directory {path} must hold '*-images-idx3-ubyte' and '*-labels-idx1-ubyte' "
                "files (optionally .gz)"
            )
        train_images = [p for p in images if "train" in p.name] or images
        train_labels = [p for p in labels if "train" in p.name] or labels
        return train_images[0], train_labels[0]
    return _require_file(path), _sibling_labels(path)


def read_idx_pair(path):
    """Read MNIST-style images and labels as a flat feature matrix and a label vector.

    Parameters
    ----------
    path : str, path-like or pair of them
        See `find_idx_pair`.

    Returns
    -------
    X : numpy.ndarray of float64, shape (n_samples, n_pixels)
        Pixel values as stored (0 to 255 for MNIST).
    y : numpy.ndarray of int64, shape (n_samples,)

    Examples
    --------
    >>> import tempfile, os, struct
    >>> folder = tempfile.mkdtemp()
    >>> head = struct.pack(">BBBBIII", 0, 0, 8, 3, 2, 1, 2)
    >>> _ = open(os.path.join(folder, "t-images-idx3-ubyte"), "wb").write(head + bytes(4))
    >>> head = struct.pack(">BBBBI", 0, 0, 8, 1, 2)
    >>> _ = open(os.path.join(folder, "t-labels-idx1-ubyte"), "wb").write(head + bytes([3, 5]))
    >>> X, y = read_idx_pair(folder)
    >>> X.shape, y.tolist()
    ((2, 2), [3, 5])
    """
    images_path, labels_path = find_idx_pair(path)
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim < 2:
        raise DataError(f"IDX images {images_path} must have at least 2 dimensions")
    if labels.ndim != 1:
        raise DataError(f"IDX labels {labels_path} must be 1-D, got shape {labels.shape}")
    if images.shape[0] != labels.shape[0]:
        raise DataError(
            f"IDX images hold {images.shape[0]} samples but labels hold {labels.shape[0]}"
        )
    X = images.reshape(images.shape[0], -1).astype(np.float64)
    return X, labels.astype(np.int64)
