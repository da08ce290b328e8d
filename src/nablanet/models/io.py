"""Portable model files: one NPZ holding the arrays and a JSON metadata entry.

A model file is a ZIP archive written by :func:`numpy.savez`.  It holds the
estimator's arrays and one more entry, ``__meta__``: UTF-8 JSON with the class
name, the constructor parameters, the fitted scalars, the nablanet version, the
format version and a SHA-256 digest of the metadata and every array.  Loading reads it with
its own reader (no pickle; every declared size checked against limits before
anything is allocated or inflated) and rebuilds the estimator from the class
name, looked up in a fixed table: nothing in the file is ever executed.

Saving is atomic: the archive is written to a temporary file in the target's
folder, flushed and fsync'ed, then moved over the target with :func:`os.replace`.
An interrupted save leaves the previous file as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile

import numpy as np

from nablanet._atomic import atomic_writer

#: Bumped when the layout of the file changes incompatibly.  Version 2: the digest
#: covers the metadata (class, parameters, fitted scalars) as well as the arrays.
FORMAT_VERSION = 2
_FORMAT_NAME = "nablanet-model"
_META_KEY = "__meta__"

#: Limits checked against what a file *declares* before anything is allocated or
#: inflated.  The largest model the estimators here make (the notes' 784-256-10
#: network with Adam's two moment buffers) is a few MB; the limits leave three
#: orders of magnitude of room and still stop a 3 KB file asking for a terabyte.
MAX_MODEL_BYTES = 4 * 2**30
MAX_ENTRIES = 4096
_MAX_META_BYTES = 64 * 2**20
#: A deflated entry may inflate at most this many times its stored size (plus 1 MiB):
#: nablanet writes stored (uncompressed) entries, and numeric arrays compress far less.
_MAX_INFLATION = 200


class ModelFileError(ValueError):
    """A model file that cannot be trusted: truncated, tampered with, or not a model file."""


def _digest(arrays, meta=None):
    """SHA-256 over the metadata (canonical JSON, without the digest) and ``arrays``.

    The arrays enter by name, dtype, shape and bytes, sorted by name.
    """
    h = hashlib.sha256()
    if meta is not None:
        body = {k: v for k, v in meta.items() if k != "digest"}
        h.update(json.dumps(_encode_json(body), sort_keys=True).encode("utf-8"))
        h.update(b"\0")
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _encode_json(value):
    """Tuples survive the JSON round trip as ``{"__tuple__": [...]}``."""
    if isinstance(value, tuple):
        return {"__tuple__": [_encode_json(v) for v in value]}
    if isinstance(value, list):
        return [_encode_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode_json(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decode_json(value):
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(_decode_json(v) for v in value["__tuple__"])
        return {k: _decode_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode_json(v) for v in value]
    return value


def write_atomic(path, arrays, meta):
    """Write ``arrays`` plus ``meta`` (JSON-able) to ``path`` atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Target file; its folder must exist.
    arrays : dict of str to ndarray
        Numeric arrays (no object dtype).
    meta : dict
        JSON-able metadata; a digest of the metadata and the arrays is added to it.

    Returns
    -------
    str
        The path written.
    """
    path = os.fspath(path)
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    for name, a in arrays.items():
        if a.dtype.hasobject:
            raise TypeError(f"array {name!r} has object dtype; model files hold numbers only")
    meta = _decode_json(json.loads(json.dumps(_encode_json(meta))))  # as a reader sees it
    meta = dict(meta, digest=_digest(arrays, meta))
    blob = np.frombuffer(json.dumps(_encode_json(meta)).encode("utf-8"), dtype=np.uint8)
    with atomic_writer(path) as handle:
        np.savez(handle, **{_META_KEY: blob}, **arrays)
    return path


# ---- reading: every size is checked against the limits before it is used ----------
def _check_entries(archive, path, file_size):
    """Refuse archives whose declared sizes are out of bounds, before inflating anything."""
    entries = archive.infolist()
    if len(entries) > MAX_ENTRIES:
        raise ModelFileError(f"{path!r} declares {len(entries)} entries (limit {MAX_ENTRIES})")
    total = 0
    for info in entries:
        if not info.filename.endswith(".npy") or info.is_dir():
            raise ModelFileError(f"{path!r} holds {info.filename!r}: not a nablanet model file")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ModelFileError(f"{path!r}: entry {info.filename!r} uses an unknown compression")
        bound = info.compress_size * _MAX_INFLATION + 2**20
        if info.file_size > bound:
            raise ModelFileError(
                f"{path!r}: entry {info.filename!r} declares {info.file_size} bytes from "
                f"{info.compress_size} stored ones: refused as a decompression bomb"
            )
        total += info.file_size
    if total > MAX_MODEL_BYTES:
        raise ModelFileError(
            f"{path!r} declares {total} bytes of arrays, above the limit of {MAX_MODEL_BYTES} "
            "(nablanet.models.io.MAX_MODEL_BYTES)"
        )
    if sum(info.compress_size for info in entries) > file_size:
        raise ModelFileError(f"{path!r} declares more stored bytes than the file holds "
                             "(truncated or corrupted?)")
    return entries


def _read_entry(archive, info, path):
    """One ``.npy`` entry; its header's shape must account for the entry's declared size."""
    name = info.filename[: -len(".npy")]
    with archive.open(info) as handle:
        try:
            version = np.lib.format.read_magic(handle)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read_header(handle)
        except (ValueError, OSError, EOFError) as err:
            raise ModelFileError(f"{path!r}: entry {name!r} is not a NumPy array ({err})") from None
        if dtype.hasobject:
            raise ModelFileError(f"{path!r}: entry {name!r} holds Python objects; model files "
                                 "hold numbers only (nothing is unpickled)")
        count = 1
        for extent in shape:
            count *= int(extent)
        n_bytes = count * dtype.itemsize
        header_bytes = handle.tell()
        if n_bytes != info.file_size - header_bytes:
            raise ModelFileError(
                f"{path!r}: entry {name!r} declares shape {shape} of {dtype} ({n_bytes} bytes) "
                f"but holds {info.file_size - header_bytes} bytes"
            )
        content = handle.read(n_bytes)
    if len(content) != n_bytes:
        raise ModelFileError(f"{path!r}: entry {name!r} is truncated")
    array = np.frombuffer(content, dtype=dtype)
    order = "F" if fortran else "C"
    return name, array.reshape(shape, order=order).copy()


def _read_archive(path):
    if os.path.isdir(path):
        raise ModelFileError(
            f"{path!r} is a directory, not a model file (a run folder holds model.npz; "
            "`nablanet predict` takes the folder itself)"
        )
    try:
        file_size = os.path.getsize(path)
        with zipfile.ZipFile(path) as archive:
            entries = _check_entries(archive, path, file_size)
            return dict(_read_entry(archive, info, path) for info in entries)
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile):
        raise ModelFileError(
            f"{path!r} is not a readable nablanet model file: not a ZIP archive as `save` "
            "writes (truncated, or another kind of file?)"
        ) from None
    except (OSError, ValueError, EOFError, KeyError, NotImplementedError) as err:
        raise ModelFileError(
            f"{path!r} is not a readable nablanet model file (truncated or corrupted?): {err}"
        ) from None


def read_checked(path):
    """Read a model file; return ``(meta, arrays)`` after checking format, limits and digest.

    Declared entry sizes and array shapes are checked against `MAX_MODEL_BYTES`,
    the stored sizes and each other before anything is allocated or inflated.

    Raises
    ------
    ModelFileError
        When the file is not a complete, untampered nablanet model file.
    FileNotFoundError
        When there is no file at ``path``.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no model file at {path!r}")
    contents = _read_archive(path)
    if _META_KEY not in contents:
        raise ModelFileError(f"{path!r} has no {_META_KEY!r} entry: not a nablanet model file")
    blob = contents.pop(_META_KEY)
    if blob.dtype != np.uint8 or blob.ndim != 1 or blob.size > _MAX_META_BYTES:
        raise ModelFileError(f"{path!r}: the metadata entry is not a nablanet metadata blob")
    try:
        meta = _decode_json(json.loads(blob.tobytes().decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise ModelFileError(f"{path!r}: the metadata entry is not valid JSON ({err})") from None
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT_NAME:
        raise ModelFileError(f"{path!r}: metadata does not describe a nablanet model")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{path!r} has format version {meta.get('format_version')!r}; this nablanet reads "
            f"version {FORMAT_VERSION} (train or save the model again with this version)"
        )
    if meta.get("digest") != _digest(contents, meta):
        raise ModelFileError(
            f"{path!r}: the metadata or the arrays do not match the digest recorded when the "
            "file was saved (the file was modified after saving)"
        )
    return meta, contents


def save(estimator, path, feature_names=None):
    """Save a fitted nablanet estimator to one portable file (same as ``estimator.save``).

    Parameters
    ----------
    estimator : nablanet estimator
        A fitted ``LogisticRegression``, ``SoftmaxRegression``, ``MLPClassifier`` or
        ``GaussianDropoutRegressor``.
    path : str or os.PathLike
        Target file (conventionally ``.npz``).
    feature_names : sequence of str, optional
        Names of the training columns, stored as ``feature_names_in_`` (default:
        the estimator's ``feature_names_in_``, if it has one).  ``nablanet predict``
        matches the columns of new data by these names.

    Returns
    -------
    str
        The path written.
    """
    import nablanet

    arrays, fitted = estimator._fitted_state()
    names = getattr(estimator, "feature_names_in_", None) if feature_names is None else (
        feature_names)
    if names is not None:
        if len(names) != estimator.n_features_in_:
            raise ValueError(f"feature_names holds {len(names)} names for "
                             f"{estimator.n_features_in_} features")
        arrays = {**arrays, "feature_names_in": np.asarray([str(n) for n in names])}
    meta = {
        "format": _FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "nablanet_version": nablanet.__version__,
        "class": type(estimator).__name__,
        "params": _portable_params(estimator),
        "fitted": fitted,
    }
    return write_atomic(path, arrays, meta)


def _portable_params(estimator):
    params = estimator.get_params(deep=False)
    if params.get("callback") is not None:
        params["callback"] = None  # a function is code: it is not saved
    for name, value in params.items():
        try:
            json.dumps(_encode_json(value))
        except TypeError:
            raise TypeError(
                f"parameter {name}={value!r} cannot be saved in a portable model file; "
                "use plain numbers, strings, tuples or None (e.g. an int random_state)"
            ) from None
    return params


def _estimator_classes():
    from nablanet.models.gaussian_dropout import GaussianDropoutRegressor
    from nablanet.models.logistic import LogisticRegression
    from nablanet.models.mlp import MLPClassifier
    from nablanet.models.softmax import SoftmaxRegression

    classes = (LogisticRegression, SoftmaxRegression, MLPClassifier, GaussianDropoutRegressor)
    return {cls.__name__: cls for cls in classes}


def load(path):
    """Rebuild an estimator saved with ``save``; never executes code from the file.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by ``estimator.save(path)``.

    Returns
    -------
    estimator
        A fitted estimator whose predictions equal the saved one's.

    Raises
    ------
    ModelFileError
        When the file is truncated, tampered with or not a nablanet model file.

    Examples
    --------
    >>> import os, tempfile, numpy as np, nablanet as nb
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
    >>> model = nb.LogisticRegression().fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
    >>> _ = model.save(path)
    >>> bool((nb.load(path).predict_proba(X) == model.predict_proba(X)).all())
    True
    """
    meta, arrays = read_checked(path)
    classes = _estimator_classes()
    name = meta.get("class")
    if name not in classes:
        raise ModelFileError(f"{os.fspath(path)!r}: unknown estimator class {name!r}")
    try:
        estimator = classes[name](**meta.get("params", {}))
        names = arrays.pop("feature_names_in", None)
        estimator._restore_state(arrays, meta.get("fitted", {}))
        if names is not None:
            estimator.feature_names_in_ = np.asarray(names.tolist(), dtype=object)
    except (TypeError, KeyError, ValueError, IndexError, AttributeError) as err:
        raise ModelFileError(
            f"{os.fspath(path)!r}: the saved {name} state is inconsistent ({err})"
        ) from None
    return estimator
