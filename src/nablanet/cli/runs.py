"""The run folder: model file, config.json, metrics.json and plots, all written atomically.

A run folder holds everything needed to inspect, resume or reuse a training run::

    runs/20250101-120000/
        model.npz      the fitted estimator (also the per-epoch checkpoint)
        config.json    the resolved options: data, model, hyper-parameters, seed
        metrics.json   status, final metrics, per-epoch history, stop reason,
                       timings, seed, versions
        loss.png  convergence.png  confusion.png
"""

from __future__ import annotations

import functools
import json
import platform
import time
from pathlib import Path

from nablanet._atomic import atomic_writer

MODEL_FILE = "model.npz"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"


class RunFolderError(ValueError):
    """The run folder cannot be created, written, or (for --resume) read."""


def write_bytes_atomic(path, content):
    """Write ``content`` to ``path`` through a synced temporary file and ``os.replace``.

    A crash or Ctrl-C at any moment leaves either the old file or the new one,
    never a partial file.
    """
    path = Path(path)
    with atomic_writer(path) as handle:
        handle.write(content)
    return path


def write_json_atomic(path, data):
    """Write ``data`` as indented JSON, atomically (see `write_bytes_atomic`)."""
    text = json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n"
    return write_bytes_atomic(path, text.encode("utf-8"))


def _json_default(value):
    """NumPy scalars and arrays in metrics become plain numbers and lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in JSON")


def read_json(path):
    """Read a JSON file of a run folder; a missing or broken file is a `RunFolderError`."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunFolderError(f"{path} not found: is {path.parent} a nablanet run folder?") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RunFolderError(f"cannot read {path}: {err}") from None


def default_run_dir(root="runs", now=None):
    """``runs/<YYYYmmdd-HHMMSS>``, with a numeric suffix if that folder already exists."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    candidate = Path(root) / stamp
    suffix = 2
    while candidate.exists():
        candidate = Path(root) / f"{stamp}-{suffix}"
        suffix += 1
    return candidate


@functools.lru_cache(maxsize=1)
def versions():
    """Versions of Python, the platform and the libraries a run depends on."""
    from importlib.metadata import PackageNotFoundError, version

    import numpy

    import nablanet

    found = {"nablanet": nablanet.__version__, "numpy": numpy.__version__}
    for package in ("scikit-learn", "scipy", "matplotlib", "rich"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = None
    found["python"] = platform.python_version()
    found["platform"] = platform.platform()
    return found


class RunFolder:
    """Paths and atomic writers of one run folder.

    Parameters
    ----------
    path : str or path-like
        The folder; `create` makes it, `open_existing` expects it.
    """

    def __init__(self, path):
        self.path = Path(path)

    @classmethod
    def create(cls, path):
        """Make the folder (and parents) and prove it is writable, or raise `RunFolderError`."""
        folder = cls(path)
        try:
            folder.path.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(folder.path / ".write-test", b"")
            (folder.path / ".write-test").unlink()
        except OSError as err:
            reason = err.strerror or type(err).__name__
            raise RunFolderError(
                f"cannot write to output folder {folder.path}: {reason}"
            ) from None
        return folder

    @classmethod
    def open_existing(cls, path):
        """A folder written by an earlier run (for --resume), or `RunFolderError`."""
        folder = cls(path)
        if not folder.path.is_dir():
            raise RunFolderError(f"run folder not found: {folder.path}")
        for name in (CONFIG_FILE, MODEL_FILE):
            if not (folder.path / name).is_file():
                raise RunFolderError(
                    f"{folder.path} has no {name}: it is not a run folder that can be resumed"
                )
        return folder

    @property
    def model_path(self):
        """Path of the model file (the checkpoint during training)."""
        return self.path / MODEL_FILE

    def file(self, name):
        """Path of another file in the folder."""
        return self.path / name

    def write_config(self, config):
        """Write ``config.json``."""
        return write_json_atomic(self.path / CONFIG_FILE, config)

    def read_config(self):
        """Read ``config.json``."""
        return read_json(self.path / CONFIG_FILE)

    def write_metrics(self, metrics):
        """Write ``metrics.json``."""
        return write_json_atomic(self.path / METRICS_FILE, metrics)

    def read_metrics(self):
        """Read ``metrics.json``, or an empty record when the run never wrote one."""
        if not (self.path / METRICS_FILE).exists():
            return {}
        return read_json(self.path / METRICS_FILE)
