"""Every bad input of the issue: a one-line message naming the problem, exit status 2."""

import shutil
import subprocess
import sys

import numpy as np
import pytest

from nablanet.cli.main import main


def run_bad(argv, capsys):
    """Run the program, expect status 2, return the single stderr line."""
    capsys.readouterr()
    status = main(argv)
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def write(path, text):
    path.write_text(text)
    return str(path)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("errors") / "run"
    assert main(["train", "--data", "iris", "--out", str(out), "--epochs", "1",
                 "--hidden", "4"]) == 0
    return out


# ---- training data ----------------------------------------------------------------
@pytest.mark.parametrize(
    "content, extra, words",
    [
        (None, [], "file not found"),
        (b"\xff\xfe\x00\x9c\x81", [], "cannot read CSV .*not UTF-8"),
        ("a,b,t\n1,x,0\n2,3,1\n", [], "non-numeric value 'x' in column 'b'"),
        ("a,b,t\n1,2,0\n2,3,1\n", ["--target", "label"], "target column 'label' not found"),
        ("a,b,t\n1,nan,0\n2,3,1\n", [], "1 missing values .*column 'b' at line 2"),
        ("a,b,t\n1,inf,0\n2,-inf,1\n", [], "2 infinite values.*column 'b' at line 2"),
        ("a,b,t\n1,2,0\n2,3,\n", [], "missing label '' in column 't' .*at line 3"),
        ("a,b,t\n1,2,0.5\n2,3,1\n4,5,2\n", [], "labels look continuous.*0.5 \\(line 2\\)"),
        ("a,b,t\n1,2,1e300\n2,3,1\n", [], "1e\\+300 \\(line 2\\): too large to be a class"),
        ("1,2,0\n2,3,1\n", [], "looks like data, not a header.*--no-header"),
        ("a;b;t\n1;2;0\n2;3;1\n", [], "its lines hold semicolons"),
        ("a,b,t\n1,2,0\n2,3,0\n4,5,0\n", [], "at least 2 classes, got a single class"),
        ("a,b,t\n1,2,0\n", [], "at least 2 samples"),
    ],
    ids=["missing", "unreadable", "non-numeric", "no-target", "nan", "inf", "no-label",
         "continuous", "huge-label", "no-header", "semicolons", "one-class", "one-sample"],
)
def test_bad_training_csv(tmp_path, capsys, content, extra, words):
    path = tmp_path / "data.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    line = run_bad(["train", "--data", str(path), "--out", str(tmp_path / "run"), *extra],
                   capsys)
    assert line.startswith("nablanet: error: ")
    assert pytest.importorskip("re").search(words, line), line
    assert not (tmp_path / "run").exists()  # nothing half-made for bad input


def test_nan_in_npz(tmp_path, capsys):
    np.savez(tmp_path / "d.npz", X=np.array([[1.0, np.nan], [2.0, 3.0]]), y=np.array([0, 1]))
    assert "finite" in run_bad(["train", "--data", str(tmp_path / "d.npz")], capsys)


def test_unknown_dataset_name(capsys):
    line = run_bad(["train", "--data", "mnist"], capsys)
    assert "unknown dataset 'mnist'" in line and "digits" in line


def test_output_folder_that_cannot_be_written(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    line = run_bad(["train", "--data", "iris", "--out", str(blocker / "run")], capsys)
    assert "cannot write to output folder" in line and "a-file" in line


def test_logistic_on_multiclass_data_names_the_fix(capsys):
    line = run_bad(["train", "--model", "logistic", "--data", "iris"], capsys)
    assert "3 classes" in line and "--model softmax" in line


@pytest.mark.parametrize(
    "option, words",
    [
        (["--epochs", "0"], "--epochs: expected a positive integer"),
        (["--lr", "-1"], "--lr: expected a number"),
        (["--dropout", "1.0"], "--dropout: expected a number in [0.0, 1.0)"),
        (["--hidden", "8,x"], "--hidden: expected layer widths"),
        (["--test-size", "1.5"], "--test-size"),
        (["--model", "svm"], "invalid choice: 'svm'"),
        (["--solver", "lbfgs"], "--solver 'lbfgs' is not available for --model mlp"),
        (["--frobnicate"], "unrecognized arguments"),
    ],
)
def test_bad_option_values(capsys, option, words):
    assert words in run_bad(["train", *option], capsys)


def test_resume_of_a_folder_that_is_not_a_run(tmp_path, capsys):
    line = run_bad(["train", "--resume", str(tmp_path)], capsys)
    assert "has no config.json" in line


# ---- prediction --------------------------------------------------------------------
def test_feature_count_mismatch(tmp_path, capsys, run_dir):
    data = write(tmp_path / "x.csv", "a,b\n1,2\n3,4\n")
    line = run_bad(["predict", str(run_dir), "--data", data], capsys)
    assert "feature count mismatch: the model expects 4 features, the data has 2" in line


def test_extra_label_column_suggests_target(tmp_path, capsys, run_dir):
    data = write(tmp_path / "x.csv", "a,b,c,d,label\n1,2,3,4,0\n")
    assert "--target" in run_bad(["predict", str(run_dir), "--data", data], capsys)


def test_corrupt_model_file(tmp_path, capsys, run_dir):
    broken = tmp_path / "model.npz"
    content = (run_dir / "model.npz").read_bytes()
    broken.write_bytes(content[: len(content) // 3])
    line = run_bad(["predict", str(broken), "--data", "iris"], capsys)
    assert "not a readable nablanet model file" in line


def test_tampered_model_file(tmp_path, capsys, run_dir):
    import zipfile

    with zipfile.ZipFile(run_dir / "model.npz") as source:
        entries = {name: source.read(name) for name in source.namelist()}
    weights = next(name for name in entries if name.endswith("weight.npy"))
    blob = bytearray(entries[weights])
    blob[-1] ^= 0xFF  # one byte of one weight changed, the file still a valid archive
    entries[weights] = bytes(blob)
    with zipfile.ZipFile(tmp_path / "model.npz", "w") as out:
        for name, content in entries.items():
            out.writestr(name, content)
    line = run_bad(["predict", str(tmp_path / "model.npz"), "--data", "iris"], capsys)
    assert "modified after saving" in line


def test_missing_model_and_missing_data(tmp_path, capsys, run_dir):
    assert "model not found" in run_bad(
        ["predict", str(tmp_path / "none.npz"), "--data", "iris"], capsys)
    assert "file not found" in run_bad(
        ["predict", str(run_dir), "--data", str(tmp_path / "none.csv")], capsys)


def test_prediction_output_that_cannot_be_written(tmp_path, capsys, run_dir):
    target = tmp_path / "missing-folder" / "out.csv"
    line = run_bad(["predict", str(run_dir), "--data", "iris", "--output", str(target)], capsys)
    assert "cannot write" in line


def test_folder_without_model_is_not_a_run(tmp_path, capsys):
    assert "not a nablanet run folder" in run_bad(
        ["predict", str(tmp_path), "--data", "iris"], capsys)


# ---- --debug and the real program ---------------------------------------------------
def test_debug_shows_the_traceback(capsys):
    capsys.readouterr()
    assert main(["train", "--data", "mnist", "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "DataError" in err
    assert err.strip().splitlines()[-1].startswith("nablanet: error: unknown dataset")


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "train" in capsys.readouterr().err


def test_the_installed_program_exits_2_without_traceback(tmp_path):
    program = shutil.which("nablanet")
    command = [program] if program else [sys.executable, "-m", "nablanet"]
    done = subprocess.run([*command, "train", "--data", str(tmp_path / "none.csv")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("nablanet: error: file not found")
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
