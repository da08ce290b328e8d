"""Binary logistic regression fitted by Newton's method (claim C1), with standard errors."""

from __future__ import annotations

import warnings

import numpy as np

from nablanet.models._linear import NewtonLinearClassifier, coefficient_names
from nablanet.models._stats import (
    identified_covariance,
    separating_direction,
    unscaled_standard_errors,
    warn_unidentified,
)


class LogisticRegression(NewtonLinearClassifier):
    """Binary logistic regression: minimise ``sum_n s_n BCE_n + 1/(2C) ||w||^2`` by Newton.

    The loss is the notes' summed binary cross-entropy (claim C1) computed from
    logits; the Hessian ``X~^T diag(s p (1 - p)) X~`` is built in closed form with
    one BLAS rank-k update.  With ``penalty=None`` the inverse Hessian at the
    optimum is the covariance of the estimates: ``bse_`` and :meth:`summary`.
    For more than two classes use :class:`~nablanet.models.SoftmaxRegression`.

    Parameters
    ----------
    C : float, default 1.0
        Inverse L2 strength, as in scikit-learn (same minimiser as its ``C``).
    penalty : {'l2', None}, default 'l2'
    fit_intercept : bool, default True
        Learn an (unpenalised) intercept.
    solver : {'newton', 'newton-cg', 'gd'}, default 'newton'
        Damped Newton with Cholesky, truncated Newton on Hessian-vector products,
        or the notes' gradient descent with step ``1/L`` (L bounds the curvature).
    tol : float, default 1e-8
        Converged when the largest gradient entry is at most ``tol`` (or the
        Newton decrement is negligible).
    max_iter : int, default 100
    class_weight : dict, 'balanced' or None, default None
        Weights of the classes, multiplying ``sample_weight`` (scikit-learn's meaning).
    verbose : bool, default False
        Print one line per iteration.
    callback : callable, optional
        Called after each iteration with ``{"iteration", "loss", "grad_norm"}``.

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features)
    intercept_ : ndarray of shape (1,)
    classes_ : ndarray of shape (2,)
    n_iter_ : int
    stop_reason_ : str
        Why the solver stopped ('gradient', 'decrement', ..., 'separation', 'max_iter').
    history_ : list of dict
        Per iteration: loss, grad_norm, decrement, step_norm, damping, step_length.
    converged_ : bool
        Whether the fit reached its optimum (False after separation, max_iter, ...).
    stop_message_ : str
        Why it stopped, with advice in this estimator's parameters.
    n_obs_, log_likelihood_, null_log_likelihood_ : int, float, float
        Samples with positive weight, the log-likelihood at the fit and that of the
        intercept-only model (the summary's header).
    objective_value_ : float
        The minimised objective.
    covariance_ : ndarray or None
        Inverse Hessian over ``(w, b)`` (intercept last), unpenalised fits only.
    bse_ : ndarray of shape (n_features + fit_intercept,) or None
        Standard errors of ``(w, b)``, unpenalised fits only; NaN for coefficients the
        data do not identify (collinear or constant columns; a RankDeficiencyWarning
        names them) and after separation.

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0], [1.5], [2.5]])
    >>> y = np.array([0, 0, 1, 1, 1, 0])
    >>> model = nb.LogisticRegression(penalty=None).fit(X, y)
    >>> model.n_iter_ < 10, model.bse_.shape
    (True, (2,))
    """

    _max_classes = 2

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def _objective(self, X, y_index, sample_weight, scales=None, weight_scale=1.0):
        from nablanet.optim import LogisticObjective

        alpha = self._alpha() / weight_scale  # the objective divided by the mean weight
        if scales is not None and alpha > 0:
            alpha = alpha / scales**2  # alpha ||w||^2 with w = w_scaled / s
        return LogisticObjective(X, y_index, sample_weight, alpha=alpha,
                                 fit_intercept=self.fit_intercept)

    def _penalty_value(self, objective, theta):
        w, _ = objective.split(theta)
        return 0.5 * float((objective.alpha * w) @ w)

    def _logit_extent(self, objective, theta):
        w, b = objective.split(theta)
        return float(np.max(np.abs(objective.X @ w + b), initial=0.0))

    def _strictly_separable(self, objective, sample_weight):
        from nablanet.optim.objectives import is_linearly_separable

        rows = slice(None) if sample_weight is None else sample_weight > 0
        if not self.fit_intercept:
            return False  # the LP below assumes an intercept; quasi-complete is the safe word
        return is_linearly_separable(objective.X[rows], objective.y[rows])

    def _separating_direction(self, objective, sample_weight):
        return separating_direction(objective.X, objective.y, sample_weight, self.fit_intercept)

    def _lipschitz(self, objective):
        # p (1 - p) <= 1/4, attained at theta = 0: H(0) bounds the Hessian everywhere
        return float(np.linalg.eigvalsh(objective.hessian(np.zeros(objective.n_params)))[-1])

    def _set_solution(self, objective, theta, scales=None):
        w, b = objective.split(theta)
        w = np.asarray(w, dtype=float) if scales is None else w / scales
        self.coef_ = w.reshape(1, -1)
        self.intercept_ = np.array([float(b)])

    def _after_fit(self, objective, result, scales=None, weight_scale=1.0):
        self.covariance_ = self.bse_ = None
        if self._alpha() > 0:
            return
        # the Hessian of the scaled problem: its rank test does not see the units
        covariance, unidentified = identified_covariance(objective.hessian(result.x))
        undo = np.full(len(covariance), weight_scale**-0.5)  # H of the objective / mean weight
        if scales is not None:
            undo[: len(scales)] /= scales
        self.covariance_, self.bse_ = unscaled_standard_errors(covariance, unidentified, undo)
        warn_unidentified(coefficient_names(self), unidentified, type(self).__name__)

    def summary(self, feature_names=None, alpha=0.05):
        """Coefficient table: estimate, standard error, z, p-value, confidence interval.

        Available for unpenalised fits (``penalty=None``), where the inverse
        Hessian of the log-likelihood is the asymptotic covariance.  The intercept comes
        first (as with statsmodels' ``add_constant``); a header gives n, the
        log-likelihood, McFadden's pseudo-R^2, whether the fit converged and why it
        stopped.  After a fit that did not converge (separation, max_iter) it warns,
        and the header says why: the statistics then describe no optimum.

        Parameters
        ----------
        feature_names : sequence of str, optional
            Defaults to ``feature_names_in_`` (a DataFrame's columns) or x0, x1, ...
        alpha : float, default 0.05
            The interval is ``coef +- z_{1 - alpha/2} * std err``.

        Returns
        -------
        CoefficientTable
            Its ``str`` is the table; its fields are arrays; ``to_frame()`` gives a
            pandas DataFrame.
        """
        require_standard_errors(self)
        names = coefficient_names(self, feature_names)
        estimates = np.append(self.coef_[0], self.intercept_[0] if self.fit_intercept else [])
        order = intercept_first(len(names), self.fit_intercept)
        return CoefficientTable([names[i] for i in order], estimates[order], self.bse_[order],
                                alpha, header=model_header(self))


