"""``nablanet train``: every bundled dataset, CSV / NPZ / IDX files, the run folder, resume."""

import json

import numpy as np
import pytest

from nablanet.cli.main import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FAST = ["--epochs", "2", "--hidden", "8", "--batch-size", "32"]


def assert_valid_png(path):
    import matplotlib.image as mpimg

    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = mpimg.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100


def assert_run_folder(folder, newton=False):
    from nablanet import load

    names = {p.name for p in folder.iterdir()}
    expected = {"model.npz", "config.json", "metrics.json", "loss.png", "confusion.png"}
    assert expected <= names
    assert ("convergence.png" in names) == newton
    assert not [n for n in names if n.endswith(".tmp")]
    for png in ("loss.png", "confusion.png") + (("convergence.png",) if newton else ()):
        assert_valid_png(folder / png)
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["stop_reason"]
    assert {"train_accuracy", "val_accuracy", "val_loss"} <= set(metrics["final"])
    assert 0.0 <= metrics["final"]["val_accuracy"] <= 1.0
    assert metrics["history"] and "numpy" in metrics["versions"]
    assert {"load_seconds", "fit_seconds", "total_seconds"} <= set(metrics["timings"])
    config = json.loads((folder / "config.json").read_text())
    assert config["seed"] == metrics["seed"]
    model = load(folder / "model.npz")
    assert model.n_features_in_ == metrics["n_features"]
    return metrics, config


@pytest.mark.parametrize("name", ["digits", "breast_cancer", "iris", "wine"])
def test_mlp_on_each_bundled_dataset(tmp_path, name, capsys):
    out = tmp_path / name
    assert main(["train", "--data", name, "--out", str(out), "--seed", "3", *FAST]) == 0
    metrics, config = assert_run_folder(out)
    assert config["data"] == name and config["seed"] == 3
    assert [row["epoch"] for row in metrics["history"]] == [1, 2]
    assert {"loss", "val_loss", "val_accuracy"} <= set(metrics["history"][0])
    printed = capsys.readouterr().out
    assert "val_accuracy" in printed and str(out) in printed


def test_options_reach_the_estimator(tmp_path):
    from nablanet import load

    out = tmp_path / "run"
    args = ["train", "--data", "iris", "--out", str(out), "--epochs", "1", "--hidden", "5,4",
            "--dropout", "0.1", "--lr", "0.01", "--batch-size", "20", "--solver", "sgd",
            "--test-size", "0.3"]
    assert main(args) == 0
    params = load(out / "model.npz").get_params()
    assert params["hidden_layer_sizes"] == (5, 4) and params["dropout"] == 0.1
    assert params["learning_rate"] == 0.01 and params["batch_size"] == 20
    assert params["optimizer"] == "sgd"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_validation"] == 45 and metrics["n_train"] == 105


def test_training_improves_digits(tmp_path):
    out = tmp_path / "run"
    args = ["train", "--out", str(out), "--epochs", "4", "--hidden", "32", "--lr", "0.01"]
    assert main(args) == 0
    history = json.loads((out / "metrics.json").read_text())["history"]
    assert history[-1]["loss"] < history[0]["loss"]
    assert history[-1]["val_accuracy"] > 0.8


def test_csv_file_with_named_target(tmp_path, rng):
    X = rng.normal(size=(60, 3))
    y = np.where(X[:, 0] > 0, "pos", "neg")
    lines = ["label,a,b,c"] + [f"{t},{r[0]},{r[1]},{r[2]}" for t, r in zip(y, X)]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "d.csv"), "--target", "label",
                 "--out", str(out), *FAST]) == 0
    _, config = assert_run_folder(out)
    assert config["target_column"] == "label"


def test_npz_file(tmp_path, rng):
    X = rng.normal(size=(50, 4))
    np.savez(tmp_path / "d.npz", X=X, y=(X[:, 1] > 0).astype(int))
    out = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "d.npz"), "--out", str(out), *FAST]) == 0
    assert_run_folder(out)


@pytest.mark.parametrize("compress", [False, True])
def test_idx_files(tmp_path, rng, compress):
    from _idx import write_idx

    suffix = ".gz" if compress else ""
    images = rng.integers(0, 256, size=(40, 3, 3))
    labels = (images[:, 0, 0] > 127).astype(np.uint8)
    write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", images, compress=compress)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", labels, compress=compress)
    out = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path), "--out", str(out), *FAST]) == 0
    metrics, _ = assert_run_folder(out)
    assert metrics["n_features"] == 9


