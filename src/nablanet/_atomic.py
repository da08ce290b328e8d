"""Atomic file writes: a synced temporary file in the same folder, then ``os.replace``.

A crash or Ctrl-C at any moment leaves either the old file or the new one,
never a partial file.  Model files and run-folder files both go through here.
The file gets the permissions of any new file (``0o666`` less the umask), not
the ``0o600`` of a temporary file.  A process killed mid-save leaves its
temporary file behind; the next save into that folder removes it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

_SUFFIX = ".tmp"


def _umask():
    # os.umask can only be read by setting it; set it back at once
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def _process_alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's) or unknown: leave its file alone
    return True


def remove_stale_temporaries(folder, name):
    """Delete ``.{name}.<pid>.*.tmp`` files in ``folder`` whose writing process is gone.

    Returns
    -------
    list of str
        The paths removed.
    """
    removed = []
    prefix = f".{name}."
    try:
        candidates = os.listdir(folder)
    except OSError:
        return removed
    for entry in candidates:
        if not (entry.startswith(prefix) and entry.endswith(_SUFFIX)):
            continue
        pid_text = entry[len(prefix):].split(".", 1)[0]
        if not pid_text.isdigit() or _process_alive(int(pid_text)):
            continue
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(folder, entry))
            removed.append(os.path.join(folder, entry))
    return removed


@contextlib.contextmanager
def atomic_writer(path):
    """Open a binary handle whose contents replace ``path`` only if the block succeeds.

    Examples
    --------
    >>> import os, tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "out.bin")
    >>> with atomic_writer(target) as handle:
    ...     _ = handle.write(b"complete")
    >>> open(target, "rb").read()
    b'complete'
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(path)
    remove_stale_temporaries(folder, name)
    # the writer's pid is in the name, so a later save can tell a dead writer's leftover
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.{os.getpid()}.", suffix=_SUFFIX, dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            if hasattr(os, "fchmod"):
                os.fchmod(handle.fileno(), 0o666 & ~_umask())
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
