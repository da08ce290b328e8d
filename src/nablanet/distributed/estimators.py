"""The bridge from the estimators to the cluster: fit on dask arrays, predict lazily.

``LogisticRegression.fit`` and ``SoftmaxRegression.fit`` hand a dask ``X`` to
:func:`fit_estimator`, which runs :func:`~nablanet.distributed.fit_newton` and sets the
same fitted attributes as the in-memory fit; afterwards the model is an ordinary
in-memory model.  Their prediction methods hand a dask ``X`` to :func:`predict_lazily`,
which maps the in-memory method over the row blocks without computing anything.
"""

from __future__ import annotations

import warnings

import numpy as np

from nablanet.data.validation import DataError
from nablanet.distributed.glm import fit_newton
from nablanet.optim.stopping import ConvergenceWarning, user_stacklevel

_TRACE_KEYS = ("loss", "grad_norm", "decrement", "step_norm", "damping", "step_length")


def is_dask_collection(X):
    """True for dask arrays (and other dask collections), without importing dask."""
    return type(X).__module__.startswith("dask")


def fit_estimator(estimator, X, y, sample_weight=None):
    """Fit a Newton linear classifier on dask ``X`` (and ``y``); returns the estimator.

    Parameters
    ----------
    estimator : LogisticRegression or SoftmaxRegression
    X : dask.array.Array, shape (n_samples, n_features)
    y : dask.array.Array or array_like, shape (n_samples,)
    sample_weight : None
        Not supported on dask arrays (a clear error otherwise).

    Returns
    -------
    estimator
        With ``coef_``, ``intercept_``, ``classes_``, ``n_iter_``, ``stop_reason_``,
        ``history_``, ``objective_value_``, ``n_features_in_``, ``covariance_`` and
        ``bse_`` as after an in-memory fit (standard errors for unpenalised fits only,
        None otherwise).
    """
    estimator._check_params()
    if sample_weight is not None:
        raise ValueError("sample_weight is not supported with dask arrays; pass None")
    if estimator.solver != "newton":
        raise ValueError(f"solver={estimator.solver!r} is not available for dask arrays; "
                         "use solver='newton' (one pass over the data per iteration)")
    if hasattr(X, "to_dask_array"):
        raise DataError("X is a dask DataFrame; pass X.to_dask_array(lengths=True)")
    multinomial = estimator._max_classes != 2
    fitted = fit_newton(
        X, y, multinomial=multinomial, C=estimator.C if estimator.penalty == "l2" else None,
        fit_intercept=estimator.fit_intercept, tol=estimator.tol,
        max_iter=estimator.max_iter, callback=_callback(estimator))
    estimator.coef_, estimator.intercept_ = fitted["coef"], fitted["intercept"]
    estimator.classes_ = fitted["classes"]
    estimator.n_features_in_ = int(X.shape[1])
    estimator.n_iter_ = int(fitted["n_iter"])
    estimator.stop_reason_ = fitted["stop_reason"]
    trace = fitted["trace"]
    estimator.history_ = [{k: float(trace[k][i]) for k in _TRACE_KEYS}
                          for i in range(len(trace["loss"]))]
    estimator.objective_value_ = float(fitted["loss"])
    estimator.converged_ = bool(fitted["converged"])
    estimator.covariance_ = estimator.bse_ = None
    _record_likelihood(estimator, X, y, fitted)
    separation = None
    if estimator._alpha() == 0:  # as in memory: no penalty, no standard errors
        _set_standard_errors(estimator, fitted["scaled_hessian"], multinomial, fitted["undo"])
        separation = _separation(estimator, X, y, fitted)
    if separation is not None:
        estimator.stop_reason_, estimator.converged_ = "separation", False
        estimator.covariance_ = np.full_like(estimator.covariance_, np.nan)
        estimator.bse_ = np.full_like(estimator.bse_, np.nan)
    estimator.stop_message_ = separation or (
        f"{type(estimator).__name__} " + ("converged: " if estimator.converged_ else
                                          "did not converge: ") + fitted["message"])
    if not estimator.converged_:
        warnings.warn(estimator.stop_message_, ConvergenceWarning, stacklevel=user_stacklevel())
    return estimator


def _record_likelihood(estimator, X, y, fitted):
    """n, the log-likelihood (unpenalised fits) and the intercept-only model's, as in memory."""
    estimator.n_obs_ = int(X.shape[0])
    estimator.log_likelihood_ = -float(fitted["loss"]) if estimator._alpha() == 0 else None
    labels = y.compute() if is_dask_collection(y) else np.asarray(y)
    counts = np.array([np.sum(labels == c) for c in estimator.classes_], dtype=float)
    if estimator.fit_intercept:
        shares = counts / counts.sum()
        estimator.null_log_likelihood_ = float(counts[counts > 0] @ np.log(shares[counts > 0]))
    else:
        estimator.null_log_likelihood_ = -float(counts.sum()) * np.log(len(counts))


