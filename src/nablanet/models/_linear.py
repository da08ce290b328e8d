"""Shared machinery of the Newton-fitted linear classifiers (logistic and softmax).

The sequence of a fit: validate, encode labels, build the closed-form objective
from :mod:`nablanet.optim.objectives` (summed weighted loss + ``0.5/C ||W||^2``,
the same minimiser as scikit-learn's ``C``), minimise it with damped Newton,
Newton-CG or plain gradient descent, then read the coefficients and the trace.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from nablanet.models._base import (
    NablanetEstimator,
    check_choice,
    check_positive,
    encode_labels,
    notify,
    portable_labels,
)
from nablanet.models._predict import ClassifierPredictionsMixin, is_dask
from nablanet.models._stats import SCALE_SAMPLE_ROWS, column_scales, separation_message
from nablanet.optim.stopping import ConvergenceWarning, user_stacklevel

_SOLVERS = ("newton", "newton-cg", "gd")
_TRACE_KEYS = ("loss", "grad_norm", "decrement", "step_norm", "damping", "step_length")
#: Fitted scalars summary() reads, saved with the model (absent from older files).
_SUMMARY_SCALARS = ("converged", "stop_message", "n_obs", "log_likelihood",
                    "null_log_likelihood")


class NewtonLinearClassifier(ClassifierPredictionsMixin, ClassifierMixin, NablanetEstimator):
    """Base of LogisticRegression and SoftmaxRegression (see their docstrings)."""

    _max_classes = None
    _lazy_dask = True  # predictions on dask arrays stay lazy, block by block

    def __init__(
        self,
        C=1.0,
        penalty="l2",
        fit_intercept=True,
        solver="newton",
        tol=1e-8,
        max_iter=100,
        class_weight=None,
        verbose=False,
        callback=None,
    ):
        self.C = C
        self.penalty = penalty
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.verbose = verbose
        self.callback = callback

    # -- fitting -------------------------------------------------------------------
    def fit(self, X, y, sample_weight=None):
        """Minimise the penalised summed log-loss.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
        y : array_like of shape (n_samples,)
        sample_weight : array_like of shape (n_samples,), optional
            Weight of each sample's loss (integer weights act as repetitions).

        Returns
        -------
        self
        """
        if is_dask(X):  # scale-out: Newton passes over the blocks on a Dask cluster
            from nablanet.distributed.estimators import fit_estimator

            return fit_estimator(self, X, y, sample_weight)
        self._check_params()
        X, y, sample_weight = self._validate_fit_data(X, y, sample_weight)
        self.classes_, y_index = encode_labels(y, max_classes=self._max_classes,
                                               name=type(self).__name__)
        sample_weight = self._weights_with_classes(y_index, sample_weight)
        # the solver works on columns of largest |x| in [1, 2) (exact powers of two), and
        # on weights of mean 1 (the objective divided by the mean weight, alpha too), so
        # neither its damping nor its tests depend on the units of the features or of
        # the weights (weights of 1e-20 would pass the gradient test at the start)
        weight_scale = 1.0 if sample_weight is None else float(np.mean(sample_weight))
        if weight_scale != 1.0:
            sample_weight = sample_weight / weight_scale
        for exact in (False, True):
            scales = column_scales(X, exact)
            objective = self._objective(X if scales is None else X / scales, y_index,
                                        sample_weight, scales, weight_scale)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                result = self._minimise(objective)
            if result.stop_reason != "non_finite" or len(X) <= SCALE_SAMPLE_ROWS:
                break  # else: values the sampled scales missed overflowed; scale exactly
        _replay(w for w in caught if not issubclass(w.category, ConvergenceWarning))
        self._set_solution(objective, result.x, scales)
        self.n_iter_ = int(result.n_iter)
        self.stop_reason_, self.converged_ = result.stop_reason, bool(result.converged)
        self.history_ = _history(result.trace, weight_scale)
        self.objective_value_ = float(result.fun) * weight_scale
        self._record_likelihood(objective, result, weight_scale, sample_weight, y_index)
        separation = self._separation(objective, result, sample_weight)
        if separation is not None:
            self.stop_reason_, self.converged_ = "separation", False
        self.stop_message_ = separation or self._advice(result)
        self._after_fit(objective, result, scales, weight_scale)
        if separation is not None and getattr(self, "bse_", None) is not None:
            # no finite maximum: the curvature at the last iterate estimates nothing
            self.covariance_ = np.full_like(self.covariance_, np.nan)
            self.bse_ = np.full_like(self.bse_, np.nan)
        if not self.converged_:
            warnings.warn(self.stop_message_, ConvergenceWarning, stacklevel=user_stacklevel())
        return self

    def _weights_with_classes(self, y_index, sample_weight):
        """Sample weights times the ``class_weight`` of each sample's class."""
        if self.class_weight is None:
            return sample_weight
        from sklearn.utils.class_weight import compute_class_weight

        if isinstance(self.class_weight, dict):
            unknown = set(self.class_weight) - set(self.classes_.tolist())
            if unknown:
                raise ValueError(f"class_weight names classes {sorted(unknown)!r} that are not "
                                 f"in the data {self.classes_.tolist()}")
        per_class = compute_class_weight(self.class_weight, classes=self.classes_,
                                         y=self.classes_[y_index])
        weights = per_class[y_index]
        return weights if sample_weight is None else weights * sample_weight

    def _advice(self, result):
        """The solver's message, with advice in terms of this estimator's parameters."""
        name = type(self).__name__
        advice = {
            "max_iter": f"raise max_iter (now {self.max_iter}), or fit with penalty='l2' "
                        "and a smaller C if the problem is ill-conditioned",
            "line_search": "no step decreased the objective: standardise the columns of X, "
                           "or fit with penalty='l2'",
            "stalled": "the steps vanished away from the optimum: standardise the columns "
                       "of X, or fit with penalty='l2'",
            "non_finite": "the objective became NaN or infinite: check X for extreme values",
            "separation": "the classes are linearly separable, so no finite optimum exists: "
                          "fit with penalty='l2' and a finite C",
        }
        if result.converged:
            return f"{name} converged: {result.message}"
        return (f"{name} did not converge ({result.stop_reason} after {result.n_iter} "
                f"iterations): {advice.get(result.stop_reason, result.message)}")

    def _separation(self, objective, result, sample_weight):
        """For unpenalised fits whose logits grew large (or that did not converge): the
        LP test for (quasi-)complete separation; its warning text, or None."""
        if self._alpha() > 0:
            return None
        extent = self._logit_extent(objective, result.x)
        if result.converged and result.stop_reason != "separation" and extent < 12.0:
            return None
        found = self._separating_direction(objective, sample_weight)
        if found is None:
            return None
        names = coefficient_names(self)[: self.n_features_in_]
        complete = result.stop_reason == "separation" or self._strictly_separable(
            objective, sample_weight)
        return separation_message(type(self).__name__, names, *found, complete)

    def _record_likelihood(self, objective, result, weight_scale, sample_weight, y_index):
        """Log-likelihood at the fit and of the intercept-only model, for summary()."""
        weights = np.ones(len(y_index)) if sample_weight is None else sample_weight
        self.n_obs_ = int(np.count_nonzero(weights))
        self.log_likelihood_ = -(float(result.fun) - self._penalty_value(
            objective, result.x)) * weight_scale
        counts = np.bincount(y_index, weights=weights * weight_scale,
                             minlength=len(self.classes_))
        if self.fit_intercept:
            shares = counts / counts.sum()
            self.null_log_likelihood_ = float(counts[counts > 0] @ np.log(shares[counts > 0]))
        else:
            self.null_log_likelihood_ = -float(counts.sum()) * np.log(
                max(2, len(self.classes_)) if self._max_classes != 2 else 2.0)

    def _alpha(self):
        return 1.0 / self.C if self.penalty == "l2" else 0.0

    def _check_params(self):
        check_choice("penalty", self.penalty, ("l2", None))
        check_choice("solver", self.solver, _SOLVERS)
        check_positive("C", self.C)
        check_positive("tol", self.tol)
        check_positive("max_iter", self.max_iter, integer=True)

    def _minimise(self, objective):
        from nablanet.optim import newton, newton_cg

        x0 = np.zeros(objective.n_params)
        check = self._check_with_callback(objective)
        if self.solver == "gd":
            result = _gradient_descent(objective, x0, self._lipschitz(objective), self.tol,
                                       self.max_iter, check, self.verbose)
        else:
            solve = newton if self.solver == "newton" else newton_cg
            result = solve(objective, x0, tol=self.tol, max_iter=self.max_iter, check=check,
                           verbose=self.verbose)
        self._notify_rest(result.trace)
        return result

    def _check_with_callback(self, objective):
        """The objective's own check (separation), plus the per-iteration callback."""
        own = getattr(objective, "check", None)
        self._notified = 0
        if self.callback is None:
            return own

        def check(x, f, g):
            self._notified += 1
            notify(self.callback, {"iteration": self._notified, "loss": float(f),
                                   "grad_norm": float(np.max(np.abs(g), initial=0.0))})
            return own(x, f, g) if own is not None else None

        return check

    def _notify_rest(self, trace):
        """The solver skips the check after its converging step: report that one too."""
        if self.callback is None:
            return
        for k in range(self._notified, len(trace["loss"])):
            notify(self.callback, {"iteration": k + 1, "loss": float(trace["loss"][k]),
                                   "grad_norm": float(trace["grad_norm"][k])})

    def _after_fit(self, objective, result, scales=None, weight_scale=1.0):
        """Hook for extra fitted attributes (standard errors in logistic regression)."""

    # -- prediction (decision_function, predict_proba, ...: ClassifierPredictionsMixin) --
    def _scores(self, X):
        X = self._validate_predict_data(X)
        return X @ self.coef_.T + self.intercept_

    # -- files ---------------------------------------------------------------------
    def _fitted_state(self):
        check_is_fitted(self)
        arrays = {"coef": self.coef_, "intercept": self.intercept_,
                  "classes": portable_labels(self.classes_)}
        arrays.update({f"history.{k}": np.asarray([h[k] for h in self.history_], dtype=float)
                       for k in _TRACE_KEYS})
        for name in ("covariance_", "bse_"):
            if getattr(self, name, None) is not None:
                arrays[name.rstrip("_")] = getattr(self, name)
        scalars = {"n_iter": self.n_iter_, "stop_reason": self.stop_reason_,
                   "n_features_in": self.n_features_in_,
                   "objective_value": self.objective_value_}
        for name in _SUMMARY_SCALARS:
            value = getattr(self, name + "_", None)
            if value is not None:
                scalars[name] = value.item() if isinstance(value, np.generic) else value
        return arrays, scalars

    def _restore_state(self, arrays, scalars):
        self.coef_, self.intercept_ = arrays["coef"], arrays["intercept"]
        self.classes_ = arrays["classes"]
        self.n_features_in_ = int(scalars["n_features_in"])
        if self.coef_.ndim != 2 or self.coef_.shape[1] != self.n_features_in_:
            raise ValueError(f"coef has shape {self.coef_.shape} for "
                             f"{self.n_features_in_} features")
        self.n_iter_ = int(scalars["n_iter"])
        self.stop_reason_ = scalars["stop_reason"]
        self.objective_value_ = float(scalars["objective_value"])
        columns = {k: arrays[f"history.{k}"] for k in _TRACE_KEYS}
        self.history_ = _history(columns)
        for name in ("covariance", "bse"):
            if name in arrays:
                setattr(self, name + "_", arrays[name])
        for name in _SUMMARY_SCALARS:
            setattr(self, name + "_", scalars.get(name))


