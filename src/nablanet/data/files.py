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

from nablanet.data.validation import MAX_FEATURE_MAGNITUDE, DataError, integral_as_int

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


#: Cells read as a missing value (compared after stripping, case-insensitively).
MISSING_TOKENS = frozenset({"", "na", "nan", "n/a", "null", "none", "?"})
_OTHER_DELIMITERS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def _parse_number(text):
    """Parse one CSV cell; missing-value tokens give NaN, words raise ValueError."""
    if text.strip().lower() in MISSING_TOKENS:
        return float("nan")
    return float(text)


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _delimiter_hint(path, row):
    """A hint when a one-column row holds another common delimiter, else ''."""
    for delimiter, name in _OTHER_DELIMITERS.items():
        if len(row) == 1 and delimiter in row[0]:
            return (f"; its lines hold {name} ({delimiter!r}) but nablanet reads comma-separated "
                    f"files: convert {path} to commas")
    return ""


def _read_csv_rows(path, header=None, min_columns=2):
    """``(column names, rows, file line number of each row)``.

    ``header``: True (the first row names the columns), False (no header: the
    columns are ``x0, x1, ...``), None (a header, refused if it looks like data).
    Line numbers count every line of the file from 1, the header included.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:  # a BOM is not a name
            reader = csv.reader(handle)
            rows, lines = [], []
            for row in reader:
                if row:
                    rows.append(row)
                    lines.append(reader.line_num)
    except UnicodeDecodeError:
        raise DataError(f"cannot read CSV {path}: not UTF-8 text") from None
    except (OSError, csv.Error) as err:
        raise DataError(f"cannot read CSV {path}: {err}") from None
    if not rows:
        raise DataError(f"CSV {path} is empty")
    if header is False:
        names = [f"x{i}" for i in range(len(rows[0]))]
    else:
        names = [name.strip() for name in rows[0]]
        if header is None and all(_is_number(cell) for cell in rows[0]):
            raise DataError(
                f"the first row of CSV {path} looks like data, not a header (all numbers: "
                f"{','.join(rows[0][:4])}{',...' if len(rows[0]) > 4 else ''}); add a header "
                "row naming the columns, or pass --no-header (columns x0, x1, ...)"
            )
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise DataError(f"CSV {path} names column {repeated[0]!r} more than once; "
                            "columns are matched by name, so each needs its own")
        rows, lines = rows[1:], lines[1:]
    if not rows:
        raise DataError(f"CSV {path} needs a header row and at least one data row")
    for line, row in zip(lines, rows):
        if len(row) != len(names):
            raise DataError(
                f"CSV {path} line {line} has {len(row)} fields, the "
                f"{'first row' if header is False else 'header'} has {len(names)}"
                + _delimiter_hint(path, row)
            )
    if len(names) < min_columns or (len(names) == 1 and _delimiter_hint(path, names)):
        raise DataError(
            f"CSV {path} needs at least one feature column and a target column, found one "
            f"column{_delimiter_hint(path, rows[0]) or _delimiter_hint(path, names)}"
        )
    return names, rows, lines


def _target_index(header, target, path):
    if target is None:
        return len(header) - 1
    if target in header:
        return header.index(target)
    raise DataError(
        f"target column {target!r} not found in CSV {path}; columns are: {', '.join(header)}"
    )


def _numeric_column(values, column, path, lines):
    out = np.empty(len(values))
    for row, text in enumerate(values):
        try:
            out[row] = _parse_number(text)
        except ValueError:
            raise DataError(
                f"non-numeric value {text!r} in column {column!r} of CSV {path} "
                f"(line {lines[row]}); features must be numbers"
            ) from None
    return out


def _feature_table(rows, keep, names, path, lines):
    """The kept columns as a float64 matrix; missing and infinite cells are one error each."""
    try:
        table = np.array(rows, dtype=np.float64)[:, keep]  # one NumPy call when all are numbers
    except ValueError:
        columns = list(zip(*rows, strict=True))
        table = np.column_stack([_numeric_column(columns[i], names[i], path, lines)
                                 for i in keep])
    for bad, what in ((np.isnan(table), "missing values (empty, NA or NaN)"),
                      (np.isinf(table), "infinite values"),
                      (np.abs(table) > MAX_FEATURE_MAGNITUDE,
                       f"values beyond {MAX_FEATURE_MAGNITUDE:g} (they overflow when squared)")):
        if bad.any():
            row, column = (int(i) for i in np.argwhere(bad)[0])
            raise DataError(
                f"CSV {path} has {int(bad.sum())} {what}, the first in column "
                f"{names[keep[column]]!r} at line {lines[row]}; features must be finite "
                "numbers of moderate size: fill, rescale or drop those rows"
            )
    return table


def _label_column(values, path, column, lines):
    """Labels: numbers (checked as classes later) or words; a missing label is an error."""
    stripped = [text.strip() for text in values]
    for row, text in enumerate(stripped):
        if text.lower() in MISSING_TOKENS:
            raise DataError(
                f"missing label {text!r} in column {column!r} of CSV {path} at line {lines[row]}; "
                "every row needs a label: fill or drop it"
            )
    if all(_is_number(text) for text in stripped):
        return integral_as_int(np.array([float(text) for text in stripped]))
    return np.array(stripped)


def read_csv(path, target=None, header=None):
    """Read a CSV file with a header row into features and labels.

    Parameters
    ----------
    path : str or path-like
        CSV file; the first row names the columns.
    target : str, optional
        Name of the label column; default the last column.
    header : bool, optional
        True: the first row names the columns; False: there is no header and the
        columns are named ``x0, x1, ...``; None (default): a header, and a first
        row made only of numbers is refused as data.

    Returns
    -------
    X : numpy.ndarray of float64, shape (n_samples, n_features)
    y : numpy.ndarray, shape (n_samples,)
        Labels: int64 when every value is an integer (of at most 2**53 in
        magnitude), else float64 or str.
    feature_names : list of str
    target_name : str

    Raises
    ------
    DataError
        Missing file, unreadable text, ragged rows (with a hint when another
        delimiter is used), a first row that looks like data, a non-numeric,
        missing or infinite feature value, a missing label, or a target column
        that is not in the header.  Rows are named by their line in the file,
        counted from 1 with the header.

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
    X, y, names, target_name, _ = read_csv_table(path, target, header)
    return X, y, names, target_name