def _separation(estimator, X, y, fitted):
    """The in-memory LP test for (quasi-)complete separation, when the fit did not
    converge or its logits grew large, on data small enough to gather; its warning
    text, or None."""
    from nablanet.models._stats import (
        SEPARATION_LP_MAX_ENTRIES,
        multinomial_separating_direction,
        separating_direction,
        separation_message,
    )
    from nablanet.models.logistic import coefficient_names

    coef, intercept = estimator.coef_, estimator.intercept_
    scores = X @ coef.T + intercept
    extent = float((scores.max(axis=1) - scores.min(axis=1)).max().compute()) if (
        coef.shape[0] > 1) else float(abs(scores).max().compute())
    if fitted["converged"] and fitted["stop_reason"] != "separation" and extent < 12.0:
        return None
    size = X.shape[0] * (X.shape[1] + 1) * max(1, len(estimator.classes_) - 1) * 2
    if size > SEPARATION_LP_MAX_ENTRIES:
        return None
    X_local = np.asarray(X.compute(), dtype=float)
    labels = y.compute() if is_dask_collection(y) else np.asarray(y)
    index = np.searchsorted(estimator.classes_, labels)
    if coef.shape[0] == 1:
        found = separating_direction(X_local, index, None, estimator.fit_intercept)
    else:
        Y = np.eye(len(estimator.classes_))[index]
        found = multinomial_separating_direction(X_local, Y, None, estimator.fit_intercept)
    if found is None:
        return None
    names = coefficient_names(estimator)[: estimator.n_features_in_]
    complete = fitted["stop_reason"] == "separation"
    return separation_message(type(estimator).__name__, names, *found, complete)


def _callback(estimator):
    if not estimator.verbose:
        return estimator.callback

    def report(info):
        print(f"iter {info['iteration']:3d}  loss {info['loss']:.10e}  "
              f"|g|max {info['grad_norm']:.3e}")
        if estimator.callback is not None:
            estimator.callback(dict(info))
    return report


def _set_standard_errors(estimator, hessian, multinomial, undo):
    """``covariance_`` and ``bse_`` of an unpenalised fit, laid out as in memory.

    ``hessian`` is the log-likelihood's Hessian at the solution in the solver's
    column-scaled coordinates, augmented, feature-major layout of ``fit_newton`` (index
    ``j * K + k``); ``undo`` maps each coordinate back.  Logistic: its inverse on the
    identified coefficients (NaN and a warning naming the others, as in memory).
    Softmax: it is singular (C7: H 1 = 0), so as in memory the block of the first K - 1
    classes (the last class as reference) is inverted and carried to the centred
    ``coef_`` (see :class:`~nablanet.models.SoftmaxRegression`).
    """
    from nablanet.models._stats import (
        identified_covariance,
        unscaled_standard_errors,
        warn_unidentified,
    )
    from nablanet.models.logistic import coefficient_names

    names, model = coefficient_names(estimator), type(estimator).__name__
    if not multinomial:
        covariance, unidentified = identified_covariance(hessian)
        estimator.covariance_, estimator.bse_ = unscaled_standard_errors(
            covariance, unidentified, undo)
        warn_unidentified(names, unidentified, model)
        return
    from nablanet.models.softmax import reference_standard_errors

    n_classes = len(estimator.classes_)
    width = hessian.shape[0] // n_classes
    by_class = hessian.reshape(width, n_classes, width, n_classes).transpose(1, 0, 3, 2)
    free = (n_classes - 1) * width
    estimator.covariance_, estimator.bse_, unidentified = reference_standard_errors(
        by_class[:-1, :, :-1, :].reshape(free, free), n_classes, width, undo[::n_classes]
    )
    warn_unidentified(names, unidentified, model)


def predict_lazily(estimator, method, X):
    """``estimator.<method>`` mapped over the row blocks of dask ``X`` (nothing computed).

    Parameters
    ----------
    estimator : fitted LogisticRegression or SoftmaxRegression
    method : {"predict", "predict_proba", "predict_log_proba", "decision_function"}
    X : dask.array.Array, shape (n_samples, n_features)

    Returns
    -------
    dask.array.Array
        (n_samples,) or (n_samples, n_classes), chunked like the rows of ``X``.
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    if X.ndim != 2 or X.shape[1] != estimator.n_features_in_:
        raise DataError(f"X must have shape (n_samples, {estimator.n_features_in_}), "
                        f"got {X.shape}")
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    n_classes = len(estimator.classes_)
    one_column = method == "predict" or (method == "decision_function" and n_classes <= 2)
    dtype = estimator.classes_.dtype if method == "predict" else np.float64
    function = getattr(estimator, method)
    if one_column:
        return X.map_blocks(function, drop_axis=1, dtype=dtype,
                            meta=np.empty((0,), dtype=dtype))
    return X.map_blocks(function, chunks=(X.chunks[0], (n_classes,)), dtype=dtype,
                        meta=np.empty((0, 0), dtype=dtype))
