"""Checks at the boundary: every bad array is stopped here with a one-line message.

Each check names what was expected and what came, so that the program can print
the message as it is and a library user can see the fix.
"""

from __future__ import annotations

import numpy as np


class DataError(ValueError):
    """Bad input data: wrong shape, non-numeric, non-finite, too few samples or classes."""


def check_finite(values, name="X"):
    """Raise `DataError` if ``values`` holds NaN or infinity.

    Parameters
    ----------
    values : array_like of float
        Array to check.
    name : str, default "X"
        Name used in the message.

    Returns
    -------
    numpy.ndarray
        ``values`` as an array, unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> check_finite(np.array([1.0, np.nan]))
    Traceback (most recent call last):
    ...
    nablanet.data.validation.DataError: X must hold finite numbers, found 1 NaN and 0 inf ...
    """
    values = np.asarray(values)
    if values.dtype.kind in "fc" and not np.all(np.isfinite(values)):
        n_nan = int(np.count_nonzero(np.isnan(values)))
        n_inf = int(np.count_nonzero(np.isinf(values)))
        first = tuple(int(i) for i in np.argwhere(~np.isfinite(values))[0])
        raise DataError(
            f"{name} must hold finite numbers, found {n_nan} NaN and {n_inf} inf values "
            f"(first at index {first[0] if len(first) == 1 else first})"
        )
    return values


#: Feature values beyond this magnitude have squares that overflow float64, so no
#: variance, standardisation or Hessian of them is finite.
MAX_FEATURE_MAGNITUDE = 1e150

#: Integers beyond this magnitude are not all representable in float64: such a
#: "label" is an overflow or a measurement, not a class.
_MAX_EXACT_INTEGER = 2**53


def integral_as_int(values):
    """Float ``values`` that are all integers (``|v| <= 2**53``) as int64; others unchanged.

    Examples
    --------
    >>> integral_as_int(np.array([0.0, 2.0])).tolist(), integral_as_int(np.array([0.5])).dtype
    ([0, 2], dtype('float64'))
    """
    values = np.asarray(values)
    if values.dtype.kind != "f" or not np.all(np.isfinite(values)):
        return values
    if np.all(np.abs(values) <= _MAX_EXACT_INTEGER) and np.all(values == np.round(values)):
        return values.astype(np.int64)
    return values


def class_labels(y, name="y", rows=None):
    """Labels of a classifier: integers, words, or floats that are integers; else `DataError`.

    Parameters
    ----------
    y : array_like
        Labels, 1-D.
    name : str, default "y"
        Name used in messages.
    rows : sequence of int, optional
        File line number of each label (CSV); messages then name the line, else
        the 0-based index.

    Returns
    -------
    numpy.ndarray
        ``y``, with integer-valued floats as int64.

    Raises
    ------
    DataError
        Non-finite labels, labels that are not integers ("labels look
        continuous"), or integers too large to be exact (above 2**53, e.g. 1e300).

    Examples
    --------
    >>> class_labels(np.array([1.0, 0.0])).tolist()
    [1, 0]
    >>> class_labels(np.array([0.5, 1.0]))
    Traceback (most recent call last):
    ...
    nablanet.data.validation.DataError: labels look continuous: y holds 0.5 (index 0) ...
    """
    labels = np.asarray(y)
    if labels.dtype.kind != "f":
        return labels

    def where(i):
        return f"line {rows[i]}" if rows is not None else f"index {i}"

    check_finite(labels, name)
    huge = np.flatnonzero(np.abs(labels) > _MAX_EXACT_INTEGER)
    if huge.size:
        i = int(huge[0])
        raise DataError(
            f"{name} holds {labels[i]:g} ({where(i)}): too large to be a class label (classes "
            f"are integers up to 2**53 in magnitude, or words)"
        )
    fractional = np.flatnonzero(labels != np.round(labels))
    if fractional.size:
        i = int(fractional[0])
        raise DataError(
            f"labels look continuous: {name} holds {labels[i]:g} ({where(i)}) and "
            f"{fractional.size - 1} more values that are not integers; nablanet trains "
            "classifiers, whose labels are integers or words"
        )
    return labels.astype(np.int64)


