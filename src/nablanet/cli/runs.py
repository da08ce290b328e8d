"""The run folder: model file, config.json, metrics.json and plots, all written atomically.

A run folder holds everything needed to inspect, resume or reuse a training run::

    runs/20250101-120000/
        model.npz      the fitted estimator (also the per-epoch checkpoint)
        config.json    the resolved options: data, model, hyper-parameters, seed
        metrics.json   status, final metrics, per-epoch history, stop reason,
                       timings, seed, versions
        loss.png  convergence.png  confusion.png
        .lock          held (an OS-level lock) while a training writes the folder

A new run never writes into a folder that holds an earlier run unless asked to
(``--force``), and two trainings never write one folder at once.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import platform
import time
from pathlib import Path

from nablanet._atomic import atomic_writer

MODEL_FILE = "model.npz"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
LOCK_FILE = ".lock"
#: Files a run writes: what ``--force`` removes before a new run takes the folder.
RUN_FILES = (MODEL_FILE, CONFIG_FILE, METRICS_FILE, "loss.png", "convergence.png",
             "confusion.png")


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


class RunFolderLock:
    """An exclusive OS-level lock (``fcntl.flock``) on a run folder's ``.lock`` file.

    The operating system releases it when the process ends, however it ends
    (Ctrl-C, a crash, ``kill -9``), so a stale lock never blocks a later run.
    The file holds the pid and command of the holder, for the message others see.
    """

    def __init__(self, folder):
        self.path = Path(folder) / LOCK_FILE
        self._handle = None

    def acquire(self):
        """Take the lock or raise `RunFolderError` naming the process that holds it."""
        try:
            import fcntl
        except ImportError:  # no flock (Windows): runs are not locked there
            return self
        handle = open(self.path, "a+", encoding="utf-8")  # held open: closing it releases the lock
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                handle.close()
                raise RunFolderError(
                    f"cannot lock run folder {self.path.parent}: {err.strerror or err}"
                ) from None
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise RunFolderError(
                f"run folder {self.path.parent} is being written by {holder}; wait for it to "
                "finish or choose another --out"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"nablanet train (pid {os.getpid()})\n")
        handle.flush()
        self._handle = handle
        return self

    def release(self):
        """Release the lock (closing the file releases it too)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def holds_a_run(path):
    """Whether ``path`` holds files an earlier run wrote."""
    path = Path(path)
    return path.is_dir() and any((path / name).exists() for name in RUN_FILES)


class RunFolder:
    """Paths and atomic writers of one run folder.

    Parameters
    ----------
    path : str or path-like
        The folder; `create` makes it, `open_existing` expects it.
    """

    def __init__(self, path):
        self.path = Path(path)
        self.lock = None

    @classmethod
    def create(cls, path, force=False):
        """Make and lock the folder (and parents), proving it writable, or raise `RunFolderError`.

        A folder that holds an earlier run is refused, and left as it is, unless
        ``force``; then that run's files are removed first.
        """
        folder = cls(path)
        if folder.path.exists() and not folder.path.is_dir():
            raise RunFolderError(f"cannot write to output folder {folder.path}: not a folder")
        try:
            folder.path.mkdir(parents=True, exist_ok=True)
            folder._lock()
            if holds_a_run(folder.path) and not force:
                resumable = (folder.path / MODEL_FILE).is_file()
                how = f"continue it with --resume {folder.path}, " if resumable else ""
                raise RunFolderError(
                    f"{folder.path} already holds a run; {how}replace it with --force, or "
                    "choose another --out"
                )
            if force:
                for name in RUN_FILES:
                    with contextlib.suppress(FileNotFoundError):
                        (folder.path / name).unlink()
            write_bytes_atomic(folder.path / ".write-test", b"")
            (folder.path / ".write-test").unlink()
        except OSError as err:
            folder.close()
            reason = err.strerror or type(err).__name__
            raise RunFolderError(
                f"cannot write to output folder {folder.path}: {reason}"
            ) from None
        except RunFolderError:
            folder.close()
            raise
        return folder

    @classmethod
    def open_existing(cls, path, lock=True):
        """A folder written by an earlier run (for --resume), locked, or `RunFolderError`."""
        folder = cls(path)
        if not folder.path.is_dir():
            raise RunFolderError(f"run folder not found: {folder.path}")
        for name in (CONFIG_FILE, MODEL_FILE):
            if not (folder.path / name).is_file():
                raise RunFolderError(
                    f"{folder.path} has no {name}: it is not a run folder that can be resumed"
                )
        if lock:
            try:
                folder._lock()
            except OSError as err:
                raise RunFolderError(
                    f"cannot lock run folder {folder.path}: {err.strerror or err}"
                ) from None
        return folder

    def _lock(self):
        self.lock = RunFolderLock(self.path).acquire()

    def close(self):
        """Release the folder's lock (also released when the process ends)."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None

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