def intercept_first(n, fit_intercept):
    """Indices putting the last entry (the intercept) first."""
    return np.r_[n - 1, : n - 1] if fit_intercept else np.arange(n)


def require_standard_errors(estimator):
    """ValueError for penalised fits; a warning (and the header's word) for fits that did
    not converge."""
    from nablanet.optim.stopping import ConvergenceWarning, user_stacklevel

    if getattr(estimator, "bse_", None) is None:
        raise ValueError(
            "summary() needs an unpenalised fit: standard errors come from the inverse "
            "Hessian of the log-likelihood; refit with penalty=None"
        )
    if getattr(estimator, "converged_", True) is False:
        warnings.warn(f"summary() of a fit that did not converge "
                      f"({estimator.stop_reason_}): the estimates are not the maximum "
                      f"likelihood, and their standard errors and p-values mean nothing. "
                      f"{getattr(estimator, 'stop_message_', '')}", ConvergenceWarning,
                      stacklevel=user_stacklevel())


def model_header(estimator):
    """The summary's model lines: n, log-likelihood, pseudo-R^2, converged, stop reason."""
    ll, null = (getattr(estimator, "log_likelihood_", None),
                getattr(estimator, "null_log_likelihood_", None))
    converged = getattr(estimator, "converged_", None)
    header = {"model": type(estimator).__name__, "n": getattr(estimator, "n_obs_", None),
              "log-likelihood": ll, "null log-likelihood": null,
              "pseudo R^2 (McFadden)": (1.0 - ll / null) if ll is not None and null else None,
              "converged": converged, "stop reason": estimator.stop_reason_,
              "iterations": estimator.n_iter_}
    if converged is False:
        header["warning"] = getattr(estimator, "stop_message_", "") or "did not converge"
    return header


