"""Linear regression trained with Gaussian dropout on its inputs (claim C5).

Each input is multiplied by independent noise ``delta ~ Normal(1, sigma2)``.
In expectation the squared error gains a data-dependent L2 penalty:

    E[0.5 (y - b - sum_k delta_k w_k x_k)^2]
        = 0.5 (y - b - w.x)^2 + 0.5 sigma2 sum_k w_k^2 x_k^2,

so noise training converges to the minimiser of the penalised objective, which
``closed_form=True`` computes directly:
``w = (Xc^T S Xc + sigma2 diag(X^T S X))^-1 Xc^T S yc`` (``S`` the sample
weights, ``Xc``/``yc`` centred when there is an intercept; the penalty uses the
raw inputs, because the noise multiplies the raw inputs).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin

from nablanet.models._base import (
    DivergenceError,
    NablanetEstimator,
    check_positive,
    check_squares_fit,
    notify,
)


class GaussianDropoutRegressor(RegressorMixin, NablanetEstimator):
    """Linear regression with multiplicative Gaussian noise on the inputs (claim C5).

    Parameters
    ----------
    sigma2 : float, default 0.25
        Variance of the noise ``delta ~ Normal(1, sigma2)``; ``sigma2 = p / (1 - p)``
        matches the variance of binary dropout with drop probability ``p``
        (0.25 for p = 0.2).
    closed_form : bool, default False
        Solve for the expected-loss minimiser directly instead of training with noise.
    fit_intercept : bool, default True
        Learn an intercept (never noised, never penalised).
    learning_rate : float or 'auto', default 'auto'
        SGD step; 'auto' uses ``1 / (4 (1 + R^2))`` with ``R^2`` the mean of
        ``(1 + sigma2) ||x||^2``, a step at which constant-step SGD on a least-squares
        objective converges in the mean.
    batch_size : int, default 16
    max_epochs : int, default 100
        Epochs of noise training; the estimate is the average of the iterates over
        the second half of training (Polyak-Ruppert averaging), which removes the
        fluctuation of a constant step.
    random_state : int or None, default None
        Seed of the noise and of the shuffling.
    verbose : bool, default False
        Print the mean training loss of each epoch.
    callback : callable, optional
        Called after each epoch with ``{"epoch", "loss"}``.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    n_iter_ : int
        Epochs run (0 for the closed form).
    loss_curve_ : list of float
        Mean noisy loss of each epoch (empty for the closed form).

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> X = np.array([[1.0], [2.0], [3.0]]); y = np.array([1.0, 2.0, 3.0])
    >>> model = nb.GaussianDropoutRegressor(sigma2=0.5, closed_form=True).fit(X, y)
    >>> model.coef_.round(3)
    array([0.222])
    """

    def __init__(
        self,
        sigma2=0.25,
        closed_form=False,
        fit_intercept=True,
        learning_rate="auto",
        batch_size=16,
        max_epochs=100,
        random_state=None,
        verbose=False,
        callback=None,
    ):
        self.sigma2 = sigma2
        self.closed_form = closed_form
        self.fit_intercept = fit_intercept
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.random_state = random_state
        self.verbose = verbose
        self.callback = callback

    def fit(self, X, y, sample_weight=None):
        """Fit by noise training (or the closed form).

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
        y : array_like of shape (n_samples,)
        sample_weight : array_like of shape (n_samples,), optional
            Weights of the per-sample losses.

        Returns
        -------
        self
        """
        self._check_params()
        X, y, sample_weight = self._validate_fit_data(X, y, sample_weight)
        weights = np.ones(len(y)) if sample_weight is None else sample_weight
        if self.closed_form:
            self.coef_, self.intercept_ = self._solve_expected(X, y, weights)
            self.n_iter_, self.loss_curve_ = 0, []
        else:
            check_squares_fit(X, "GaussianDropoutRegressor noise training",
                              "rescale X, or use closed_form=True (which rescales itself)",
                              getattr(self, "feature_names_in_", None))
            self._train_with_noise(X, y.astype(np.float64), weights)
            if not (np.all(np.isfinite(self.coef_)) and np.isfinite(self.intercept_)):
                raise DivergenceError(
                    "Solver produced non-finite parameter weights: noise training diverged "
                    f"at learning_rate={self.learning_rate!r}; use a smaller learning_rate "
                    "or learning_rate='auto', or standardise X")
        return self

    def predict(self, X):
        """Predictions ``X @ coef_ + intercept_`` (no noise at prediction).

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        X = self._validate_predict_data(X)
        return X @ self.coef_ + self.intercept_

    def expected_loss(self, X, y):
        """The noise-free objective noise training minimises: mean of
        ``0.5 (y - b - w.x)^2 + 0.5 sigma2 sum_k w_k^2 x_k^2`` (claim C5)."""
        X = self._validate_predict_data(X)
        residual = np.asarray(y, dtype=np.float64) - self.predict(X)
        penalty = self.sigma2 * (X**2) @ (self.coef_**2)
        return float(np.mean(0.5 * residual**2 + 0.5 * penalty))

    # -- fitting -----------------------------------------------------------------
    def _check_params(self):
        check_positive("sigma2", self.sigma2, allow_zero=True)
        check_positive("batch_size", self.batch_size, integer=True)
        check_positive("max_epochs", self.max_epochs, integer=True)
        if self.learning_rate != "auto":
            check_positive("learning_rate", self.learning_rate)

    def _solve_expected(self, X, y, weights):
        """Minimiser of the expected weighted loss (the closed form of claim C5).

        Never through the normal equations, whose condition number is the square of the
        data's: the penalised least-squares problem
        ``min ||sqrt(S) (yc - Xc w)||^2 + sigma2 sum_j w_j^2 sum_n s_n x_nj^2`` is solved as
        one stacked least-squares system by SVD, on columns scaled first by exact powers
        of two (no rounding, no overflow) and then to unit norm, so the singular-value cut
        is relative to each column's own size: scaling one column by 1e8 rescales its
        coefficient by 1e-8 and leaves the others alone.
        """
        total = weights.sum()
        _, exponents = np.frexp(np.max(np.abs(X), axis=0, initial=0.0))
        powers = np.ldexp(1.0, exponents)
        X = X / powers  # exact: largest |x| of each column in [0.5, 1)
        x_mean = weights @ X / total if self.fit_intercept else np.zeros(X.shape[1])
        y_mean = weights @ y / total if self.fit_intercept else 0.0
        root = np.sqrt(weights)
        ridge = np.sqrt(self.sigma2 * (weights @ X**2))  # the noise's penalty, raw inputs
        stacked = np.vstack([(X - x_mean) * root[:, None], np.diag(ridge)])
        target = np.concatenate([(y - y_mean) * root, np.zeros(X.shape[1])])
        norms = np.linalg.norm(stacked, axis=0)
        norms[norms == 0] = 1.0
        coef = np.linalg.lstsq(stacked / norms, target, rcond=None)[0] / norms
        intercept = float(y_mean - x_mean @ coef)
        return coef / powers, intercept

    def _step_size(self, X):
        if self.learning_rate != "auto":
            return float(self.learning_rate)
        radius2 = (1.0 + self.sigma2) * np.mean(np.sum(X**2, axis=1)) + 1.0
        return 1.0 / (4.0 * radius2)

    def _train_with_noise(self, X, y, weights):
        import nablanet as nb
        from nablanet.ops.stochastic import gaussian_dropout

        rng = np.random.default_rng(self.random_state)
        n, d = X.shape
        weights = weights * (n / weights.sum())  # mean weight 1: the step keeps its scale
        step = self._step_size(X)
        coef, intercept = np.zeros(d), np.zeros(())
        mean_coef, mean_intercept, n_averaged = np.zeros(d), 0.0, 0
        start_average = self.max_epochs // 2

        def batch_loss(w, b, Xb, yb, sb):
            noisy = gaussian_dropout(Xb, self.sigma2, training=True, generator=rng)
            residual = yb - (noisy @ w + b)
            return nb.sum(sb * residual * residual) * (0.5 / len(yb))

        step_fn = nb.value_and_grad(batch_loss, argnums=(0, 1))
        self.loss_curve_ = []
        for epoch in range(self.max_epochs):
            total = 0.0
            for idx in _batches(n, self.batch_size, rng):
                loss, (g_coef, g_intercept) = step_fn(coef, intercept, X[idx], y[idx], weights[idx])
                coef = coef - step * g_coef
                if self.fit_intercept:
                    intercept = intercept - step * g_intercept
                total += float(loss) * len(idx)
            if epoch >= start_average:
                n_averaged += 1
                mean_coef += (coef - mean_coef) / n_averaged
                mean_intercept += (float(intercept) - mean_intercept) / n_averaged
            self._end_epoch(epoch, total / n)
        self.coef_, self.intercept_ = mean_coef, float(mean_intercept)
        self.n_iter_ = self.max_epochs

    def _end_epoch(self, epoch, loss):
        self.loss_curve_.append(loss)
        if self.verbose:
            print(f"epoch {epoch + 1:4d}  loss {loss:.6g}")
        notify(self.callback, {"epoch": epoch + 1, "loss": loss})

    # -- files ---------------------------------------------------------------------
    def _fitted_state(self):
        arrays = {"coef": self.coef_, "loss_curve": np.asarray(self.loss_curve_, dtype=float)}
        scalars = {
            "intercept": self.intercept_,
            "n_iter": self.n_iter_,
            "n_features_in": self.n_features_in_,
        }
        return arrays, scalars

    def _restore_state(self, arrays, scalars):
        self.coef_ = arrays["coef"]
        self.loss_curve_ = arrays["loss_curve"].tolist()
        self.intercept_ = float(scalars["intercept"])
        self.n_iter_ = int(scalars["n_iter"])
        self.n_features_in_ = int(scalars["n_features_in"])
        if self.coef_.shape != (self.n_features_in_,):
            raise ValueError(
                f"coef has shape {self.coef_.shape}, expected ({self.n_features_in_},)"
            )


def _batches(n, batch_size, rng):
    order = rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]
