"""Closed-form objectives for the estimators: binary logistic (C1) and softmax (C7) regression.

Each objective takes a flat parameter vector and returns the value, gradient,
Hessian and Hessian-vector product of the **summed**, sample-weighted loss
plus an L2 penalty ``0.5 * alpha * ||W||^2`` (intercepts are not penalised;
alpha = 1/C matches scikit-learn's C).  Values come from logits in
log-sum-exp / softplus form, so they stay finite for |z| up to 1e4 and beyond.
Hessians are symmetric rank-k products of sqrt-weighted rows (``A.T @ A``,
which NumPy hands to BLAS syrk) and are checked against ``nablanet.hessian``.
"""

from __future__ import annotations

import numpy as np

from nablanet.optim import _logistic_passes as passes

#: Largest table of per-row feature products x_i x_j that :class:`SoftmaxObjective` keeps
#: to build its Hessian by one matrix product (above it: a rank-n update per build).
PAIR_PRODUCTS_BYTES = 64 << 20


def _check_data(X, sample_weight):
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"X must be a non-empty 2-D array (n_samples, n_features), got {X.shape}")
    if X.dtype.kind not in "biuf":
        raise TypeError(f"X must be numeric, got dtype {X.dtype}")
    X = np.ascontiguousarray(X, dtype=float)
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or inf; clean or impute the data before fitting")
    n = X.shape[0]
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    if sw.shape != (n,) or not np.all(np.isfinite(sw)) or np.any(sw < 0):
        raise ValueError(f"sample_weight must be {n} finite non-negative numbers")
    return X, sw


class _CachedLogits:
    """Recompute logits and probabilities only when the parameters change."""

    def _state(self, theta):
        theta = np.asarray(theta, dtype=float).reshape(-1)
        if theta.size != self.n_params:
            raise ValueError(f"expected {self.n_params} parameters, got {theta.size}")
        if self._theta is None or not np.array_equal(theta, self._theta):
            self._cache = self._compute(theta)  # may read the previous _theta and _cache
            self._theta = theta.copy()
        return self._cache


def _penalty(alpha, n_features):
    """alpha as a float, or as an array of one non-negative strength per feature."""
    values = np.asarray(alpha, dtype=float)
    if values.ndim == 0:
        values = float(values)
    elif values.shape != (n_features,):
        raise ValueError(f"alpha must be a number or {n_features} numbers, got shape "
                         f"{values.shape}")
    if not (np.all(values >= 0) and np.all(np.isfinite(values))):
        raise ValueError(f"alpha must be >= 0 and finite, got {alpha}")
    return values