def test_default_out_is_a_timestamped_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--data", "iris", "--epochs", "1", "--hidden", "4"]) == 0
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1 and runs[0].name[:8].isdigit()
    assert (runs[0] / "model.npz").is_file()


@pytest.mark.parametrize("model, data", [("logistic", "breast_cancer"), ("softmax", "iris")])
def test_newton_models(tmp_path, model, data):
    out = tmp_path / model
    assert main(["train", "--model", model, "--data", data, "--out", str(out)]) == 0
    metrics, _ = assert_run_folder(out, newton=True)
    norms = [row["grad_norm"] for row in metrics["history"]]
    assert norms[-1] < 1e-6 * norms[0]
    assert metrics["final"]["iterations"] == len(metrics["history"])
    assert [row["iteration"] for row in metrics["history"]] == list(range(1, len(norms) + 1))
    assert metrics["final"]["val_accuracy"] > 0.85


# ---- checkpoints and resume ---------------------------------------------------------
def _model_contents(path):
    with np.load(path, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files if k != "__meta__"}
        meta = json.loads(archive["__meta__"].tobytes().decode())
    return arrays, meta["fitted"]


def assert_same_model(a, b):
    arrays_a, fitted_a = _model_contents(a)
    arrays_b, fitted_b = _model_contents(b)
    assert arrays_a.keys() == arrays_b.keys()
    for key in arrays_a:
        np.testing.assert_array_equal(arrays_a[key], arrays_b[key], err_msg=key)
    assert fitted_a == fitted_b


RESUME_ARGS = ["train", "--data", "wine", "--hidden", "8", "--batch-size", "16", "--epochs", "4",
               "--seed", "7"]


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """An uninterrupted run: the reference every resumed run must reproduce exactly."""
    out = tmp_path_factory.mktemp("reference") / "full"
    assert main(RESUME_ARGS + ["--out", str(out)]) == 0
    return out


