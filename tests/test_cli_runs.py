"""The run folder: atomic writes, JSON round trips, default names, unwritable places."""

import json
import os
import stat
import subprocess
import sys
import time

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
    assert folder.path.is_dir() and [p.name for p in folder.path.iterdir()] == [".lock"]
    folder.close()
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


# ---- the program's run folders: no overwrite, one writer, the user's umask -----------

FAST = ["--data", "iris", "--hidden", "4", "--epochs", "2"]


def nablanet(*argv, **kwargs):
    return subprocess.run([sys.executable, "-m", "nablanet", *argv], capture_output=True,
                          text=True, timeout=300, **kwargs)


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != ".lock"}


def test_an_existing_run_is_refused_and_left_untouched_unless_forced(tmp_path):
    out = tmp_path / "run"
    assert nablanet("train", *FAST, "--out", str(out)).returncode == 0
    before = _snapshot(out)
    again = nablanet("train", *FAST, "--seed", "3", "--out", str(out))
    assert again.returncode == 2
    assert "already holds a run" in again.stderr and "--force" in again.stderr
    assert "--resume" in again.stderr and len(again.stderr.strip().splitlines()) == 1
    assert _snapshot(out) == before
    forced = nablanet("train", *FAST, "--seed", "3", "--out", str(out), "--force")
    assert forced.returncode == 0, forced.stderr
    assert json.loads((out / "config.json").read_text())["seed"] == 3
    assert _snapshot(out)["model.npz"] != before["model.npz"]


def _start_long_training(out):
    command = [sys.executable, "-m", "nablanet", "train", "--data", "iris", "--hidden", "4",
               "--epochs", "100000", "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + 120
    while not (out / "model.npz").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (out / "model.npz").exists(), "the first training never wrote its checkpoint"
    return process


@pytest.mark.parametrize("stop", ["interrupt", "kill"])
def test_a_run_folder_is_locked_while_a_training_writes_it(tmp_path, stop):
    import signal

    out = tmp_path / "run"
    first = _start_long_training(out)
    try:
        for argv in (["--out", str(out), "--force", *FAST], ["--resume", str(out)]):
            second = nablanet("train", *argv)
            assert second.returncode == 2, second.stderr
            assert f"being written by nablanet train (pid {first.pid})" in second.stderr
            assert len(second.stderr.strip().splitlines()) == 1
    finally:
        first.send_signal(signal.SIGINT if stop == "interrupt" else signal.SIGKILL)
        first.communicate(timeout=60)
    # the lock went with the process, however it ended
    epochs = json.loads((out / "metrics.json").read_text())["history"][-1]["epoch"]
    resumed = nablanet("train", "--resume", str(out), "--epochs", str(epochs + 1))
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((out / "metrics.json").read_text())["status"] == "completed"


def test_files_are_written_with_the_users_umask(tmp_path):
    out = tmp_path / "run"
    done = nablanet("train", *FAST, "--out", str(out), preexec_fn=lambda: os.umask(0o022))
    assert done.returncode == 0, done.stderr
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir() if p.name != ".lock"}
    assert set(modes) >= {"model.npz", "config.json", "metrics.json", "loss.png"}
    assert set(modes.values()) == {0o644}, modes


def test_a_run_without_checkpoint_is_not_offered_for_resume(tmp_path):
    folder = RunFolder.create(tmp_path / "run")
    folder.write_config({"model": "mlp"})
    folder.close()
    with pytest.raises(RunFolderError, match="already holds a run; replace it with --force"):
        RunFolder.create(tmp_path / "run")
    RunFolder.create(tmp_path / "run", force=True).close()
    assert not (tmp_path / "run" / "config.json").exists()
