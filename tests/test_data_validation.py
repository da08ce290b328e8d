"""Boundary checks: each bad array gives a DataError naming what was expected and what came."""

import numpy as np
import pytest

from nablanet.data import (
    DataError,
    check_finite,
    validate_features,
    validate_labels,
    validate_n_features,
)


def test_data_error_is_a_value_error():
    assert issubclass(DataError, ValueError)


def test_features_become_contiguous_float64():
    X = validate_features(np.arange(6, dtype=np.int32).reshape(3, 2)[:, ::-1])
    assert X.dtype == np.float64 and X.flags.c_contiguous
    np.testing.assert_array_equal(X, [[1, 0], [3, 2], [5, 4]])


@pytest.mark.parametrize(
    "bad, words",
    [
        (np.arange(4.0), "2-D"),
        (np.zeros((2, 2, 2)), "3-D"),
        (np.zeros((1, 3)), "at least 2 samples"),
        (np.zeros((0, 3)), "got 0"),
        (np.zeros((3, 0)), "at least 1 feature"),
        (np.array([["a", "b"], ["c", "d"]]), "numeric"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), "1 NaN"),
        (np.array([[1.0, np.inf], [0.0, -np.inf]]), "2 inf"),
    ],
)
def test_bad_features_are_named(bad, words):
    with pytest.raises(DataError, match=words):
        validate_features(bad)


def test_non_finite_message_points_at_first_bad_entry():
    with pytest.raises(DataError, match=r"first at index \(1, 0\)"):
        check_finite(np.array([[1.0, 2.0], [np.nan, 3.0]]), "X")


def test_check_finite_passes_integers_and_strings():
    assert check_finite(np.array(["a"])).shape == (1,)
    assert check_finite(np.arange(3)).shape == (3,)


def test_labels_accept_column_vector_and_strings():
    np.testing.assert_array_equal(validate_labels(np.array([[0], [1]]), 2), [0, 1])
    assert validate_labels(np.array(["a", "b", "a"]), 3).dtype.kind == "U"


@pytest.mark.parametrize(
    "labels, n, words",
    [
        (np.array([1, 1, 1]), 3, "single class"),
        (np.array([0, 1]), 3, "2 labels but X has 3"),
        (np.zeros((2, 2)), 2, "1-D"),
        (np.array([0.0, np.nan]), 2, "finite"),
    ],
)
def test_bad_labels_are_named(labels, n, words):
    with pytest.raises(DataError, match=words):
        validate_labels(labels, n)


def test_feature_count_mismatch_names_both_counts():
    with pytest.raises(DataError, match="expects 5 features, the data has 3"):
        validate_n_features(np.zeros((2, 3)), 5)
    assert validate_n_features(np.zeros((2, 3)), 3).shape == (2, 3)


def test_features_whose_squares_overflow_are_refused():
    from nablanet.data import DataError, validate_features

    with pytest.raises(DataError, match=r"holds 1e\+300 \(row 1, column 0, counted from 0\)"):
        validate_features(np.array([[1.0, 2.0], [1e300, 0.0]]))
    assert validate_features(np.array([[1e150, 0.0], [0.0, 1.0]])).shape == (2, 2)


def test_class_labels():
    from nablanet.data import DataError, class_labels

    assert class_labels(np.array([2.0, -1.0, 0.0])).dtype == np.int64
    assert class_labels(np.array(["a", "b"])).tolist() == ["a", "b"]
    with pytest.raises(DataError, match=r"labels look continuous: y holds 0.25 \(line 7\)"):
        class_labels(np.array([1.0, 0.25]), rows=[6, 7])
    with pytest.raises(DataError, match="too large to be a class label"):
        class_labels(np.array([0.0, 2.0**60]))
    with pytest.raises(DataError, match="finite"):
        class_labels(np.array([0.0, np.nan]))
