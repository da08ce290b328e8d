"""What every nablanet estimator shares: validation, labels, weights, callbacks, files.

The estimators follow scikit-learn's conventions (keyword arguments stored as
given in ``__init__``, validation in ``fit``, fitted attributes ending in ``_``),
and scikit-learn's own validation routines check the inputs, so the messages are
the ones its users already know.

Callback contract: ``callback(info)`` is called after each Newton iteration with
``{"iteration", "loss", "grad_norm"}`` and after each MLP epoch with
``{"epoch", "loss", "val_loss", "val_accuracy"}``.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, is_classifier
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data


class NablanetEstimator(BaseEstimator):
    """Base class: file saving and the helpers the estimators use in ``fit``."""

    def save(self, path):
        """Save the fitted estimator to one portable file (NPZ + JSON metadata, atomic).

        Parameters
        ----------
        path : str or os.PathLike
            Target file.

        Returns
        -------
        str
            The path written; read it back with :func:`nablanet.load`.
        """
        from nablanet.models.io import save

        check_is_fitted(self)
        return save(self, path)

    # -- the file format asks each estimator for these two ---------------------------
    def _fitted_state(self):
        """``(arrays, scalars)``: what ``save`` writes besides the parameters."""
        raise NotImplementedError

    def _restore_state(self, arrays, scalars):
        """Inverse of :meth:`_fitted_state` on a freshly constructed estimator."""
        raise NotImplementedError

    # -- validation ----------------------------------------------------------------
    def _validate_fit_data(self, X, y, sample_weight=None, dtype=np.float64):
        """Checked float arrays ``X`` (n, d), ``y`` (n,) and weights (n,) or None."""
        X, y = validate_data(self, X, y, dtype=dtype, y_numeric=not is_classifier(self))
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
            if sample_weight.sum() <= 0:
                raise ValueError(
                    f"sample_weight must have a positive sum, got {sample_weight.sum()}"
                )
        return X, y, sample_weight

    def _validate_predict_data(self, X, dtype=np.float64):
        check_is_fitted(self)
        return validate_data(self, X, dtype=dtype, reset=False)


class DivergenceError(ValueError):
    """Training produced non-finite parameters (as scikit-learn's "non-finite parameter
    weights" ValueError; the CLI reports it and exits with status 2)."""


#: Largest |x| whose square (and a sum of many squares) float64 still holds.
SQUARES_LIMIT = 1e150


def check_squares_fit(X, what, advice, names=None):
    """ValueError naming the first column whose values are too large to square."""
    largest = np.max(np.abs(X), axis=0, initial=0.0)
    bad = np.flatnonzero(largest > SQUARES_LIMIT)
    if bad.size:
        j = int(bad[0])
        label = f"column {j}" + (f" ({names[j]!r})" if names is not None else "")
        raise ValueError(f"{what}: {label} holds values up to {largest[j]:.3g}, whose squares "
                         f"overflow float64 (limit |x| <= {SQUARES_LIMIT:g}); {advice}")


def encode_labels(y, min_classes=2, max_classes=None, name="classifier"):
    """Sorted ``classes`` and ``y`` as indices into them.

    Raises a ValueError when there are fewer than ``min_classes`` classes or more
    than ``max_classes``.
    """
    check_classification_targets(y)
    classes, indices = np.unique(y, return_inverse=True)
    if len(classes) < min_classes:
        raise ValueError(
            f"{name} needs samples of at least {min_classes} classes in the data, but the data "
            f"contains only 1 class: {classes[0]!r}"
        )
    if max_classes is not None and len(classes) > max_classes:
        raise ValueError(
            f"Only binary classification is supported: {name} got {len(classes)} classes; use "
            "nablanet.SoftmaxRegression for more than two classes"
        )
    return classes, indices.astype(np.intp)


def portable_labels(classes):
    """``classes`` as an array a model file can hold (object labels become strings)."""
    classes = np.asarray(classes)
    return np.asarray([str(c) for c in classes]) if classes.dtype.hasobject else classes


def notify(callback, info):
    """Call ``callback(info)`` when a callback is set."""
    if callback is not None:
        callback(dict(info))


def check_choice(name, value, choices):
    """ValueError naming the choices when ``value`` is not one of them."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(map(repr, choices))}, got {value!r}")


def check_positive(name, value, allow_zero=False, integer=False):
    """ValueError when ``value`` is not a positive (or non-negative) number."""
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    ok = isinstance(value, kinds) and not isinstance(value, bool)
    ok = ok and (value >= 0 if allow_zero else value > 0)
    if not ok:
        what = "integer" if integer else "number"
        sign = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be a {sign} {what}, got {value!r}")

