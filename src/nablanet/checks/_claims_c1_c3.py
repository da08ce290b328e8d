"""Claims C1-C3 (logistic regression, batch normalisation, the two-layer network) as checks.

Each function exercises the library's own functions (found with
:func:`library_function`) through nablanet's engine and compares them with the
closed forms of ``docs/claims.md`` and with finite differences.
"""

from __future__ import annotations

import numpy as np

from nablanet.autodiff.transforms import grad, hessian
from nablanet.checks._claim_support import (
    at_least,
    at_most,
    breast_cancer,
    central_difference_gradient,
    digits,
    holds,
    library_function,
    linearly_separable,
    near,
    relative_error,
    value_of,
    with_intercept,
)
from nablanet.checks.convergence import loglog_slope
from nablanet.checks.curvature import min_eigenvalue, rounding_tolerance

#: Agreement expected between two exact computations in float64 (rounding only).
EXACT = 1e-10
#: Agreement expected between an exact derivative and a central difference (h = 1e-6).
FINITE_DIFFERENCE = 1e-6

_NONNEG_NOT_PSD = (
    "notes: 'every entry of H is non-negative -> H is PSD' is false ([[1,2],[2,1]] has "
    "eigenvalue -1); H is PSD because it is a sum of rank-one terms c_n xt xt^T, c_n > 0"
)
_NO_MINIMISER = (
    "notes: 'bounded below + convex -> has a minimum' is false; on separable data E -> 0 "
    "only as |w| -> infinity, so no finite minimiser exists"
)


# -- C1 logistic regression -----------------------------------------------------------------
def _summed_bce(Xt, y):
    """E(theta) = sum_n BCE(sigma(xt_n . theta), y_n) with the library's loss."""
    from nablanet.ops import matmul

    bce = library_function("binary_cross_entropy_with_logits")

    def loss(theta):
        return bce(matmul(Xt, theta), y, reduction="sum")

    return loss


def _c1_derivatives(rows):
    X, y = breast_cancer()
    Xt = with_intercept(X)
    theta = 0.1 * np.random.default_rng(1).standard_normal(Xt.shape[1])
    loss = _summed_bce(Xt, y)
    yhat = value_of(library_function("sigmoid")(Xt @ theta))
    engine = grad(loss)(theta)
    formula = Xt.T @ (yhat - y)
    rows.append(at_most("C1", "breast cancer: dE/dtheta = sum (yhat-y) xt vs engine",
                        relative_error(engine, formula), EXACT))
    numeric = central_difference_gradient(loss, theta)
    rows.append(at_most("C1", "engine gradient vs central differences",
                        relative_error(engine, numeric), FINITE_DIFFERENCE))
    weights = yhat * (1 - yhat)
    H_formula = (Xt * weights[:, None]).T @ Xt
    H_engine = hessian(loss)(theta)
    rows.append(at_most("C1", "Hessian sum c_n xt xt^T (c = yhat(1-yhat)) vs engine",
                        relative_error(H_engine, H_formula), EXACT))
    objective = _logistic_objective(X, y)
    if objective is not None:
        rows.append(at_most("C1", "library LogisticObjective closed-form Hessian vs engine",
                            relative_error(objective.hessian(theta), H_engine), EXACT))
    rows.append(at_least("C1", "min eigenvalue of engine Hessian (31x31, breast cancer)",
                         min_eigenvalue(H_engine), -rounding_tolerance(H_engine),
                         _NONNEG_NOT_PSD))
    counterexample = np.array([[1.0, 2.0], [2.0, 1.0]])
    rows.append(holds("C1", "non-negative entries do not imply PSD: min eig of [[1,2],[2,1]]",
                      min_eigenvalue(counterexample) < 0, min_eigenvalue(counterexample),
                      "< 0"))


def _logistic_objective(X, y):
    """The library's closed-form logistic objective (None while it is missing)."""
    objective = library_function("LogisticObjective")
    return None if objective is None else objective(X, y)


def _newton_optimum(X, y, steps=50):
    """Newton's optimum of E: the library's solver, else the closed-form Newton iteration."""
    newton, objective = library_function("newton"), _logistic_objective(X, y)
    if newton is not None and objective is not None:
        return newton(objective, np.zeros(X.shape[1] + 1)).x, "library newton"
    Xt = with_intercept(X)
    sigmoid = library_function("sigmoid")
    theta = np.zeros(Xt.shape[1])
    for _ in range(steps):
        yhat = value_of(sigmoid(Xt @ theta))
        H = (Xt * (yhat * (1 - yhat))[:, None]).T @ Xt
        theta = theta - np.linalg.solve(H, Xt.T @ (yhat - y))
    return theta, "closed-form Newton (no library solver yet)"