class CoefficientTable:
    """Wald statistics of fitted coefficients; ``str(table)`` prints them aligned.

    Attributes
    ----------
    names : list of str
    coef, std_err, z, p_values : ndarray
        NaN where a coefficient is not identified (its standard error is NaN).
    conf_int : ndarray of shape (n, 2)
    header : dict
        Model lines printed above the table (n, log-likelihood, pseudo-R^2, converged,
        stop reason); empty when not given.
    """

    def __init__(self, names, coef, std_err, alpha=0.05, header=None):
        self.header = dict(header or {})
        from scipy.stats import norm

        self.names = list(names)
        self.coef = np.asarray(coef, dtype=float)
        self.std_err = np.asarray(std_err, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            self.z = self.coef / self.std_err
        self.p_values = 2.0 * norm.sf(np.abs(self.z))
        half = norm.ppf(1.0 - alpha / 2.0) * self.std_err
        self.conf_int = np.column_stack([self.coef - half, self.coef + half])
        self.alpha = alpha

    def columns(self):
        """Column labels of the table (and of :meth:`to_frame`)."""
        return ["coef", "std err", "z", "P>|z|", f"[{self.alpha / 2:.3g}",
                f"{1 - self.alpha / 2:.3g}]"]

    def to_frame(self):
        """The table as a pandas DataFrame (rows: coefficients), or, without pandas, a
        dict of column arrays."""
        data = dict(zip(self.columns(), (self.coef, self.std_err, self.z, self.p_values,
                                          self.conf_int[:, 0], self.conf_int[:, 1]),
                        strict=True))
        try:
            import pandas as pd
        except ImportError:
            return {"names": list(self.names), **data}
        return pd.DataFrame(data, index=pd.Index(self.names, name="coefficient"))

    def _header_lines(self):
        lines = []
        for key, value in self.header.items():
            if isinstance(value, float):
                value = f"{value:.6g}"
            elif value is None:
                value = "n/a"
            lines.append(f"{key + ':':<24} {value}")
        return lines

    def __str__(self):
        lo, hi = self.columns()[4:]
        width = max(9, *(len(n) for n in self.names))
        header = (f"{'':<{width}} {'coef':>11} {'std err':>11} {'z':>9} {'P>|z|':>9} "
                  f"{lo:>11} {hi:>11}")
        lines = self._header_lines()
        lines += ["=" * len(header)] if lines else []
        lines += [header, "-" * len(header)]
        for i, name in enumerate(self.names):
            lines.append(
                f"{name:<{width}} {_number(self.coef[i]):>11} {_number(self.std_err[i]):>11} "
                f"{self.z[i]:>9.3f} {self.p_values[i]:>9.3f} {_number(self.conf_int[i, 0]):>11} "
                f"{_number(self.conf_int[i, 1]):>11}"
            )
        return "\n".join(lines)

    __repr__ = __str__


def _number(value):
    """Four decimals, or four significant digits for values a fixed format would hide
    (a coefficient of a column in units of 1e8 is ~1e-8)."""
    if value == 0 or not np.isfinite(value) or 1e-3 <= abs(value) < 1e6:
        return f"{value:.4f}"
    return f"{value:.4e}"


def standard_errors(hessian):
    """``(covariance_, bse_)`` of an unpenalised fit: H^-1 and the root of its diagonal,
    NaN for the coefficients a singular H leaves unidentified
    (:func:`~nablanet.models._stats.identified_covariance`)."""
    covariance, unidentified = identified_covariance(hessian)
    bse = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    bse[unidentified] = np.nan
    return covariance, bse
