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

    Parameters
    ----------
    C : float, default 1.0
        Inverse L2 strength, as in scikit-learn.
    penalty : {'l2', None}, default 'l2'
    fit_intercept : bool, default True
    solver : {'newton', 'newton-cg', 'gd'}, default 'newton'
    tol : float, default 1e-8
    max_iter : int, default 100
    verbose : bool, default False
    callback : callable, optional
        Called after each iteration with ``{"iteration", "loss", "grad_norm"}``.

    Attributes
    ----------
    coef_ : ndarray of shape (n_classes, n_features)
    intercept_ : ndarray of shape (n_classes,)
    classes_, n_iter_, stop_reason_, history_, objective_value_
        As in :class:`~nablanet.models.LogisticRegression`.

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]])
    >>> y = np.array([0, 0, 1, 1, 2, 2])
    >>> model = nb.SoftmaxRegression(C=10.0).fit(X, y)
    >>> model.predict(X).tolist(), model.coef_.shape
    ([0, 0, 1, 1, 2, 2], (3, 1))
    """

    def _objective(self, X, y_index, sample_weight):
        from nablanet.optim import SoftmaxObjective

        return SoftmaxObjective(X, y_index, sample_weight, alpha=self._alpha(),
                                fit_intercept=self.fit_intercept,
                                n_classes=len(self.classes_))

    def _lipschitz(self, objective):
        # eigenvalues of diag(p) - p p^T are at most 1/2 for every p
        X = objective.X * np.sqrt(objective.sample_weight)[:, None]
        bound = 0.5 * np.linalg.eigvalsh(X.T @ X)[-1] + objective.alpha
        return float(bound + (objective.n_classes if objective._centring() else 0.0))

    def _set_solution(self, objective, theta):
        full = objective.coefficients(theta)
        if objective.reference_class is not None:
            full = full - full.mean(axis=0)  # symmetric form: rows sum to zero
        if self.fit_intercept:
            self.coef_, self.intercept_ = full[:, :-1].copy(), full[:, -1].copy()
        else:
            self.coef_, self.intercept_ = full.copy(), np.zeros(len(full))