class LogisticObjective(_CachedLogits):
    """Binary logistic regression: E(w, b) = sum_n s_n [softplus(z_n) - y_n z_n] + alpha/2 ||w||^2.

    ``z = X w + b``; the parameter vector is ``theta = (w, b)`` (b last, as the notes'
    xt = (x, 1)), or just ``w`` without intercept.  Gradient X~^T s (p - y) + alpha w;
    Hessian X~^T diag(s p (1 - p)) X~ + alpha I_w (claim C1).

    Parameters
    ----------
    X : array_like, shape (n, d)
    y : array_like of {0, 1}, shape (n,)
    sample_weight : array_like, shape (n,), optional
    alpha : float or array_like of shape (d,), default 0
        L2 strength (1/C in scikit-learn's terms); an array gives each feature its own
        (the estimators use alpha / s_j^2 when they solve on columns scaled by 1 / s_j).
    fit_intercept : bool, default True

    Examples
    --------
    >>> import numpy as np
    >>> obj = LogisticObjective(np.array([[0.0], [1.0], [2.0]]), np.array([0, 1, 0]))
    >>> round(obj.value(np.zeros(2)), 6), obj.gradient(np.zeros(2))
    (2.079442, array([0.5, 0.5]))
    """

    convex = True  # for the solvers: no saddle points to check for

    #: Below this many entries in X a pass over it costs less than rebuilding the logits
    #: from the H v products (a least-squares fit): measured on breast cancer (569 x 30).
    shortcut_min_size = 1 << 17

    def __init__(self, X, y, sample_weight=None, alpha=0.0, fit_intercept=True):
        self.X, self.sample_weight = _check_data(X, sample_weight)
        y = np.asarray(y)
        if y.shape != (self.X.shape[0],) or not np.all(np.isin(y, (0, 1))):
            raise ValueError(f"y must be {self.X.shape[0]} labels in {{0, 1}}, got shape {y.shape}"
                             f" with values {np.unique(y)[:5]}")
        self.alpha = _penalty(alpha, self.X.shape[1])
        self.y = y.astype(float)
        self._weighted_y = self.sample_weight * self.y
        self.fit_intercept = bool(fit_intercept)
        self.n_features = self.X.shape[1]
        self.n_params = self.n_features + self.fit_intercept
        self._theta = self._cache = self._rows = None
        self._products_of, self._products = None, []

    def split(self, theta):
        """``(w, b)`` from the parameter vector (b = 0.0 without intercept)."""
        theta = np.asarray(theta, dtype=float)
        return theta[: self.n_features], (theta[-1] if self.fit_intercept else 0.0)

    def _compute(self, theta):
        step = self._step_from_products(theta)
        if step is not None:
            state = passes.LogisticState.from_logits(self._cache.z + step[1])
            state.step = step
            return state
        if not theta.any():
            return passes.LogisticState.at_zero(len(self.X))  # the usual start: no pass
        # a pass over X is needed for the logits: the gradient comes in the same pass
        # (a Newton step is nearly always accepted, so it is rarely wasted)
        return passes.logits_and_gradient(self, theta)

    def value(self, theta):
        """Summed weighted log-loss plus penalty (a float)."""
        state = self._state(theta)
        w, _ = self.split(theta)
        loss = self.sample_weight @ state.softplus - self._weighted_y @ state.z
        return float(loss + 0.5 * ((self.alpha * w) @ w))

    def gradient(self, theta):
        """``X~^T s (p - y) + alpha (w, 0)``, shape (n_params,)."""
        state = self._state(theta)
        if state.gradient is None and state.step is not None:
            passes.gradient_and_step_product(self, state, theta)
        elif state.gradient is None:
            residual = self.sample_weight * state.p - self._weighted_y
            state.gradient = self.finish_gradient(self.X.T @ residual, residual,
                                                  self.split(theta)[0])
        return state.gradient.copy()

    def finish_gradient(self, grad_w, residual, w):
        """The gradient from ``X^T residual``: the penalty term and the intercept's entry."""
        grad_w = grad_w + self.alpha * w
        return np.append(grad_w, residual.sum()) if self.fit_intercept else grad_w

    def _curvature(self, theta):
        return passes.curvature(self, self._state(theta))  # s p (1 - p), once per theta

    def row_buffer(self, rows):
        """A reusable (rows, d) scratch buffer for the Hessian build."""
        if self._rows is None or self._rows.shape[0] != rows:
            self._rows = np.empty((rows, self.n_features))
        return self._rows

    def hessian(self, theta):
        """``X~^T diag(s p (1 - p)) X~ + alpha I_w`` as a symmetric rank-n product.

        Built in blocks of rows: each block of sqrt(c)-scaled rows stays in cache for its
        syrk (NumPy's ``A.T @ A`` on one buffer), so X is read once and no n x d copy is
        written.  If the gradient at theta is not known yet, it comes from the same pass
        (see :meth:`value_gradient_hessian`).
        """
        return passes.hessian(self, self._state(theta), theta)

    def value_gradient_hessian(self, theta):
        """``(value, gradient, Hessian)`` at theta with one pass over X instead of two
        (:func:`~nablanet.optim.newton` starts with it)."""
        H = self.hessian(theta)
        return self.value(theta), self.gradient(theta), H

    def previous_step_product(self, theta):
        """``(v, H v)`` at theta for the step v that led there, if the gradient pass at
        theta computed it (no pass of its own), else None.  For
        :func:`~nablanet.optim.newton`, whose next step is usually close to a multiple of v.
        """
        state = self._state(theta)
        return None if state.step_product is None else (state.step[0], state.step_product)

    def _step_from_products(self, theta):
        """``(v, X~ v)`` for the step v from the last point to theta, from the products
        X~ v_i of the H v calls there (v = sum c_i v_i, fitted by least squares).

        A Newton-CG step is a combination of the vectors CG multiplied by H, so the next
        point's logits z + X~ v cost O(n k) instead of a pass over X (None when theta is
        not there, or when X is so small that a pass costs less than the fit).
        """
        if self.X.size < self.shortcut_min_size:
            return None
        products = self._products_here()
        if not products:
            return None
        V = np.array([v for v, _ in products])
        delta = theta - self._theta
        coef = np.linalg.lstsq(V.T, delta, rcond=None)[0]
        scale = float(np.linalg.norm(delta) + np.linalg.norm(theta))
        if not np.linalg.norm(V.T @ coef - delta) <= 1e-13 * scale:
            return None
        step = np.zeros(len(self.X))
        for c, (_, product) in zip(coef, products, strict=True):
            step += c * product
        return V.T @ coef, step

    def _products_here(self):
        """The ``(v, X~ v)`` pairs known at the current theta: its H v calls' and, first,
        the step that led here (X~ v does not depend on theta)."""
        if self._products_of is not self._cache:
            step = self._cache.step
            self._products_of, self._products = self._cache, [] if step is None else [step]
        return self._products

    def hvp(self, theta, v):
        """``H v`` without forming H: X~^T (c * (X~ v)) + alpha (v_w, 0).

        Both products run on one block of rows at a time (~768 KB, which stays in a
        1 MB L2 cache between them): one pass over X from memory instead of two.
        """
        c = self._curvature(theta)
        v_w, v_b = self.split(v)
        n, d = self.X.shape
        product, out_w = np.empty(n), np.zeros(d)
        block = max(256, (96 << 10) // max(d, 1))
        for start in range(0, n, block):
            rows, z = self.X[start:start + block], product[start:start + block]
            np.dot(rows, v_w, out=z)
            z += v_b
            out_w += rows.T @ (c[start:start + block] * z)
        products = self._products_here()
        if len(products) < 8:
            products.append((np.array(v, dtype=float), product))
        out_w += self.alpha * v_w
        return np.append(out_w, c @ product) if self.fit_intercept else out_w

    def check(self, theta, f, g):
        """Separation test for the unpenalised problem, for :func:`~nablanet.optim.newton`.

        If some (w, b) puts every weighted sample on its correct side (all margins
        (2y - 1) z > 0), scaling it up drives the loss to 0: no finite minimum exists.
        """
        if np.any(self.alpha > 0):
            return None
        z = self._state(theta).z
        margins = (2.0 * self.y - 1.0) * z
        if np.all(margins[self.sample_weight > 0] > 0):
            return ("separation", "the classes are linearly separable: the loss tends to 0 "
                    "only as ||w|| grows without bound, so no finite minimum exists; "
                    "add L2 regularisation (alpha > 0, i.e. a finite C)")
        return None


class SoftmaxObjective(_CachedLogits):
    """Multinomial logistic regression: sum_n s_n [lse(z_n) - y_n . z_n] + alpha/2 ||W||^2.

    ``z_n = W x_n + b`` for K classes.  Parameters are the rows ``(W_k, b_k)`` of the
    K x D matrix (D = d + 1 with intercept, last column), flattened.  The Hessian
    is sum_n s_n (diag(p_n) - p_n p_n^T) kron x~_n x~_n^T (claim C7).

    That Hessian is singular: H 1 = 0 per feature (softmax is shift-invariant).
    This objective makes the optimum unique, documented choice:

    - ``alpha == 0``: the last class is the reference; its row is fixed at zero and
      only (K - 1) x D parameters are free (as statsmodels' MNLogit).
    - ``alpha > 0``: all K rows are free; the penalty fixes W, and the intercepts'
      remaining shift is pinned by adding ``0.5 * (sum_k b_k)^2``, zero at the
      (centred) optimum, so the minimiser and minimum are those of the plain loss.

    Parameters
    ----------
    X : array_like, shape (n, d)
    y : array_like, shape (n,) of labels 0..K-1, or (n, K) rows of probabilities
    sample_weight : array_like, optional
    alpha : float, default 0
    fit_intercept : bool, default True
    n_classes : int, optional

    Examples
    --------
    >>> import numpy as np
    >>> obj = SoftmaxObjective(np.eye(3), np.array([0, 1, 2]))
    >>> obj.n_params, round(obj.value(np.zeros(obj.n_params)), 6)
    (8, 3.295837)
    """

    convex = True  # for the solvers: no saddle points to check for

    def __init__(self, X, y, sample_weight=None, alpha=0.0, fit_intercept=True, n_classes=None):
        X, self.sample_weight = _check_data(X, sample_weight)
        self._unit_weights = bool(np.all(self.sample_weight == 1.0))
        self.Y = _targets(y, X.shape[0], n_classes)
        self.alpha, self.fit_intercept = _penalty(alpha, X.shape[1]), bool(fit_intercept)
        self.n_features = X.shape[1]
        self.n_classes = self.Y.shape[1]
        self.X = np.hstack([X, np.ones((X.shape[0], 1))]) if fit_intercept else X
        self.width = self.X.shape[1]
        self.reference_class = self.n_classes - 1 if not np.any(self.alpha > 0) else None
        self.n_free = self.n_classes - (self.reference_class is not None)
        self.n_params = self.n_free * self.width
        self._theta = self._cache = None
        self._pairs = {}

    def check(self, theta, f, g):
        """Separation test for the unpenalised problem, for :func:`~nablanet.optim.newton`.

        If some W scores every weighted sample's own class strictly above every other
        class, scaling it up drives the loss to 0: no finite minimum exists (the
        multinomial form of logistic regression's separation; soft targets are not
        tested).
        """
        if np.any(self.alpha > 0):
            return None
        rows = self.sample_weight > 0
        Y = self.Y[rows]
        if not np.all((Y == 0) | (Y == 1)):
            return None
        Z = self._state(theta)[0][rows]
        own = np.add.reduce(Z * Y, axis=1)
        rival = np.maximum.reduce(np.where(Y > 0, -np.inf, Z), axis=1)
        if np.all(own > rival):
            return ("separation", "the classes are linearly separable: the loss tends to 0 "
                    "only as ||W|| grows without bound, so no finite minimum exists; "
                    "add L2 regularisation (alpha > 0, i.e. a finite C)")
        return None

    def coefficients(self, theta):
        """The full K x D matrix (reference row zero), intercepts in the last column."""
        full = np.zeros((self.n_classes, self.width))
        full[: self.n_free] = np.asarray(theta, dtype=float).reshape(self.n_free, self.width)
        return full

    def _compute(self, theta):
        Z = self.X @ self.coefficients(theta).T
        top = Z.max(axis=1)
        E = np.exp(Z - top[:, None])  # <= 1, and 1 at the top: no overflow, sum >= 1
        total = E.sum(axis=1)
        E /= total[:, None]
        return Z, top + np.log(total), E  # log-sum-exp and probabilities, one exp

    def _centring(self):
        return bool(np.any(self.alpha > 0)) and self.fit_intercept

    def value(self, theta):
        """Summed weighted cross-entropy plus penalties (a float)."""
        Z, lse, _ = self._state(theta)
        full = self.coefficients(theta)
        weights = full[:, : self.n_features]
        loss = self.sample_weight @ (lse - np.sum(self.Y * Z, axis=1))
        loss += 0.5 * float(np.sum(self.alpha * weights * weights))
        if self._centring():
            loss += 0.5 * full[:, -1].sum() ** 2
        return float(loss)

    def gradient(self, theta):
        """``(s (P - Y))^T X~`` plus penalty terms, free rows, flattened."""
        _, _, P = self._state(theta)
        full = self.coefficients(theta)
        G = (self.sample_weight[:, None] * (P - self.Y)).T @ self.X
        G[:, : self.n_features] += self.alpha * full[:, : self.n_features]
        if self._centring():
            G[:, -1] += full[:, -1].sum()
        return G[: self.n_free].ravel()

    def hessian(self, theta):
        """Block Hessian sum_n s_n (diag(p) - p p^T) kron x~ x~^T, with the penalties.

        Block (k, l) is X~^T diag(s (delta_kl p_k - p_k p_l)) X~.  When the products
        x_i x_j (i <= j) of every row fit in ``PAIR_PRODUCTS_BYTES``, they are formed
        once per objective and all K (K + 1) / 2 blocks come from one matrix product
        with them: half the flops of the rank-n update on the n x K D scaled rows,
        and a general product instead of a syrk.
        """
        return self._hessian(theta, np.float64)

    def preconditioner_hessian(self, theta):
        """The Hessian with its n-term sums in float32: twice the speed, ~1e-7 relative
        error.  For a preconditioner (:func:`~nablanet.optim.newton` factors it and
        solves by CG on the exact :meth:`hvp`), never for a Newton step by itself."""
        return self._hessian(theta, np.float32)

    def _hessian(self, theta, dtype):
        _, _, P = self._state(theta)
        Pf = P[:, : self.n_free]
        pairs = self._pair_products(dtype)
        if pairs is not None:
            H = self._blocks_from_pairs(Pf, pairs)
        else:
            H = self._blocks_by_syrk(Pf, dtype)
        K, D = self.n_free, self.width
        H.flat[:: K * D + 1] += np.tile(self._penalty_diagonal(), K)
        if self._centring():
            intercepts = np.arange(K) * D + D - 1
            H[np.ix_(intercepts, intercepts)] += 1.0
        return H

    def _blocks_by_syrk(self, Pf, dtype):
        n, D, K = self.X.shape[0], self.width, self.n_free
        X = self.X.astype(dtype, copy=False)
        roots = (np.sqrt(self.sample_weight)[:, None] * Pf).astype(dtype)
        rows = (roots[:, :, None] * X[:, None, :]).reshape(n, K * D)
        H = -np.asarray(rows.T @ rows, dtype=float)  # - sum_n s_n (p p^T) kron (x x^T), one syrk
        for k in range(K):  # + diag(p) kron x x^T: one syrk per class
            A = X * np.sqrt(self.sample_weight * Pf[:, k]).astype(dtype)[:, None]
            H[k * D:(k + 1) * D, k * D:(k + 1) * D] += A.T @ A
        return H

    def _pair_products(self, dtype):
        """x_i x_j for i <= j (row-major upper triangle) of every sample, one row per pair
        (D (D + 1) / 2, n): each pair is one contiguous write.  None past the cap."""
        n, D = self.X.shape
        if n * D * (D + 1) // 2 * np.dtype(dtype).itemsize > PAIR_PRODUCTS_BYTES:
            return None
        if dtype not in self._pairs:
            columns = np.ascontiguousarray(self.X.T, dtype=dtype)
            pairs = np.empty((D * (D + 1) // 2, n), dtype=dtype)
            start = 0
            for i in range(D):
                np.multiply(columns[i:], columns[i], out=pairs[start:start + D - i])
                start += D - i
            self._pairs[dtype] = pairs
        return self._pairs[dtype]

    def _blocks_from_pairs(self, Pf, pairs):
        K, D = self.n_free, self.width
        first, second = np.triu_indices(K)
        weights = Pf[:, first] * Pf[:, second]  # s (delta_kl p_k - p_k p_l), pairs k <= l
        weights *= -1.0
        weights[:, first == second] += Pf
        if not self._unit_weights:
            weights *= self.sample_weight[:, None]
        # (K (K + 1) / 2, D (D + 1) / 2): the triangle of every block, in one product
        packed = (pairs @ weights.astype(pairs.dtype)).T
        i, j = np.triu_indices(D)
        blocks = np.empty((len(first), D, D))
        blocks[:, i, j] = packed
        blocks[:, j, i] = packed
        H = np.empty((K, D, K, D))
        H[first, :, second, :] = blocks
        H[second, :, first, :] = blocks.transpose(0, 2, 1)
        return H.reshape(K * D, K * D)

    def _penalty_diagonal(self):
        diag = np.zeros(self.width)
        diag[: self.n_features] = self.alpha
        return diag

    def hvp(self, theta, v):
        """``H v`` without forming H."""
        _, _, P = self._state(theta)
        V = np.asarray(v, dtype=float).reshape(self.n_free, self.width)
        U = self.X @ V.T  # logit changes of the free classes (the reference's is 0)
        Pf = P[:, : self.n_free]
        S = U - np.einsum("nk,nk->n", Pf, U)[:, None]
        S *= Pf if self._unit_weights else self.sample_weight[:, None] * Pf
        out = S.T @ self.X + V * self._penalty_diagonal()
        if self._centring():
            out[:, -1] += V[:, -1].sum()
        return out.ravel()


def _targets(y, n, n_classes):
    y = np.asarray(y)
    if y.ndim == 2:
        if y.shape[0] != n or not np.all(np.isfinite(y)) or np.any(y < 0) or not np.allclose(
                y.sum(axis=1), 1.0):
            raise ValueError("a 2-D y must hold one row of class probabilities per sample")
        return y.astype(float)
    if y.shape != (n,) or y.dtype.kind not in "biu" or (y.size and y.min() < 0):
        raise ValueError(f"y must be {n} integer labels 0..K-1, got shape {y.shape}, "
                         f"dtype {y.dtype}")
    K = int(y.max()) + 1 if n_classes is None else int(n_classes)
    if K < 2 or y.max() >= K:
        raise ValueError(f"need labels in 0..{K - 1} with at least 2 classes")
    return np.eye(K)[y]


def is_linearly_separable(X, y):
    """Linear-programming test: is there (w, b) with (2y - 1)(x w + b) >= 1 for every sample?

    Feasible means the classes are (strictly) linearly separable, so unpenalised
    logistic regression has no finite minimum (claim C1, correction).

    Examples
    --------
    >>> import numpy as np
    >>> is_linearly_separable(np.array([[0.0], [1.0]]), np.array([0, 1]))
    True
    """
    from scipy.optimize import linprog

    X, _ = _check_data(X, None)
    signs = 2.0 * np.asarray(y, dtype=float) - 1.0
    A = -signs[:, None] * np.hstack([X, np.ones((X.shape[0], 1))])
    result = linprog(np.zeros(A.shape[1]), A_ub=A, b_ub=-np.ones(len(A)),
                     bounds=[(None, None)] * A.shape[1], method="highs")
    return bool(result.status == 0)


def gaussian_dropout_ridge(X, y, sigma2):
    """Minimiser of E over Gaussian input dropout (claim C5): a data-dependent ridge.

    w* = (X^T X + sigma^2 diag(X^T X))^{-1} X^T y, the minimiser of
    sum_n E[0.5 (y_n - sum_k delta_nk w_k x_nk)^2] with delta ~ Normal(1, sigma^2).

    Examples
    --------
    >>> import numpy as np
    >>> gaussian_dropout_ridge(np.eye(2), np.array([2.0, 4.0]), 1.0)
    array([1., 2.])
    """
    X, _ = _check_data(X, None)
    y = np.asarray(y, dtype=float)
    if y.shape != (X.shape[0],) or not np.all(np.isfinite(y)):
        raise ValueError(f"y must hold {X.shape[0]} finite targets, got shape {y.shape}")
    gram = X.T @ X
    return np.linalg.solve(gram + sigma2 * np.diag(np.diag(gram)), X.T @ y)