def _gradient_descent_as_written(Xt, y, eta, tol=1e-12, max_iter=20000):
    """w <- w + eta sum (y - yhat) x, b likewise; stop when the step norm is below tol."""
    sigmoid = library_function("sigmoid")
    theta = np.zeros(Xt.shape[1])
    iterations = 0
    while iterations < max_iter:
        step = eta * (Xt.T @ (y - value_of(sigmoid(Xt @ theta))))
        theta = theta + step
        iterations += 1
        if np.linalg.norm(step) < tol:
            break
    return theta, iterations


def _c1_descent(rows):
    # Three features (mean radius, texture, smoothness): not separable, so a minimiser exists.
    X, y = breast_cancer(columns=(0, 1, 4))
    Xt = with_intercept(X)
    loss = _summed_bce(Xt, y)
    optimum, source = _newton_optimum(X, y)
    # eta = 1/L with L = |Xt|_2^2 / 4 >= the largest Hessian eigenvalue: a descent step.
    eta = 4.0 / np.linalg.norm(Xt, 2) ** 2
    theta, iterations = _gradient_descent_as_written(Xt, y, eta)
    rows.append(at_most(
        "C1", f"GD as written ({iterations} steps) reaches {source}'s optimum (rel. distance)",
        relative_error(theta, optimum), 1e-8))
    # Relative to the gradient at the start: a summed loss has gradients that grow with n.
    gradient_norm = float(np.linalg.norm(grad(loss)(optimum)))
    start_norm = float(np.linalg.norm(grad(loss)(np.zeros_like(optimum))))
    rows.append(at_most(
        "C1", "engine gradient norm at that optimum / at theta = 0", gradient_norm / start_norm,
        1e-8))


def _c1_separable(rows):
    X, y = breast_cancer()
    separable, direction = linearly_separable(X, y)
    loss = _summed_bce(with_intercept(X), y)
    if not separable:
        rows.append(holds("C1", "breast cancer (30 features) linearly separable", False,
                          "not separable", "separable (LP)", _NO_MINIMISER))
        return
    values = [float(value_of(loss(t * direction))) for t in (1.0, 10.0, 50.0)]
    decreasing = values[0] > values[1] > values[2] > 0
    rows.append(holds("C1", "breast cancer (30 features) is separable: E(t w_sep) for t=1,10,50",
                      decreasing and values[2] < 1e-10, f"{values[0]:.2g}, {values[1]:.2g}, "
                      f"{values[2]:.2g}", "decreasing to 0, never 0", _NO_MINIMISER))
    rows.append(_solver_flags_separation(X, y))