def validate_features(X, name="X", min_samples=2):
    """Return ``X`` as a finite float64 matrix of shape (n_samples, n_features).

    Parameters
    ----------
    X : array_like
        Feature matrix; a 1-D array is rejected (reshape it to one column or one row).
    name : str, default "X"
        Name used in messages.
    min_samples : int, default 2
        Fewest rows accepted (1 for prediction on a single sample).

    Returns
    -------
    numpy.ndarray
        C-contiguous float64 array of shape (n_samples, n_features).

    Raises
    ------
    DataError
        Non-numeric values, wrong number of dimensions, too few samples, no
        features, NaN or inf.

    Examples
    --------
    >>> validate_features([[1, 2], [3, 4]]).dtype
    dtype('float64')
    >>> validate_features([[1, 2]])
    Traceback (most recent call last):
    ...
    nablanet.data.validation.DataError: X needs at least 2 samples (rows), got 1
    """
    try:
        array = np.asarray(X)
    except ValueError as err:
        raise DataError(f"{name} must be a rectangular numeric array ({err})") from None
    if array.dtype.kind not in "biuf":
        raise DataError(f"{name} must be numeric, got values of dtype {array.dtype}")
    if array.ndim != 2:
        raise DataError(
            f"{name} must be 2-D (n_samples, n_features), got {array.ndim}-D shape {array.shape}"
        )
    n_samples, n_features = array.shape
    if n_samples < min_samples:
        raise DataError(f"{name} needs at least {min_samples} samples (rows), got {n_samples}")
    if n_features < 1:
        raise DataError(f"{name} needs at least 1 feature (column), got 0")
    array = check_finite(np.ascontiguousarray(array, dtype=np.float64), name)
    huge = np.abs(array) > MAX_FEATURE_MAGNITUDE
    if huge.any():
        row, column = (int(i) for i in np.argwhere(huge)[0])
        raise DataError(
            f"{name} holds {array[row, column]:g} (row {row}, column {column}, counted from 0): "
            f"values beyond {MAX_FEATURE_MAGNITUDE:g} overflow when squared; rescale the feature"
        )
    return array


def validate_labels(y, n_samples, min_classes=2, name="y"):
    """Return ``y`` as a 1-D label array of length ``n_samples`` with enough classes.

    Parameters
    ----------
    y : array_like
        Class labels (integers or strings); a column vector (n, 1) is accepted.
    n_samples : int
        Number of rows of the matching feature matrix.
    min_classes : int, default 2
        Fewest distinct classes accepted (1 disables the check).
    name : str, default "y"
        Name used in messages.

    Returns
    -------
    numpy.ndarray
        1-D array of labels.

    Raises
    ------
    DataError
        Wrong shape or length, NaN/inf labels, or fewer than ``min_classes`` classes.

    Examples
    --------
    >>> validate_labels([0, 1, 1], 3)
    array([0, 1, 1])
    >>> validate_labels([1, 1, 1], 3)
    Traceback (most recent call last):
    ...
    nablanet.data.validation.DataError: y must hold at least 2 classes, got a single class (1)
    """
    labels = np.asarray(y)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise DataError(f"{name} must be 1-D (n_samples,), got shape {labels.shape}")
    if labels.shape[0] != n_samples:
        raise DataError(
            f"{name} has {labels.shape[0]} labels but X has {n_samples} samples; "
            "they must match"
        )
    if labels.dtype.kind not in "biufUS":
        raise DataError(f"{name} must hold numbers or strings, got dtype {labels.dtype}")
    check_finite(labels, name)
    classes = np.unique(labels)
    if classes.size < min_classes:
        found = f"a single class ({classes[0]})" if classes.size == 1 else f"{classes.size}"
        raise DataError(f"{name} must hold at least {min_classes} classes, got {found}")
    return labels


def validate_n_features(X, n_expected, source="the model"):
    """Raise `DataError` unless ``X`` has ``n_expected`` columns.

    Parameters
    ----------
    X : numpy.ndarray
        2-D feature matrix.
    n_expected : int
        Number of features the model was fitted on.
    source : str
        What expects that number (used in the message).

    Returns
    -------
    numpy.ndarray
        ``X`` unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> validate_n_features(np.zeros((2, 3)), 4)
    Traceback (most recent call last):
    ...
    nablanet.data.validation.DataError: feature count mismatch: the model expects 4 features, ...
    """
    if X.shape[1] != n_expected:
        raise DataError(
            f"feature count mismatch: {source} expects {n_expected} features, "
            f"the data has {X.shape[1]}"
        )
    return X
