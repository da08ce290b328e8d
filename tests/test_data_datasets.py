"""load_dataset: bundled names, files by suffix, and validation of what comes back."""

import numpy as np
import pytest

from nablanet.data import BUNDLED, DataError, Dataset, load_dataset

EXPECTED = {
    "digits": (1797, 64, 10),
    "breast_cancer": (569, 30, 2),
    "iris": (150, 4, 3),
    "wine": (178, 13, 3),
}


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_datasets(name):
    data = load_dataset(name)
    n, d, k = EXPECTED[name]
    assert isinstance(data, Dataset) and data.name == name
    assert data.X.shape == (n, d) and data.X.dtype == np.float64
    assert data.y.shape == (n,) and np.unique(data.y).size == k
    assert len(data.feature_names) == d and len(data.target_names) == k
    assert data.n_samples == n and data.n_features == d


def test_unknown_name_lists_the_choices():
    with pytest.raises(DataError, match="unknown dataset 'mnist'.*digits, breast_cancer"):
        load_dataset("mnist")


def test_missing_path_says_file_not_found(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        load_dataset(tmp_path / "x.csv")


def test_csv_path_with_target(tmp_path):
    (tmp_path / "d.csv").write_text("y,a\n0,1\n1,2\n0,3\n")
    data = load_dataset(str(tmp_path / "d.csv"), target="y")
    assert data.name == "d" and data.target == "y" and data.feature_names == ["a"]
    np.testing.assert_array_equal(data.X[:, 0], [1, 2, 3])


def test_npz_path(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.arange(6).reshape(3, 2), y=np.array([1, 0, 1]))
    data = load_dataset(tmp_path / "d.npz")
    assert data.X.dtype == np.float64 and data.feature_names == ["x0", "x1"]


def test_idx_pair_as_tuple(tmp_path):
    from _idx import write_idx

    a = write_idx(tmp_path / "i-images-idx3-ubyte", np.arange(8).reshape(2, 2, 2))
    b = write_idx(tmp_path / "i-labels-idx1-ubyte", np.array([0, 1]))
    assert load_dataset((a, b)).X.shape == (2, 4)
    assert load_dataset(a).y.tolist() == [0, 1]


@pytest.mark.parametrize(
    "text, words",
    [
        ("a,t\n1,0\n", "at least 2 samples"),
        ("a,t\n1,0\n2,0\n", "single class"),
        ("a,t\nnan,0\n2,1\n", "finite"),
        ("a,t\ninf,0\n2,1\n", "finite"),
    ],
)
def test_validation_applies_to_files(tmp_path, text, words):
    (tmp_path / "d.csv").write_text(text)
    with pytest.raises(DataError, match=words):
        load_dataset(tmp_path / "d.csv")


def test_unsupported_suffix(tmp_path):
    (tmp_path / "d.txt").write_text("1 2\n")
    with pytest.raises(DataError, match="unsupported data file"):
        load_dataset(tmp_path / "d.txt")


def test_import_nablanet_data_does_not_import_sklearn():
    import subprocess
    import sys

    code = "import nablanet.data, sys; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
