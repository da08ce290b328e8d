"""Atomic writes: a failure inside the block leaves the old file and no temporary behind."""

import pytest

from nablanet._atomic import atomic_writer


def test_failure_keeps_the_previous_file_and_cleans_up(tmp_path):
    target = tmp_path / "model.npz"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_writer(target) as handle:
            handle.write(b"half")
            raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def test_success_replaces_the_file(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_bytes(b"old")
    with atomic_writer(target) as handle:
        handle.write(b"new")
    assert target.read_bytes() == b"new"


def test_written_files_follow_the_umask(tmp_path):
    import os
    import stat

    old = os.umask(0o027)
    try:
        target = tmp_path / "out.bin"
        with atomic_writer(target) as handle:
            handle.write(b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_a_killed_writers_temporary_is_removed_by_the_next_save(tmp_path):
    import subprocess
    import sys

    # a real process that dies (SIGKILL) inside the block, leaving its temporary behind
    code = (
        "import os, signal, sys\n"
        "from nablanet._atomic import atomic_writer\n"
        "with atomic_writer(sys.argv[1]) as handle:\n"
        "    handle.write(b'half')\n"
        "    handle.flush()\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    target = tmp_path / "model.npz"
    done = subprocess.run([sys.executable, "-c", code, str(target)], timeout=60)
    assert done.returncode != 0
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".model.npz.") and left[0].endswith(".tmp")
    other = tmp_path / ".other.npz.999999999.x.tmp"  # another file's: not touched
    other.write_bytes(b"")
    with atomic_writer(target) as handle:
        handle.write(b"complete")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([other.name, "model.npz"])
    assert target.read_bytes() == b"complete"


def test_a_live_writers_temporary_is_kept(tmp_path):
    import os

    live = tmp_path / f".m.npz.{os.getppid()}.abc.tmp"  # the parent process is alive
    live.write_bytes(b"")
    with atomic_writer(tmp_path / "m.npz") as handle:
        handle.write(b"x")
    assert live.exists()
