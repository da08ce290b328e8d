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
