"""Multinomial (softmax) regression fitted by Newton's method (claim C7)."""

from __future__ import annotations

import numpy as np

from nablanet.models._linear import NewtonLinearClassifier


class SoftmaxRegression(NewtonLinearClassifier):
    """Multinomial logistic regression: ``sum_n s_n CE_n + 1/(2C) ||W||^2`` by Newton.

    The Hessian ``sum_n s_n (diag(p_n) - p_n p_n^T) kron x~_n x~_n^T`` is singular
    (claim C7: ``H 1 = 0``, softmax ignores a common shift of the logits).  The fit
    removes that null space: without penalty the last class is a reference (its
    row fixed at zero) and the rows are centred afterwards, so ``coef_`` sums to
    zero over the classes; with L2 the penalty fixes the weights and the
    intercepts are pinned to sum to zero.  Predictions are unaffected.

    Standard errors (``penalty=None`` only, as in
    :class:`~nablanet.models.LogisticRegression`): the Hessian of the
    log-likelihood in the reference-class parameters (``(K - 1) x D`` free rows)
    is invertible; its inverse is carried to the centred ``coef_`` by the linear
    map that appends the zero reference row and centres over the classes.  The
    result equals the Moore-Penrose pseudo-inverse of the singular full Hessian,
    and differences of rows (contrasts against any reference class, as reported
    by statsmodels' ``MNLogit``) do not depend on the choice of reference.

    Parameters
    ----------
    C : float, default 1.0
        Inverse L2 strength, as in scikit-learn.
    penalty : {'l2', None}, default 'l2'
    fit_intercept : bool, default True
    solver : {'newton', 'newton-cg', 'gd'}, default 'newton'
    tol : float, default 1e-8
    max_iter : int, default 100
    class_weight : dict, 'balanced' or None, default None
        Weights of the classes, multiplying ``sample_weight`` (scikit-learn's meaning).
    verbose : bool, default False
    callback : callable, optional
        Called after each iteration with ``{"iteration", "loss", "grad_norm"}``.

    Attributes
    ----------
    coef_ : ndarray of shape (n_classes, n_features)
    intercept_ : ndarray of shape (n_classes,)
    classes_, n_iter_, stop_reason_, converged_, stop_message_, history_
        As in :class:`~nablanet.models.LogisticRegression`.
    objective_value_, n_obs_, log_likelihood_, null_log_likelihood_
        As in :class:`~nablanet.models.LogisticRegression`.
    covariance_ : ndarray of shape (n_classes * D, n_classes * D) or None
        Covariance of the centred coefficients, class by class, each class's
        features then its intercept (``D = n_features + fit_intercept``);
        unpenalised fits only.
    bse_ : ndarray of shape (n_classes, D) or None
        Standard errors laid out as ``[coef_, intercept_]``; unpenalised fits only.

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]])
    >>> y = np.array([0, 0, 1, 1, 2, 2])
    >>> model = nb.SoftmaxRegression(C=10.0).fit(X, y)
    >>> model.predict(X).tolist(), model.coef_.shape
    ([0, 0, 1, 1, 2, 2], (3, 1))
    >>> y = np.array([0, 1, 0, 2, 1, 2])  # overlapping classes: a finite unpenalised optimum
    >>> nb.SoftmaxRegression(penalty=None).fit(X, y).bse_.shape
    (3, 2)
    """

    def _objective(self, X, y_index, sample_weight, scales=None, weight_scale=1.0):
        from nablanet.optim import SoftmaxObjective

        alpha = self._alpha() / weight_scale  # the objective divided by the mean weight
        if scales is not None and alpha > 0:
            alpha = alpha / scales**2  # alpha ||W||^2 with W = W_scaled / s
        return SoftmaxObjective(X, y_index, sample_weight, alpha=alpha,
                                fit_intercept=self.fit_intercept,
                                n_classes=len(self.classes_))

    def _penalty_value(self, objective, theta):
        weights = objective.coefficients(theta)[:, : objective.n_features]
        return 0.5 * float(np.sum(objective.alpha * weights * weights))

    def _logit_extent(self, objective, theta):
        Z = objective.X @ objective.coefficients(theta).T
        return float(np.max(Z.max(axis=1) - Z.min(axis=1), initial=0.0))

    def _strictly_separable(self, objective, sample_weight):
        return False  # the multinomial LP finds a direction, not a margin: say quasi-complete

    def _separating_direction(self, objective, sample_weight):
        from nablanet.models._stats import multinomial_separating_direction

        if not np.all((objective.Y == 0) | (objective.Y == 1)):
            return None
        X = objective.X[:, : objective.n_features]
        return multinomial_separating_direction(X, objective.Y, sample_weight,
                                                self.fit_intercept)

    def _lipschitz(self, objective):
        # eigenvalues of diag(p) - p p^T are at most 1/2 for every p
        X = objective.X * np.sqrt(objective.sample_weight)[:, None]
        bound = 0.5 * np.linalg.eigvalsh(X.T @ X)[-1] + float(np.max(objective.alpha))
        return float(bound + (objective.n_classes if objective._centring() else 0.0))

    def _set_solution(self, objective, theta, scales=None):
        full = objective.coefficients(theta)
        if objective.reference_class is not None:
            full = full - full.mean(axis=0)  # symmetric form: rows sum to zero
        if scales is not None:
            full[:, : objective.n_features] /= scales
        if self.fit_intercept:
            self.coef_, self.intercept_ = full[:, :-1].copy(), full[:, -1].copy()
        else:
            self.coef_, self.intercept_ = full.copy(), np.zeros(len(full))

    def _after_fit(self, objective, result, scales=None, weight_scale=1.0):
        from nablanet.models._stats import warn_unidentified
        from nablanet.models.logistic import coefficient_names

        self.covariance_ = self.bse_ = None
        if self._alpha() > 0:
            return
        H = objective.hessian(result.x)  # reference-class parameters: invertible if identified
        undo = np.full(objective.width, weight_scale**-0.5)  # H of the objective / mean weight
        if scales is not None:
            undo[: len(scales)] /= scales
        self.covariance_, self.bse_, unidentified = reference_standard_errors(
            H, objective.n_classes, objective.width, undo
        )
        warn_unidentified(coefficient_names(self), unidentified, type(self).__name__)

    def summary(self, feature_names=None, alpha=0.05, reference_class=None):
        """Coefficient table: estimate, standard error, z, p-value, confidence interval.

        Available for unpenalised fits (``penalty=None``).

        Parameters
        ----------
        feature_names : sequence of str, optional
            Defaults to ``feature_names_in_`` or x0, x1, ...
        alpha : float, default 0.05
            The interval is ``coef +- z_{1 - alpha/2} * std err``.
        reference_class : label, optional
            None (default): the centred coefficients ``coef_`` (each row is a
            class's deviation from the mean of the classes).  A class label: the
            contrasts ``row_k - row_reference`` of the other classes, the
            parameters of a reference-class model such as statsmodels' ``MNLogit``.

        Returns
        -------
        CoefficientTable
            Rows named ``'<class>: <feature>'`` (``'<class> vs <reference>: ...'``
            for contrasts); its ``str`` is the table.
        """
        from nablanet.models.logistic import (
            CoefficientTable,
            coefficient_names,
            intercept_first,
            model_header,
            require_standard_errors,
        )

        require_standard_errors(self)
        features = coefficient_names(self, feature_names)
        estimates, covariance = self._coefficient_matrix(), self.covariance_
        labels = [str(c) for c in self.classes_]
        if reference_class is not None:
            estimates, covariance, labels = self._contrasts(reference_class)
        std_err = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
        std_err[~np.isfinite(np.diag(covariance))] = np.nan
        order = intercept_first(len(features), self.fit_intercept)
        width = len(features)
        order = np.concatenate([k * width + order for k in range(len(labels))])
        names = [f"{label}: {feature}" for label in labels for feature in features]
        return CoefficientTable([names[i] for i in order], estimates.ravel()[order],
                                std_err[order], alpha, header=model_header(self))

    def _coefficient_matrix(self):
        """``[coef_, intercept_]`` (intercept column only when fitted), the bse_ layout."""
        if not self.fit_intercept:
            return self.coef_
        return np.column_stack([self.coef_, self.intercept_])

    def _contrasts(self, reference_class):
        """Estimates, covariance and row labels of ``row_k - row_r`` for k != r."""
        matches = np.flatnonzero(self.classes_ == reference_class)
        if len(matches) != 1:
            raise ValueError(f"reference_class must be one of {self.classes_.tolist()}, got "
                             f"{reference_class!r}")
        r, n_classes = int(matches[0]), len(self.classes_)
        others = [k for k in range(n_classes) if k != r]
        contrast = np.eye(n_classes)[others] - np.eye(n_classes)[r]  # (K - 1, K)
        width = self.covariance_.shape[0] // n_classes
        transform = np.kron(contrast, np.eye(width))
        covariance = transform @ self.covariance_ @ transform.T
        labels = [f"{self.classes_[k]} vs {self.classes_[r]}" for k in others]
        return contrast @ self._coefficient_matrix(), covariance, labels


