"""The run folder: atomic writes, JSON round trips, default names, unwritable places."""

import json
import os

import numpy as np
import pytest

from nablanet.cli.runs import (
    RunFolder,
    RunFolderError,
    default_run_dir,
    read_json,
    versions,
    write_bytes_atomic,
    write_json_atomic,
)


def test_json_round_trip_with_numpy_values(tmp_path):
    data = {"loss": np.float64(0.5), "curve": np.arange(3), "n": np.int64(4)}
    write_json_atomic(tmp_path / "m.json", data)
    assert read_json(tmp_path / "m.json") == {"loss": 0.5, "curve": [0, 1, 2], "n": 4}


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "metrics.json"
    write_json_atomic(target, {"epoch": 1})

    def crash(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        write_json_atomic(target, {"epoch": 2})
    monkeypatch.undo()
    assert json.loads(target.read_text()) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_unserialisable_value_is_a_type_error(tmp_path):
    with pytest.raises(TypeError, match="cannot store object"):
        write_json_atomic(tmp_path / "x.json", {"a": object()})


def test_default_run_dir_is_unique(tmp_path):
    first = default_run_dir(tmp_path, now=0)
    first.mkdir()
    second = default_run_dir(tmp_path, now=0)
    assert second.name == first.name + "-2"
    assert len(first.name) == len("20000101-000000")


def test_create_makes_parents_and_refuses_unwritable_places(tmp_path):
    folder = RunFolder.create(tmp_path / "a" / "b")
    assert folder.path.is_dir() and list(folder.path.iterdir()) == []
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunFolderError, match="cannot write to output folder"):
        RunFolder.create(tmp_path / "file" / "run")


def test_config_and_metrics_round_trip(tmp_path):
    folder = RunFolder.create(tmp_path / "run")
    assert folder.read_metrics() == {}
    folder.write_config({"seed": 3})
    folder.write_metrics({"status": "running"})
    assert folder.read_config() == {"seed": 3}
    assert folder.read_metrics() == {"status": "running"}
    assert folder.model_path == tmp_path / "run" / "model.npz"


def test_open_existing_needs_config_and_model(tmp_path):
    with pytest.raises(RunFolderError, match="run folder not found"):
        RunFolder.open_existing(tmp_path / "nothing")
    folder = RunFolder.create(tmp_path / "run")
    folder.write_config({})
    with pytest.raises(RunFolderError, match="has no model.npz"):
        RunFolder.open_existing(folder.path)


def test_broken_json_is_named(tmp_path):
    write_bytes_atomic(tmp_path / "config.json", b"{not json")
    with pytest.raises(RunFolderError, match="cannot read"):
        read_json(tmp_path / "config.json")


def test_versions_name_the_libraries():
    found = versions()
    assert found["numpy"] == np.__version__ and found["python"].count(".") == 2
