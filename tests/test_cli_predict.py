"""``nablanet predict``: CSV predictions (and probabilities) from a run folder or model file."""

import csv
import io

import numpy as np
import pytest

from nablanet.cli.main import main

# the run's model remembers its CSV column names; these tests also call it on bare arrays
pytestmark = pytest.mark.filterwarnings("ignore:X does not have valid feature names")


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory):
    """A small run trained on a CSV file whose label column is in the middle."""
    folder = tmp_path_factory.mktemp("predict")
    rng = np.random.default_rng(4)
    X = rng.normal(size=(60, 3))
    y = np.where(X[:, 0] + X[:, 2] > 0, "yes", "no")
    rows = [f"{a},{label},{b},{c}" for (a, b, c), label in zip(X, y)]
    (folder / "data.csv").write_text("a,answer,b,c\n" + "\n".join(rows) + "\n")
    run = folder / "run"
    args = ["train", "--data", str(folder / "data.csv"), "--target", "answer", "--out", str(run),
            "--epochs", "3", "--hidden", "8", "--batch-size", "16", "--lr", "0.01"]
    assert main(args) == 0
    return folder, run, X


def _read(path):
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def test_predict_from_run_folder_drops_the_training_target(csv_run, capsys):
    from nablanet import load

    folder, run, X = csv_run
    capsys.readouterr()
    assert main(["predict", str(run), "--data", str(folder / "data.csv")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "prediction" and len(lines) == 61
    expected = load(run / "model.npz").predict(X).tolist()
    assert lines[1:] == expected
    assert set(expected) <= {"yes", "no"}


def test_predict_probabilities_to_a_file(csv_run, tmp_path):
    from nablanet import load

    folder, run, X = csv_run
    out = tmp_path / "predictions.csv"
    assert main(["predict", str(run / "model.npz"), "--data", str(folder / "data.csv"),
                 "--target", "answer", "--proba", "--output", str(out)]) == 0
    table = _read(out)
    assert table[0] == ["prediction", "proba_no", "proba_yes"]
    proba = np.array([[float(v) for v in row[1:]] for row in table[1:]])
    model = load(run / "model.npz")
    np.testing.assert_allclose(proba, model.predict_proba(X), rtol=0, atol=1e-15)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    assert [row[0] for row in table[1:]] == model.predict(X).tolist()


def test_predict_on_npz_and_csv_without_labels(csv_run, tmp_path, capsys):
    folder, run, X = csv_run
    np.savez(tmp_path / "new.npz", X=X[:5])
    assert main(["predict", str(run), "--data", str(tmp_path / "new.npz")]) == 0
    from_npz = capsys.readouterr().out
    (tmp_path / "new.csv").write_text(
        "a,b,c\n" + "\n".join(",".join(repr(float(v)) for v in row) for row in X[:5]) + "\n"
    )
    assert main(["predict", str(run), "--data", str(tmp_path / "new.csv")]) == 0
    assert capsys.readouterr().out == from_npz
    assert len(from_npz.splitlines()) == 6


def test_predict_on_idx_images(tmp_path, capsys):
    from _idx import write_idx
    from nablanet import load

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(30, 2, 2))
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", images, compress=True)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", (images[:, 0, 0] > 127), compress=True)
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path), "--out", str(run), "--epochs", "1",
                 "--hidden", "4"]) == 0
    capsys.readouterr()
    assert main(["predict", str(run), "--data",
                 str(tmp_path / "train-images-idx3-ubyte.gz")]) == 0
    printed = capsys.readouterr().out.splitlines()[1:]
    expected = load(run / "model.npz").predict(images.reshape(30, 4).astype(float))
    assert [int(v) for v in printed] == expected.tolist()


def test_predictions_table_rows():
    from nablanet.cli.predict import predictions_table

    class Fixed:
        classes_ = np.array([0, 1])

        def predict(self, X):
            return np.array([1, 0])

        def predict_proba(self, X):
            return np.array([[0.25, 0.75], [0.5, 0.5]])

    header, rows = predictions_table(Fixed(), np.zeros((2, 1)), proba=True)
    assert header == ["prediction", "proba_0", "proba_1"]
    assert rows == [(1, 0.25, 0.75), (0, 0.5, 0.5)]
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    assert out.getvalue().splitlines()[0] == "1,0.25,0.75"


def _predict_csv(run, path, capsys, *extra):
    capsys.readouterr()
    status = main(["predict", str(run), "--data", str(path), *extra])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_columns_are_matched_by_name(csv_run, tmp_path, capsys):
    from nablanet import load

    folder, run, X = csv_run
    assert load(run / "model.npz").feature_names_in_.tolist() == ["a", "b", "c"]
    status, expected, _ = _predict_csv(run, folder / "data.csv", capsys)
    assert status == 0
    shuffled = tmp_path / "shuffled.csv"  # columns reordered, no label column
    shuffled.write_text("c,a,b\n" + "".join(f"{c},{a},{b}\n" for a, b, c in X))
    status, out, _ = _predict_csv(run, shuffled, capsys)
    assert status == 0 and out == expected
    # by position the same file would predict something else: the test can fail
    swapped = X[:, [2, 0, 1]]
    assert load(run / "model.npz").predict(swapped).tolist() != expected.splitlines()[1:]


@pytest.mark.parametrize("header, words", [
    ("a,b", "missing 'c'"),
    ("a,b,c,d", "extra 'd'"),
    ("a,b,x", "missing 'c'; extra 'x'"),
])
def test_missing_or_extra_columns_are_named(csv_run, tmp_path, capsys, header, words):
    folder, run, _ = csv_run
    path = tmp_path / "new.csv"
    width = header.count(",") + 1
    path.write_text(header + "\n" + ",".join(["1"] * width) + "\n")
    status, out, err = _predict_csv(run, path, capsys)
    assert status == 2 and out == ""
    assert "do not match the model's training columns (a, b, c)" in err and words in err


def test_headerless_prediction_data(csv_run, tmp_path, capsys):
    folder, run, X = csv_run
    path = tmp_path / "plain.csv"
    path.write_text("".join(f"{a},{b},{c}\n" for a, b, c in X))
    status, _, err = _predict_csv(run, path, capsys)
    assert status == 2 and "looks like data" in err and "--no-header" in err
    status, out, _ = _predict_csv(run, path, capsys, "--no-header")
    assert status == 0
    status, expected, _ = _predict_csv(run, folder / "data.csv", capsys)
    assert out == expected  # by position, in the training order