def _solver_flags_separation(X, y):
    """Whether the library's Newton solver stops saying no finite minimiser exists."""
    import warnings

    newton, objective = library_function("newton"), _logistic_objective(X, y)
    if newton is None or objective is None:
        return holds("C1", "library Newton reports separable data", False,
                     "nablanet.optim newton/LogisticObjective missing", "stop_reason "
                     "'separation'", _NO_MINIMISER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the solver warns that it did not converge: expected
        result = newton(objective, np.zeros(X.shape[1] + 1))
    return holds("C1", "library Newton on the separable data stops and says so",
                 result.stop_reason == "separation", result.stop_reason, "'separation'")


def _c1_extreme_logits(rows):
    bce = library_function("binary_cross_entropy_with_logits")
    z = np.array([1e4, -1e4, 1e4, -1e4])
    y = np.array([1.0, 1.0, 0.0, 0.0])

    def loss(logits):
        return bce(logits, y, reduction="sum")

    values = value_of(bce(z, y, reduction="none"))
    gradient = grad(loss)(z)
    curvature = hessian(loss)(z)
    finite = all(np.all(np.isfinite(a)) for a in (values, gradient, curvature))
    error = max(relative_error(values, [0.0, 1e4, 1e4, 0.0]),
                relative_error(gradient, [0.0, -1.0, 1.0, 0.0]))
    rows.append(holds("C1", "BCE from logits at |z| = 1e4: loss, gradient, Hessian finite",
                      finite, "finite" if finite else "NaN/inf", "no NaN or inf"))
    rows.append(at_most("C1", "BCE at |z| = 1e4 vs exact values (1e4 and 0; grads -1, 1, 0)",
                        error, EXACT))


def claim_c1(quick=False):
    """Logistic regression: gradient, Hessian, convexity, GD, separability, stability."""
    rows = []
    _c1_derivatives(rows)
    _c1_descent(rows)
    _c1_separable(rows)
    _c1_extreme_logits(rows)
    return rows


# -- C2 batch normalisation ---------------------------------------------------------------
def _bn_closed_form(x, gamma, g, eps):
    """dL/dx = (gamma / sqrt(var+eps)) (g - mean g - xhat mean(g xhat))."""
    mu = x.mean(axis=0)
    inv = 1 / np.sqrt(((x - mu) ** 2).mean(axis=0) + eps)
    xhat = (x - mu) * inv
    return gamma * inv * (g - g.mean(axis=0) - xhat * (g * xhat).mean(axis=0))


def _c2_backward(rows):
    from nablanet.checks.gradcheck import GradientCheckError, check_grads
    from nablanet.ops import mean

    batch_norm = library_function("batch_norm")
    X, _ = breast_cancer(columns=(0, 1, 2, 3, 4))
    rng = np.random.default_rng(2)
    x = X[:64] * rng.uniform(0.5, 2.0, 5) + rng.standard_normal(5)
    gamma, beta = rng.uniform(0.5, 1.5, 5), rng.standard_normal(5)
    g = rng.standard_normal(x.shape)
    eps = 1e-5

    def centred(xs):
        return (g * (gamma * (xs - mean(xs, axis=0)) + beta)).sum()

    rows.append(at_most("C2", "centering only: dL/dx = gamma (g - mean g) vs engine",
                        relative_error(grad(centred)(x), gamma * (g - g.mean(axis=0))), EXACT))

    def loss(xs):
        return (g * batch_norm(xs, None, None, gamma, beta, training=True, eps=eps)).sum()

    engine = grad(loss)(x)
    rows.append(at_most("C2", "full backward formula (variance term) vs engine batch_norm",
                        relative_error(engine, _bn_closed_form(x, gamma, g, eps)), EXACT))
    rows.append(at_most("C2", "engine batch_norm gradient vs central differences",
                        relative_error(engine, central_difference_gradient(loss, x)),
                        FINITE_DIFFERENCE))
    try:
        check_grads(loss, [x], order=2)
        second = "agrees"
    except GradientCheckError as err:
        second = str(err)[:80]
    rows.append(holds("C2", "second derivative (grad of the backward) vs finite differences",
                      second == "agrees", second, "check_grads order 2"))
    column_sums = np.abs(engine.sum(axis=0)).max() / np.abs(engine).max()
    rows.append(at_most("C2", "input gradient sums to zero over the batch (relative)",
                        column_sums, 1e-12))


def _c2_single_sample(rows):
    batch_norm = library_function("batch_norm")
    x = np.array([[3.0, -1.5]])
    gamma, beta = np.array([2.0, 0.5]), np.array([0.25, -0.75])

    def loss(xs):
        return batch_norm(xs, None, None, gamma, beta, training=True).sum()

    out = value_of(batch_norm(x, None, None, gamma, beta, training=True))
    deviation = max(float(np.abs(out - beta).max()), float(np.abs(grad(loss)(x)).max()))
    rows.append(at_most("C2", "n = 1: output equals beta and the input gradient is 0",
                        deviation, 0.0))
    rows.append(_batch_norm_layer_rejects_one())


def _batch_norm_layer_rejects_one():
    try:
        from nablanet.nn import BatchNorm1d
    except ImportError:
        return holds("C2", "BatchNorm1d in training rejects batch size 1", False,
                     "nablanet.nn.BatchNorm1d missing", "ValueError")
    layer = BatchNorm1d(2)
    try:
        layer(np.array([[1.0, 2.0]]))
    except ValueError as err:
        return holds("C2", "BatchNorm1d in training rejects batch size 1", True,
                     str(err)[:60], "ValueError")
    return holds("C2", "BatchNorm1d in training rejects batch size 1", False,
                 "no error", "ValueError")


def _c2_noise(rows, quick):
    """Batch means of n samples drawn from a real feature: std * sqrt(n) is constant."""
    from sklearn.datasets import load_breast_cancer

    batch_norm = library_function("batch_norm")
    population = load_breast_cancer().data[:, 3]  # mean area: skewed, far from normal
    rng = np.random.default_rng(3)
    n_batches = 1000 if quick else 4000
    sizes = np.array([4, 16, 64, 256])
    stds = []
    for n in sizes:
        batches = rng.choice(population, size=(n, n_batches))  # one batch per column
        running_mean = np.zeros(n_batches)
        # momentum 1: the running mean becomes exactly the batch mean
        batch_norm(batches, running_mean, None, training=True, momentum=1.0)
        stds.append(running_mean.std(ddof=1))
    scaled = np.array(stds) * np.sqrt(sizes) / population.std()
    tol = 4 * np.sqrt(2.0 / n_batches) * 1.5  # a std's relative error ~ 1/sqrt(2B), kurtosis slack
    rows.append(at_most("C2", "std(batch mean) sqrt(n) / sigma for n = 4..256: max |. - 1|",
                        float(np.abs(scaled - 1).max()), tol))
    rows.append(near("C2", "slope of log std(batch mean) vs log n (1/sqrt(n) noise)",
                     loglog_slope(sizes, stds), -0.5, 0.05))


def claim_c2(quick=False):
    """Batch normalisation: centering and full backward, zero-sum gradient, n = 1, 1/sqrt(n)."""
    rows = []
    _c2_backward(rows)
    _c2_single_sample(rows)
    _c2_noise(rows, quick)
    return rows


# -- C3 softmax, cross-entropy and the two-layer network -------------------------------------
def _c3_softmax(rows):
    from nablanet.autodiff.transforms import jacobian
    from nablanet.ops import sum as nb_sum

    softmax = library_function("softmax")
    cross_entropy = library_function("cross_entropy")
    log_softmax = library_function("log_softmax")
    z = np.random.default_rng(4).standard_normal(10)
    p = value_of(softmax(z, -1))  # the last axis, as dim or axis (F's or ops' softmax)
    closed = np.diag(p) - np.outer(p, p)  # J[k, i] = p_k (delta_ik - p_i)
    rows.append(at_most("C3", "softmax Jacobian yhat_k (delta_ik - yhat_i) vs engine",
                        relative_error(jacobian(lambda v: softmax(v, -1))(z), closed), EXACT))
    y = np.eye(10)[3]
    engine = grad(lambda logits: cross_entropy(logits[None, :], np.array([3]), reduction="sum"))(z)
    rows.append(at_most("C3", "dL/dz = yhat - y (one-hot, class 3) vs engine cross_entropy",
                        relative_error(engine, p - y), EXACT))
    as_written = grad(lambda logits: nb_sum(y * log_softmax(logits, -1)))(z)
    rows.append(at_most(
        "C3", "notes' L = sum y log yhat (minus dropped) has gradient y - yhat",
        relative_error(as_written, y - p), EXACT,
        "the notes drop the minus once: L = -sum y log yhat, so dL/dz = yhat - y"))


def _network_parts(rng):
    X, labels = digits()
    x, labels = X[:32], labels[:32]
    W1 = 0.3 * rng.standard_normal((64, 16))
    b1 = 0.1 * rng.standard_normal(16)
    W2 = 0.3 * rng.standard_normal((16, 10))
    b2 = 0.1 * rng.standard_normal(10)
    return x, labels, W1, b1, W2, b2


def _c3_network(rows):
    from nablanet.ops import matmul

    leaky_relu = library_function("leaky_relu")
    dropout = library_function("dropout")
    cross_entropy = library_function("cross_entropy")
    softmax = library_function("softmax")
    rng = np.random.default_rng(5)
    x, labels, W1, b1, W2, b2 = _network_parts(rng)
    p_drop = 0.2
    M = (rng.random((32, 16)) >= p_drop).astype(np.float64)
    Y = np.eye(10)[labels]
    z1 = x @ W1 + b1
    slope = np.where(z1 > 0, 1.0, 0.1)  # lrelu'(z1)
    for inverted in (False, True):

        def loss(W, inverted=inverted):
            a1 = leaky_relu(matmul(x, W) + b1, 0.1)
            ahat = dropout(a1, p_drop, training=True, inverted=inverted, mask=M)
            return cross_entropy(matmul(ahat, W2) + b2, labels, reduction="sum")

        M_eff = M / (1 - p_drop) if inverted else M
        yhat = value_of(softmax(np.where(z1 > 0, z1, 0.1 * z1) * M_eff @ W2 + b2, -1))
        formula = x.T @ (((yhat - Y) @ W2.T) * M_eff * slope)
        name = "inverted dropout M/(1-p)" if inverted else "bare 0/1 mask (notes)"
        rows.append(at_most(
            "C3", f"dL/dW1 = x^T[((yhat-y) W2^T) * M * lrelu'(z1)] vs engine, {name}",
            relative_error(grad(loss)(W1), formula), EXACT,
            "" if not inverted else "library default is inverted dropout: gradient is "
            "upstream * M / (1-p); the notes' bare mask is inverted=False"))


def claim_c3(quick=False):
    """Softmax Jacobian, cross-entropy gradient (sign corrected) and the network's dL/dW1."""
    rows = []
    _c3_softmax(rows)
    _c3_network(rows)
    return rows