def reference_standard_errors(hessian, n_classes, width, undo=None):
    """``(covariance_, bse_, unidentified)`` of the centred coefficients of an unpenalised
    fit.

    ``hessian`` is over the reference-class parameters (the first K - 1 classes, class
    by class, ``width`` entries each).  Where it is singular, the columns it leaves
    unidentified (in any class: centring mixes the classes) get NaN
    (:func:`~nablanet.models._stats.identified_covariance`); ``unidentified`` is their
    mask over the ``width`` columns.  ``undo`` (width,) rescales column j by undo_j (the
    solver's column scaling).
    """
    from nablanet.models._stats import identified_covariance, unscaled_standard_errors

    reference, free_mask = identified_covariance(hessian)
    unidentified = free_mask.reshape(n_classes - 1, width).any(axis=0)
    reference = np.nan_to_num(reference, nan=0.0)
    covariance = _centred_covariance(reference, n_classes, width)
    bad = np.tile(unidentified, n_classes)
    covariance[bad, :] = np.nan
    covariance[:, bad] = np.nan
    factor = np.ones(n_classes * width) if undo is None else np.tile(undo, n_classes)
    covariance, bse = unscaled_standard_errors(covariance, bad, factor)
    return covariance, bse.reshape(n_classes, width), unidentified


def _centred_covariance(reference, n_classes, width):
    """Covariance of the centred rows from that of the free rows (reference row zero).

    ``theta_centred = (C kron I) E theta_free`` with ``E`` appending the zero row and
    ``C = I - 11^T / K``; so the covariance is ``(C kron I) E S E^T (C kron I)``.
    """
    n_free = n_classes - 1
    full = np.zeros((n_classes, width, n_classes, width))
    full[:n_free, :, :n_free, :] = reference.reshape(n_free, width, n_free, width)
    full -= full.mean(axis=0, keepdims=True)
    full -= full.mean(axis=2, keepdims=True)
    return full.reshape(n_classes * width, n_classes * width)
