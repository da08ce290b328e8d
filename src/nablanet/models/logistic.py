"""Binary logistic regression fitted by Newton's method (claim C1), with standard errors."""

from __future__ import annotations

import numpy as np

from nablanet.models._linear import NewtonLinearClassifier


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
    objective_value_ : float
        The minimised objective.
    covariance_ : ndarray or None
        Inverse Hessian over ``(w, b)`` (intercept last), unpenalised fits only.
    bse_ : ndarray of shape (n_features + fit_intercept,) or None
        Standard errors of ``(w, b)``, unpenalised fits only.

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

    def _objective(self, X, y_index, sample_weight):
        from nablanet.optim import LogisticObjective

        return LogisticObjective(X, y_index, sample_weight, alpha=self._alpha(),
                                 fit_intercept=self.fit_intercept)

    def _lipschitz(self, objective):
        # p (1 - p) <= 1/4, attained at theta = 0: H(0) bounds the Hessian everywhere
        return float(np.linalg.eigvalsh(objective.hessian(np.zeros(objective.n_params)))[-1])

    def _set_solution(self, objective, theta):
        w, b = objective.split(theta)
        self.coef_ = np.asarray(w, dtype=float).reshape(1, -1)
        self.intercept_ = np.array([float(b)])

    def _after_fit(self, objective, result):
        self.covariance_ = self.bse_ = None
        if self._alpha() > 0:
            return
        self.covariance_, self.bse_ = standard_errors(objective.hessian(result.x))

    def summary(self, feature_names=None, alpha=0.05):
        """Coefficient table: estimate, standard error, z, p-value, confidence interval.

        Available for unpenalised fits (``penalty=None``), where the inverse
        Hessian of the log-likelihood is the asymptotic covariance.

        Parameters
        ----------
        feature_names : sequence of str, optional
            Defaults to ``feature_names_in_`` or x0, x1, ...
        alpha : float, default 0.05
            The interval is ``coef +- z_{1 - alpha/2} * std err``.

        Returns
        -------
        CoefficientTable
            Its ``str`` is the table; its fields are arrays.
        """
        if getattr(self, "bse_", None) is None:
            raise ValueError(
                "summary() needs an unpenalised fit: standard errors come from the inverse "
                "Hessian of the log-likelihood; refit with penalty=None"
            )
        names = coefficient_names(self, feature_names)
        estimates = np.append(self.coef_[0], self.intercept_[0] if self.fit_intercept else [])
        return CoefficientTable(names, estimates, self.bse_, alpha)


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


class CoefficientTable:
    """Wald statistics of fitted coefficients; ``str(table)`` prints them aligned.

    Attributes
    ----------
    names : list of str
    coef, std_err, z, p_values : ndarray
    conf_int : ndarray of shape (n, 2)
    """

    def __init__(self, names, coef, std_err, alpha=0.05):
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

    def __str__(self):
        lo, hi = f"[{self.alpha / 2:.3g}", f"{1 - self.alpha / 2:.3g}]"
        width = max(9, *(len(n) for n in self.names))
        header = (f"{'':<{width}} {'coef':>11} {'std err':>11} {'z':>9} {'P>|z|':>9} "
                  f"{lo:>11} {hi:>11}")
        lines = [header, "-" * len(header)]
        for i, name in enumerate(self.names):
            lines.append(
                f"{name:<{width}} {self.coef[i]:>11.4f} {self.std_err[i]:>11.4f} "
                f"{self.z[i]:>9.3f} {self.p_values[i]:>9.3f} {self.conf_int[i, 0]:>11.4f} "
                f"{self.conf_int[i, 1]:>11.4f}"
            )
        return "\n".join(lines)

    __repr__ = __str__


def standard_errors(hessian):
    """``(covariance_, bse_)`` of an unpenalised fit: H^-1 and the root of its diagonal
    (NaN everywhere when H is singular)."""
    try:
        covariance = np.linalg.inv(hessian)
    except np.linalg.LinAlgError:
        covariance = np.full_like(hessian, np.nan)
    return covariance, np.sqrt(np.clip(np.diag(covariance), 0.0, None))
