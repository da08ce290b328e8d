"""``nablanet predict``: labels (and probabilities) for new data, written as CSV."""

from __future__ import annotations

import csv
import io
import sys
import warnings
from pathlib import Path

import numpy as np

from nablanet.cli.runs import CONFIG_FILE, MODEL_FILE, RunFolderError, read_json
from nablanet.data import (
    DataError,
    load_dataset,
    read_csv_features,
    read_idx,
    read_npz,
    validate_features,
    validate_n_features,
)
from nablanet.data.files import find_idx_pair, is_idx_path


def _resolve_model(path_text):
    """(model file, training config or {}) for a run folder or a model file."""
    path = Path(path_text)
    if path.is_dir():
        model_path = path / MODEL_FILE
        if not model_path.is_file():
            raise RunFolderError(f"{path} has no {MODEL_FILE}: not a nablanet run folder")
        config = read_json(path / CONFIG_FILE) if (path / CONFIG_FILE).is_file() else {}
        return model_path, config
    if not path.exists():
        raise RunFolderError(f"model not found: {path} (expected a run folder or a model file)")
    return path, {}


def _read_features(data, drop, header, names):
    """The feature matrix of a prediction input (labels, if any, are left out).

    A CSV file with a header is matched to the model's training columns by name
    when the model knows them (``names``), so reordered columns predict the same.
    """
    path = Path(data)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        X, columns = read_csv_features(path, drop=drop, header=header)
        if names is None or header is False:
            return X
        return _columns_by_name(X, columns, names, path)
    if suffix == ".npz":
        return read_npz(path, require_y=False)[0]
    if path.is_dir() or is_idx_path(path):
        images_path = find_idx_pair(path)[0] if path.is_dir() else path
        images = read_idx(images_path)
        return images.reshape(images.shape[0], -1)
    # a bundled name; anything else raises the DataError for unknown names and paths
    return load_dataset(data).X


def _columns_by_name(X, columns, names, path):
    """The columns of ``X`` in the order of the training ``names``, or a `DataError`.

    (The CSV reader has refused a column named twice.)
    """
    missing = [name for name in names if name not in columns]
    extra = [name for name in columns if name not in names]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(map(repr, missing))}")
        if extra:
            parts.append(f"extra {', '.join(map(repr, extra))} (a label column? pass --target "
                         "NAME to leave it out)")
        raise DataError(
            f"the columns of {path} do not match the model's training columns "
            f"({', '.join(names)}): {'; '.join(parts)}"
        )
    return X[:, [columns.index(name) for name in names]]


def _feature_names(model, config):
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        names = config.get("feature_names")
    return None if names is None else [str(name) for name in names]


def _check_feature_count(X, model, data, drop):
    n_expected = int(model.n_features_in_)
    if X.shape[1] == n_expected + 1 and Path(data).suffix.lower() == ".csv" and drop is None:
        raise DataError(
            f"feature count mismatch: the model expects {n_expected} features, the CSV has "
            f"{X.shape[1]} columns; pass --target NAME to leave out the label column"
        )
    return validate_n_features(X, n_expected)


def predictions_table(model, X, proba):
    """Header and rows of the prediction CSV."""
    labels = model.predict(X)
    header, columns = ["prediction"], [np.asarray(labels).tolist()]
    if proba:
        probabilities = model.predict_proba(X)
        header += [f"proba_{c}" for c in np.asarray(model.classes_).tolist()]
        columns += [probabilities[:, k].tolist() for k in range(probabilities.shape[1])]
    return header, list(zip(*columns, strict=True))


def _write_csv(header, rows, output):
    from nablanet.cli.runs import write_bytes_atomic

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    if output is None or output == "-":
        sys.stdout.write(buffer.getvalue())
        return
    target = Path(output)
    if not target.parent.is_dir():
        raise RunFolderError(f"cannot write {target}: folder {target.parent} does not exist")
    try:
        write_bytes_atomic(target, buffer.getvalue().encode("utf-8"))
    except OSError as err:
        raise RunFolderError(f"cannot write {target}: {err.strerror or err}") from None


def run_predict(args):
    """Run ``nablanet predict`` with parsed ``args``; return the exit status."""
    from nablanet import load

    model_path, config = _resolve_model(args.model)
    model = load(model_path)
    drop = args.target if args.target is not None else config.get("target_column")
    header = False if args.no_header else None
    names = _feature_names(model, config)
    X = validate_features(_read_features(args.data, drop, header, names), "X", min_samples=1)
    X = _check_feature_count(X, model, args.data, drop)
    with warnings.catch_warnings():
        # the columns were matched by name above; the model sees a plain array
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        header, rows = predictions_table(model, X, args.proba)
    _write_csv(header, rows, args.output)
    if args.output not in (None, "-"):
        print(f"wrote {len(rows)} predictions to {args.output}", file=sys.stderr)
    return 0
