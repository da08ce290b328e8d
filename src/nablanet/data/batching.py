"""Train/test splits and minibatches, with randomness from an explicit Generator."""

from __future__ import annotations

import numpy as np

from nablanet.data.validation import DataError


def _n_test(test_size, n_samples):
    if isinstance(test_size, (int, np.integer)) and not isinstance(test_size, bool):
        n_test = int(test_size)
    elif isinstance(test_size, (float, np.floating)) and 0.0 < test_size < 1.0:
        n_test = int(np.ceil(test_size * n_samples))
    else:
        raise DataError(
            "test_size must be a fraction in (0, 1) or a whole number of samples, "
            f"got {test_size!r}"
        )
    if not 1 <= n_test <= n_samples - 1:
        raise DataError(
            f"test_size={test_size!r} leaves {n_test} of {n_samples} samples for testing; "
            "both parts need at least one sample"
        )
    return n_test


def _stratified_counts(class_sizes, n_test):
    """Test samples per class, proportional to class size, summing to n_test.

    Largest-remainder rounding keeps the total exact; classes with at least two
    samples keep at least one in training.
    """
    share = class_sizes * (n_test / class_sizes.sum())
    counts = np.floor(share).astype(np.int64)
    order = np.argsort(-(share - counts), kind="stable")
    for i in order[: n_test - counts.sum()]:
        counts[i] += 1
    return np.minimum(counts, np.maximum(class_sizes - 1, 0))


def train_test_split(X, y, test_size, rng, stratify=True):
    """Split rows of ``X`` and ``y`` at random into a training and a test part.

    Parameters
    ----------
    X : numpy.ndarray, shape (n_samples, ...)
    y : numpy.ndarray, shape (n_samples,)
    test_size : float in (0, 1) or int
        Fraction (rounded up) or number of samples for the test part.
    rng : numpy.random.Generator
        Source of randomness; the same generator state gives the same split.
    stratify : bool, default True
        Keep each class's proportion in both parts (up to rounding).

    Returns
    -------
    X_train, X_test, y_train, y_test : numpy.ndarray

    Examples
    --------
    >>> import numpy as np
    >>> X, y = np.arange(20.0).reshape(10, 2), np.array([0] * 5 + [1] * 5)
    >>> parts = train_test_split(X, y, 0.4, np.random.default_rng(0))
    >>> [p.shape[0] for p in parts], np.bincount(parts[3]).tolist()
    ([6, 4, 6, 4], [2, 2])
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    y = np.asarray(y)
    n_samples = y.shape[0]
    if np.shape(X)[0] != n_samples:
        raise DataError(f"X has {np.shape(X)[0]} samples but y has {n_samples}; they must match")
    n_test = _n_test(test_size, n_samples)
    if stratify:
        classes, codes = np.unique(y, return_inverse=True)
        members = [np.flatnonzero(codes == k) for k in range(classes.size)]
        counts = _stratified_counts(np.array([m.size for m in members]), n_test)
        shuffled = [rng.permutation(m) for m in members]
        test = np.concatenate([s[:c] for s, c in zip(shuffled, counts, strict=True)])
        train = np.concatenate([s[c:] for s, c in zip(shuffled, counts, strict=True)])
        test, train = rng.permutation(test), rng.permutation(train)
    else:
        order = rng.permutation(n_samples)
        test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]


def iterate_minibatches(n, batch_size, rng, shuffle=True, drop_last=False):
    """Yield index arrays that cover ``range(n)`` in batches of ``batch_size``.

    Parameters
    ----------
    n : int
        Number of samples.
    batch_size : int
        Samples per batch (the last batch may be smaller).
    rng : numpy.random.Generator or None
        Source of the shuffle; unused when ``shuffle`` is False.
    shuffle : bool, default True
        Visit samples in a random order drawn from ``rng``.
    drop_last : bool, default False
        Leave out a final batch smaller than ``batch_size``.

    Yields
    ------
    numpy.ndarray of int64
        Indices of one batch.

    Examples
    --------
    >>> [b.tolist() for b in iterate_minibatches(5, 2, None, shuffle=False)]
    [[0, 1], [2, 3], [4]]
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"batch_size must be an int, got {type(batch_size).__name__}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if shuffle and not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"shuffling needs rng to be a numpy.random.Generator, got {type(rng).__name__}"
        )
    order = rng.permutation(n) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield order[start : start + batch_size]
