"""Splits and minibatches: exact sizes, stratification, and reproducibility from a Generator."""

import numpy as np
import pytest

from nablanet.data import DataError, iterate_minibatches, train_test_split


def _data(sizes=(30, 10, 5)):
    y = np.concatenate([np.full(s, k) for k, s in enumerate(sizes)])
    X = np.arange(y.size, dtype=float)[:, None] * np.ones((1, 2))
    return X, y


def test_split_is_a_partition_of_the_rows():
    X, y = _data()
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, 0.2, np.random.default_rng(1))
    assert X_te.shape[0] == 9 and X_tr.shape[0] == 36
    rows = np.sort(np.concatenate([X_tr[:, 0], X_te[:, 0]]))
    np.testing.assert_array_equal(rows, np.arange(45.0))
    np.testing.assert_array_equal(y[X_te[:, 0].astype(int)], y_te)


def test_stratified_split_keeps_class_proportions():
    X, y = _data()
    _, _, _, y_te = train_test_split(X, y, 0.2, np.random.default_rng(3))
    np.testing.assert_array_equal(np.bincount(y_te), [6, 2, 1])


def test_same_seed_same_split_other_seed_other_split():
    X, y = _data()
    a = train_test_split(X, y, 0.3, np.random.default_rng(7))
    b = train_test_split(X, y, 0.3, np.random.default_rng(7))
    c = train_test_split(X, y, 0.3, np.random.default_rng(8))
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_unstratified_split_and_integer_size():
    X, y = _data()
    _, X_te, _, _ = train_test_split(X, y, 10, np.random.default_rng(0), stratify=False)
    assert X_te.shape == (10, 2)


@pytest.mark.parametrize("size", [0.0, 1.0, 0, 45, -3, "half", True])
def test_bad_test_size(size):
    X, y = _data()
    with pytest.raises(DataError, match="test_size"):
        train_test_split(X, y, size, np.random.default_rng(0))


def test_split_needs_a_generator():
    X, y = _data()
    with pytest.raises(TypeError, match="Generator"):
        train_test_split(X, y, 0.2, 0)


def test_minibatches_cover_every_index_once():
    batches = list(iterate_minibatches(10, 3, np.random.default_rng(0)))
    assert [b.size for b in batches] == [3, 3, 3, 1]
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(10))
    assert not np.array_equal(np.concatenate(batches), np.arange(10))


def test_minibatches_drop_last_and_reproducible():
    a = list(iterate_minibatches(10, 4, np.random.default_rng(5), drop_last=True))
    b = list(iterate_minibatches(10, 4, np.random.default_rng(5), drop_last=True))
    assert [x.size for x in a] == [4, 4]
    for x, z in zip(a, b):
        np.testing.assert_array_equal(x, z)


@pytest.mark.parametrize("batch, err", [(0, ValueError), (2.5, TypeError)])
def test_bad_batch_size(batch, err):
    with pytest.raises(err, match="batch_size"):
        list(iterate_minibatches(4, batch, np.random.default_rng(0)))


def test_shuffle_needs_a_generator():
    with pytest.raises(TypeError, match="Generator"):
        list(iterate_minibatches(4, 2, None))