def read_csv_table(path, target=None, header=None):
    """`read_csv`, plus the file line number of each row (for messages about rows)."""
    path = _require_file(path)
    names, rows, lines = _read_csv_rows(path, header)
    t_index = _target_index(names, target, path)
    feature_index = [i for i in range(len(names)) if i != t_index]
    X = _feature_table(rows, feature_index, names, path, lines)
    y = _label_column([row[t_index] for row in rows], path, names[t_index], lines)
    return X, y, [names[i] for i in feature_index], names[t_index], lines


def read_csv_features(path, drop=None, header=None):
    """Read every numeric column of a CSV file as features (for prediction).

    Parameters
    ----------
    path : str or path-like
        CSV file with a header row.
    drop : str, optional
        Column to leave out if present (the training target).
    header : bool, optional
        As in `read_csv`.

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
    names, rows, lines = _read_csv_rows(path, header, min_columns=1)
    keep = [i for i, name in enumerate(names) if name != drop]
    return _feature_table(rows, keep, names, path, lines), [names[i] for i in keep]


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
    if not zipfile.is_zipfile(path):
        raise DataError(f"cannot read NPZ {path}: not an NPZ archive (numpy.savez writes one); "
                        "another kind of file, or truncated?")
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
    except ValueError as err:
        if "pickle" in str(err):  # numpy's advice to unpickle is not ours to give
            raise DataError(f"cannot read NPZ {path}: it holds Python objects; nablanet reads "
                            "numeric arrays only and never unpickles") from None
        raise DataError(f"cannot read NPZ {path}: {err}") from None
    except (OSError, zipfile.BadZipFile, EOFError) as err:
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
