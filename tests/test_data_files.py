"""File readers on small CSV, NPZ and IDX files written here (plain and gzip IDX)."""

import struct

import numpy as np
import pytest

from _idx import write_idx
from nablanet.data import DataError, read_csv, read_csv_features, read_idx, read_idx_pair, read_npz
from nablanet.data.files import find_idx_pair, is_idx_path


# ---- CSV -----------------------------------------------------------------------------
def test_csv_default_target_is_last_column(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,label\n1,2.5,0\n3,-4e1,1\n5,6,1\n")
    X, y, names, target = read_csv(path)
    np.testing.assert_array_equal(X, [[1, 2.5], [3, -40], [5, 6]])
    assert y.dtype == np.int64 and y.tolist() == [0, 1, 1]
    assert names == ["a", "b"] and target == "label"


def test_csv_named_target_and_word_labels(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("kind,a,b\ncat,1,2\ndog,3,4\n")
    X, y, names, target = read_csv(path, target="kind")
    np.testing.assert_array_equal(X, [[1, 2], [3, 4]])
    assert y.tolist() == ["cat", "dog"] and names == ["a", "b"]


def test_csv_fractional_labels_stay_float(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,t\n1,0.5\n2,1.5\n")
    assert read_csv(path)[1].dtype == np.float64


@pytest.mark.parametrize(
    "text, target, words",
    [
        ("a,b\n1,x\n", "a", "non-numeric value 'x' in column 'b'"),
        ("a,b,t\n1,,0\n", None, "has 1 missing values .*column 'b' at line 2"),
        ("a,b,t\n\n1,NA,0\n3,4,1\n", None, "has 1 missing values .*column 'b' at line 3"),
        ("a,b,t\n1,2,0\n3,inf,1\n", None, "has 1 infinite values.*column 'b' at line 3"),
        ("a,b,t\n1,2,0\n3,-1e300,1\n", None, "values beyond 1e\\+150.*column 'b' at line 3"),
        ("a,b,t\n1,2,0\n3,4,\n", None, "missing label '' in column 't' .* at line 3"),
        ("1,2,0\n3,4,1\n", None, "first row .* looks like data.*--no-header"),
        ("a;b;t\n1;2;0\n", None, "one column; its lines hold semicolons"),
        ("a,a,t\n1;2;0\n", None, "names column 'a' more than once"),
        ("a\tb\tt\n1\t2\t0\n", None, "one column; its lines hold tabs"),
        ("a,b,t\n1;2;0\n", None, "line 2 has 1 fields.*semicolons"),
        ("a,t\n1,0\n", "label", "target column 'label' not found.*columns are: a, t"),
        ("a,t\n", None, "header row and at least one data row"),
        ("a,t\n1,2,3\n", None, "line 2 has 3 fields, the header has 2"),
        ("t\n1\n", None, "at least one feature column"),
    ],
)
def test_csv_errors(tmp_path, text, target, words):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=words):
        read_csv(path, target)


def test_csv_binary_garbage_is_unreadable(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"\xff\xfe\x00\x81garbage")
    with pytest.raises(DataError, match="cannot read CSV"):
        read_csv(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_csv(tmp_path / "nope.csv")


def test_csv_features_drop_the_target(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,t,b\n1,0,2\n")
    X, names = read_csv_features(path, drop="t")
    np.testing.assert_array_equal(X, [[1, 2]])
    assert names == ["a", "b"]


# ---- NPZ -----------------------------------------------------------------------------
def test_npz_round_trip(tmp_path, rng):
    X, y = rng.normal(size=(5, 3)), np.array([0, 1, 0, 1, 1])
    np.savez(tmp_path / "d.npz", X=X, y=y)
    X2, y2 = read_npz(tmp_path / "d.npz")
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)


def test_npz_missing_array_is_named(tmp_path):
    np.savez(tmp_path / "d.npz", features=np.eye(2), y=np.arange(2))
    with pytest.raises(DataError, match="missing X.*found: features, y"):
        read_npz(tmp_path / "d.npz")


def test_npz_without_y_for_prediction(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.eye(2))
    X, y = read_npz(tmp_path / "d.npz", require_y=False)
    assert y is None and X.shape == (2, 2)


def test_npz_refuses_pickled_objects(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.array([{"a": 1}], dtype=object), y=np.arange(1))
    with pytest.raises(DataError, match="cannot read NPZ .*holds Python objects") as caught:
        read_npz(tmp_path / "d.npz")
    assert "allow_pickle" not in str(caught.value)


def test_npz_that_is_another_file(tmp_path):
    (tmp_path / "d.npz").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="not an NPZ archive") as caught:
        read_npz(tmp_path / "d.npz")
    assert "pickle" not in str(caught.value)


def test_npz_truncated(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.eye(20), y=np.arange(20))
    content = (tmp_path / "d.npz").read_bytes()
    (tmp_path / "d.npz").write_bytes(content[: len(content) // 2])
    with pytest.raises(DataError, match="cannot read NPZ"):
        read_npz(tmp_path / "d.npz")


# ---- IDX -----------------------------------------------------------------------------
@pytest.mark.parametrize("compress", [False, True])
def test_idx_pair_from_directory(tmp_path, rng, compress):
    images = rng.integers(0, 256, size=(6, 4, 3))
    labels = np.array([0, 1, 2, 3, 4, 5])
    suffix = ".gz" if compress else ""
    write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", images, compress=compress)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", labels, compress=compress)
    X, y = read_idx_pair(tmp_path)
    np.testing.assert_array_equal(X, images.reshape(6, 12))
    assert X.dtype == np.float64 and y.tolist() == labels.tolist()


def test_idx_images_file_finds_labels_beside_it(tmp_path):
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.ones((2, 2, 2)), compress=True)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([1, 0]))
    X, y = read_idx_pair(tmp_path / "t10k-images-idx3-ubyte.gz")
    assert X.shape == (2, 4) and y.tolist() == [1, 0]


def test_idx_pair_by_comma_and_tuple(tmp_path):
    a = write_idx(tmp_path / "a.idx3", np.zeros((3, 2, 2)))
    b = write_idx(tmp_path / "b.idx1", np.array([0, 1, 1]))
    assert read_idx_pair(f"{a},{b}")[0].shape == (3, 4)
    assert find_idx_pair((a, b)) == (a, b)


def test_idx_other_types_and_byte_order(tmp_path):
    values = np.array([[1.5, -2.0], [3.25, 0.0]])
    path = write_idx(tmp_path / "f.idx", values, type_code=0x0D)
    out = read_idx(path)
    np.testing.assert_array_equal(out, values)
    assert out.dtype.isnative
    shorts = read_idx(write_idx(tmp_path / "s.idx", np.array([-300, 7]), type_code=0x0B))
    assert shorts.tolist() == [-300, 7]


@pytest.mark.parametrize(
    "content, words",
    [
        (b"\x01\x02\x08\x01", "bad magic"),
        (b"\x00\x00\x08\x02\x00\x00", "truncated inside its header"),
        (struct.pack(">BBBBI", 0, 0, 8, 1, 5) + b"\x01\x02", "should hold 5 data bytes"),
    ],
)
def test_idx_corrupt(tmp_path, content, words):
    path = tmp_path / "x-labels-idx1-ubyte"
    path.write_bytes(content)
    with pytest.raises(DataError, match=words):
        read_idx(path)


def test_idx_count_mismatch_and_missing_labels(tmp_path):
    write_idx(tmp_path / "a-images-idx3-ubyte", np.zeros((3, 2, 2)))
    with pytest.raises(DataError, match="no labels file"):
        read_idx_pair(tmp_path / "a-images-idx3-ubyte")
    write_idx(tmp_path / "a-labels-idx1-ubyte", np.array([0, 1]))
    with pytest.raises(DataError, match="3 samples but labels hold 2"):
        read_idx_pair(tmp_path)


def test_idx_directory_without_files(tmp_path):
    with pytest.raises(DataError, match="must hold"):
        read_idx_pair(tmp_path)


def test_is_idx_path():
    assert is_idx_path("train-labels-idx1-ubyte")
    assert is_idx_path("x.idx3.gz") and not is_idx_path("x.npz")


def test_csv_without_header_when_told(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("1,2,0\n3,4,1\n")
    X, y, names, target = read_csv(path, header=False)
    np.testing.assert_array_equal(X, [[1, 2], [3, 4]])
    assert y.tolist() == [0, 1] and names == ["x0", "x1"] and target == "x2"


def test_csv_huge_integral_labels_stay_float(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,t\n1,1e300\n2,0\n")
    assert read_csv(path)[1].dtype == np.float64  # not an overflowed int64


def test_csv_byte_order_mark_is_not_part_of_the_first_name(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffa,b,t\n1,2,0\n3,4,1\n".encode("utf-8"))
    assert read_csv(path)[2] == ["a", "b"]