def _replay(caught):
    """Issue again warnings recorded while the solver ran, pointed at the user's call."""
    for w in caught:
        warnings.warn(w.message, w.category, stacklevel=user_stacklevel())


def coefficient_names(estimator, feature_names=None):
    """Feature names (given, ``feature_names_in_`` or x0, x1, ...), then 'intercept'."""
    if feature_names is None:
        feature_names = getattr(estimator, "feature_names_in_", None)
    if feature_names is None:
        feature_names = [f"x{i}" for i in range(estimator.n_features_in_)]
    if len(feature_names) != estimator.n_features_in_:
        raise ValueError(f"feature_names must hold {estimator.n_features_in_} names, got "
                         f"{len(feature_names)}")
    return [str(n) for n in feature_names] + (["intercept"] if estimator.fit_intercept else [])


def _history(trace, weight_scale=1.0):
    """The solver's column trace as a list of per-iteration dicts (loss, gradient and
    decrement back on the scale of the user's weights)."""
    n = len(trace["loss"])
    scaled = {"loss", "grad_norm", "decrement"}
    return [{k: float(trace[k][i]) * (weight_scale if k in scaled else 1.0)
             for k in _TRACE_KEYS} for i in range(n)]


def _gradient_descent(objective, x0, lipschitz, tol, max_iter, check, verbose):
    """The notes' gradient descent on the summed loss, step 1/L (L bounds the curvature).

    Uses :class:`nablanet.optim.GD` on one parameter tensor; stops on the gradient
    max-norm (``tol``), on the notes' rule (the step no longer changes the
    parameters), on ``check`` (separation), or at ``max_iter`` with a warning.
    """
    from nablanet.autodiff import Tensor
    from nablanet.optim import GD, NewtonResult
    from nablanet.optim.newton import _stationary

    theta = Tensor(np.array(x0, dtype=float), requires_grad=True)
    opt = GD([theta], lr=1.0 / lipschitz)
    trace = {k: [] for k in _TRACE_KEYS}
    reason, message = "max_iter", ""
    g = objective.gradient(theta.data)
    for _ in range(max_iter):
        if np.max(np.abs(g), initial=0.0) <= tol:
            reason = "gradient"
            break
        before = theta.data.copy()
        theta.grad = Tensor(g)
        opt.step()
        f, g = objective.value(theta.data), objective.gradient(theta.data)
        step_norm = float(np.linalg.norm(theta.data - before))
        row = (f, float(np.max(np.abs(g), initial=0.0)), np.nan, step_norm, 0.0, 1.0)
        for key, value in zip(_TRACE_KEYS, row):
            trace[key].append(value)
        if verbose:
            print(f"iter {len(trace['loss']):4d}  loss {f:.10e}  |g|max {row[1]:.3e}")
        if step_norm <= 1e-14 * (1.0 + np.linalg.norm(theta.data)):
            reason = "step_size"
            break
        found = check(theta.data, f, g) if check is not None else None
        if found is not None:
            reason, message = found
            break
    f = objective.value(theta.data)
    if reason == "step_size" and not _stationary(theta.data, f, g):
        reason = "stalled"
    converged = reason in ("gradient", "step_size")
    if not converged:
        advice = message or "raise max_iter or use solver='newton'"
        warnings.warn(f"gradient descent stopped without converging ({reason} after "
                      f"{len(trace['loss'])} iterations: {advice})", ConvergenceWarning,
                      stacklevel=user_stacklevel())
    arrays = {k: np.asarray(v, dtype=float) for k, v in trace.items()}
    return NewtonResult(theta.data.copy(), f, g, len(trace["loss"]), converged, reason,
                        message, arrays)
