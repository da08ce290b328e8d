"""Portable model files: one NPZ holding the arrays and a JSON metadata entry.

A model file is a ZIP archive written by :func:`numpy.savez`.  It holds the
estimator's arrays and one more entry, ``__meta__``: UTF-8 JSON with the class
name, the constructor parameters, the fitted scalars, the nablanet version, the
format version and a SHA-256 digest of every array.  Loading reads it with
``allow_pickle=False`` and rebuilds the estimator from the class name, looked up
in a fixed table: nothing in the file is ever executed.

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

#: Bumped when the layout of the file changes incompatibly.
FORMAT_VERSION = 1
_FORMAT_NAME = "nablanet-model"
_META_KEY = "__meta__"


class ModelFileError(ValueError):
    """A model file that cannot be trusted: truncated, tampered with, or not a model file."""


def _digest(arrays):
    """SHA-256 over the names, dtypes, shapes and bytes of ``arrays`` (sorted by name)."""
    h = hashlib.sha256()
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
        JSON-able metadata; a digest of the arrays is added to it.

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
    meta = dict(meta, digest=_digest(arrays))
    blob = np.frombuffer(json.dumps(_encode_json(meta)).encode("utf-8"), dtype=np.uint8)
    with atomic_writer(path) as handle:
        np.savez(handle, **{_META_KEY: blob}, **arrays)
    return path


def read_checked(path):
    """Read a model file; return ``(meta, arrays)`` after checking format and digest.

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
    try:
        with np.load(path, allow_pickle=False) as archive:
            contents = {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError) as err:
        raise ModelFileError(
            f"{path!r} is not a readable nablanet model file (truncated or corrupted?): {err}"
        ) from None
    if _META_KEY not in contents:
        raise ModelFileError(f"{path!r} has no {_META_KEY!r} entry: not a nablanet model file")
    try:
        meta = _decode_json(json.loads(contents.pop(_META_KEY).tobytes().decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFileError(f"{path!r}: the metadata entry is not valid JSON ({err})") from None
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT_NAME:
        raise ModelFileError(f"{path!r}: metadata does not describe a nablanet model")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{path!r} has format version {meta.get('format_version')!r}; this nablanet reads "
            f"version {FORMAT_VERSION}"
        )
    if meta.get("digest") != _digest(contents):
        raise ModelFileError(
            f"{path!r}: the arrays do not match the digest recorded when the file was saved "
            "(the file was modified after saving)"
        )
    return meta, contents


def save(estimator, path):
    """Save a fitted nablanet estimator to one portable file (same as ``estimator.save``).

    Parameters
    ----------
    estimator : nablanet estimator
        A fitted ``LogisticRegression``, ``SoftmaxRegression``, ``MLPClassifier`` or
        ``GaussianDropoutRegressor``.
    path : str or os.PathLike
        Target file (conventionally ``.npz``).

    Returns
    -------
    str
        The path written.
    """
    import nablanet

    arrays, fitted = estimator._fitted_state()
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
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
    except (TypeError, KeyError, ValueError) as err:
        raise ModelFileError(
            f"{os.fspath(path)!r}: the saved {name} state is inconsistent ({err})"
        ) from None
    return estimator