def test_interrupted_run_resumes_to_identical_weights(tmp_path, monkeypatch, full):
    from nablanet import MLPClassifier, load

    cut = tmp_path / "cut"

    original, calls = MLPClassifier.partial_fit, []

    def interrupted_in_epoch_3(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(MLPClassifier, "partial_fit", interrupted_in_epoch_3)
    assert main(RESUME_ARGS + ["--out", str(cut)]) == 130
    monkeypatch.undo()
    metrics = json.loads((cut / "metrics.json").read_text())
    assert metrics["status"] == "interrupted" and "--resume" in metrics["stop_reason"]
    assert len(metrics["history"]) == 2 and load(cut / "model.npz").n_iter_ == 2

    assert main(["train", "--resume", str(cut)]) == 0
    assert_same_model(full / "model.npz", cut / "model.npz")
    resumed = json.loads((cut / "metrics.json").read_text())
    reference = json.loads((full / "metrics.json").read_text())
    assert resumed["status"] == "completed"
    for a, b in zip(resumed["history"], reference["history"], strict=True):
        assert a["loss"] == b["loss"] and a["val_accuracy"] == b["val_accuracy"]


def test_interrupt_during_checkpoint_keeps_previous_one(tmp_path, monkeypatch, full):
    from nablanet import load
    from nablanet.models import io as model_io

    original, calls = model_io.save, []

    def interrupted_second_save(estimator, path, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(estimator, path, **kwargs)

    monkeypatch.setattr(model_io, "save", interrupted_second_save)
    cut = tmp_path / "cut"
    assert main(RESUME_ARGS + ["--out", str(cut)]) == 130
    monkeypatch.undo()
    assert load(cut / "model.npz").n_iter_ == 1
    assert len(json.loads((cut / "metrics.json").read_text())["history"]) == 1
    assert main(["train", "--resume", str(cut)]) == 0
    assert_same_model(full / "model.npz", cut / "model.npz")


def test_resume_can_extend_a_finished_run(tmp_path, full):
    short = tmp_path / "short"
    assert main(RESUME_ARGS[:-4] + ["--epochs", "2", "--seed", "7", "--out", str(short)]) == 0
    assert main(["train", "--resume", str(short), "--epochs", "4"]) == 0
    assert_same_model(short / "model.npz", full / "model.npz")
    assert json.loads((short / "config.json").read_text())["epochs"] == 4


def test_real_ctrl_c_keeps_the_last_checkpoint(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from nablanet import load

    out = tmp_path / "run"
    command = [sys.executable, "-m", "nablanet", "train", "--data", "iris", "--hidden", "4",
               "--epochs", "100000", "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (out / "model.npz").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "--resume" in stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "interrupted"
    assert load(out / "model.npz").n_iter_ == len(metrics["history"]) >= 1


# ---- what the program says and records -------------------------------------------------
def _nablanet(*argv):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "nablanet", *argv], capture_output=True,
                          text=True, timeout=300)


def test_progress_off_a_terminal_is_a_line_per_epoch(tmp_path):
    done = _nablanet("train", "--data", "iris", "--hidden", "4", "--epochs", "3",
                     "--out", str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in lines] == ["1/3", "2/3", "3/3"]
    assert all("loss" in line and "val_acc" in line for line in lines)
    newton = _nablanet("train", "--data", "breast_cancer", "--model", "logistic", "--solver",
                       "gd", "--epochs", "5", "--out", str(tmp_path / "gd"))
    assert newton.returncode == 0, newton.stderr
    assert "gradient-descent iteration" in newton.stdout and "Newton" not in newton.stdout


def test_every_option_that_does_not_apply_is_named(tmp_path):
    done = _nablanet("train", "--data", "breast_cancer", "--model", "logistic", "--lr", "0.1",
                     "--hidden", "4", "--dropout", "0.1", "--batch-size", "8", "--target", "t",
                     "--out", str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stderr.splitlines() if "ignored" in line]
    assert len(notes) == 1, done.stderr
    for flag in ("--lr", "--hidden", "--dropout", "--batch-size", "--target"):
        assert flag in notes[0]


def test_resume_says_what_it_does(tmp_path):
    out = tmp_path / "run"
    assert _nablanet("train", *RESUME_ARGS[1:-4], "--epochs", "2", "--out",
                     str(out)).returncode == 0
    config_before = (out / "config.json").read_bytes()
    fewer = _nablanet("train", "--resume", str(out), "--epochs", "1")
    assert fewer.returncode == 2
    assert "already trained 2 epochs, more than --epochs 1; nothing done" in fewer.stderr
    assert (out / "config.json").read_bytes() == config_before
    same = _nablanet("train", "--resume", str(out))
    assert same.returncode == 0 and "has trained all 2 epochs: nothing to do" in same.stdout
    more = _nablanet("train", "--resume", str(out), "--epochs", "3")
    assert more.returncode == 0, more.stderr
    assert "after epoch 2: 1 more to 3 (--epochs 3 extends the planned 2)" in more.stdout
    assert json.loads((out / "metrics.json").read_text())["final"]["epochs"] == 3


@pytest.mark.parametrize("model", ["mlp", "softmax"])
def test_a_failed_training_is_recorded_as_failed(tmp_path, monkeypatch, capsys, model):
    from nablanet import MLPClassifier, SoftmaxRegression

    class Diverged(ValueError):
        pass

    def diverge(self, *args, **kwargs):
        raise Diverged("the loss became NaN at epoch 1; lower --lr")

    target = MLPClassifier if model == "mlp" else SoftmaxRegression
    monkeypatch.setattr(target, "partial_fit" if model == "mlp" else "fit", diverge)
    out = tmp_path / "run"
    assert main(["train", "--model", model, "--data", "wine", "--out", str(out)]) == 2
    assert "lower --lr" in capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "failed" and "became NaN" in metrics["stop_reason"]


def test_headerless_csv_with_no_header(tmp_path, rng):
    X = rng.normal(size=(40, 2))
    y = (X[:, 0] > 0).astype(int)
    path = tmp_path / "plain.csv"
    path.write_text("".join(f"{a},{b},{c}\n" for (a, b), c in zip(X, y)))
    out = tmp_path / "run"
    assert main(["train", "--data", str(path), "--no-header", "--out", str(out), *FAST]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["no_header"] is True and config["feature_names"] is None  # by position


def test_integer_valued_float_labels_are_classes(tmp_path, rng):
    from nablanet import load

    X = rng.normal(size=(40, 2))
    labels = np.where(X[:, 0] > 0, "1.0", "0.0")
    path = tmp_path / "floats.csv"
    path.write_text("a,b,y\n" + "".join(f"{a},{b},{c}\n" for (a, b), c in zip(X, labels)))
    out = tmp_path / "run"
    assert main(["train", "--data", str(path), "--out", str(out), *FAST]) == 0
    classes = load(out / "model.npz").classes_
    assert classes.dtype.kind == "i" and classes.tolist() == [0, 1]


def test_hessian_free_solver_trains_the_mlp(tmp_path):
    out = tmp_path / "hf"
    assert main(["train", "--data", "iris", "--solver", "hessian-free", "--epochs", "3",
                 "--hidden", "8", "--out", str(out)]) == 0
    assert_run_folder(out)
    config = json.loads((out / "config.json").read_text())
    assert config["solver"] == "hessian-free"
