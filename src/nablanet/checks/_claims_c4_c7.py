"""Claims C4-C7 (Jacobian/Hessian, Gaussian dropout, Newton's method, softmax curvature).

Each function exercises the library's own functions through nablanet's engine
and compares them with the closed forms of ``docs/claims.md``.
"""

from __future__ import annotations

import numpy as np

from nablanet.autodiff.transforms import grad, hessian, jacobian
from nablanet.checks._claim_support import (
    at_least,
    at_most,
    digits,
    holds,
    library_function,
    near,
    relative_error,
    value_of,
)
from nablanet.checks.convergence import empirical_orders, error_constants, taylor_slopes
from nablanet.checks.curvature import (
    hessian_spectrum,
    min_eigenvalue,
    null_space,
    null_vector_residual,
    rounding_tolerance,
    symmetry_error,
)

#: Agreement expected between two exact computations in float64 (rounding only).
EXACT = 1e-10
#: Largest |z-score| accepted for a Monte-Carlo mean against its closed form.
Z_LIMIT = 4.0


# -- C4 Jacobian and Hessian ----------------------------------------------------------------
def _y(p):
    """y(u, v, z) = u^2 v + exp(u z) + z tanh(v)."""
    from nablanet.ops import exp, tanh

    u, v, z = p[0], p[1], p[2]
    return u * u * v + exp(u * z) + z * tanh(v)


def _y_derivatives(u, v, z):
    e, t = np.exp(u * z), np.tanh(v)
    s = 1 - t * t  # sech^2 v
    gradient = np.array([2 * u * v + z * e, u * u + z * s, u * e + t])
    H = np.array([
        [2 * v + z * z * e, 2 * u, e + u * z * e],
        [2 * u, -2 * z * s * t, s],
        [e + u * z * e, s, u * u * e],
    ])
    return gradient, H


def _vector_map(p):
    """F(u, v, z) = (u v z, exp(u) + v^2): R^3 -> R^2."""
    from nablanet.ops import exp, stack

    u, v, z = p[0], p[1], p[2]
    return stack([u * v * z, exp(u) + v * v])


def claim_c4(quick=False):
    """Jacobian and Hessian of y(u, v, z) and of a map R^3 -> R^2; Taylor error slopes."""
    rows = []
    point = np.array([0.7, -0.4, 1.3])
    gradient, H = _y_derivatives(*point)
    rows.append(at_most("C4", "Jacobian (gradient row) of y(u,v,z) vs closed form",
                        relative_error(jacobian(_y)(point), gradient), EXACT))
    H_engine = hessian(_y)(point)
    rows.append(at_most("C4", "3x3 Hessian of y(u,v,z) vs closed form",
                        relative_error(H_engine, H), EXACT))
    rows.append(at_most("C4", "engine Hessian symmetric (relative asymmetry)",
                        symmetry_error(H_engine), 1e-14))
    u, v, z = point
    J = np.array([[v * z, u * z, u * v], [np.exp(u), 2 * v, 0.0]])
    rows.append(at_most("C4", "2x3 Jacobian of F(u,v,z) = (uvz, e^u + v^2) vs closed form",
                        relative_error(jacobian(_vector_map)(point), J), EXACT))
    direction = np.random.default_rng(6).standard_normal(3)
    direction /= np.linalg.norm(direction)
    first, second = taylor_slopes(_y, point, direction, np.logspace(-3, -1, 7))
    rows.append(near("C4", "slope of log|f(x+h) - f - J h| vs log h (first-order model)",
                     first, 2.0, 0.15))
    rows.append(near("C4", "slope with + h^T H h / 2 (second-order model)", second, 3.0, 0.15))
    return rows


# -- C5 Gaussian dropout as regularisation --------------------------------------------------
def _z_score(samples, expected):
    samples = np.asarray(samples)
    error = samples.mean(axis=0) - expected
    return np.abs(error) / (samples.std(axis=0, ddof=1) / np.sqrt(samples.shape[0]))


def _c5_monte_carlo(rows, quick):
    from nablanet.ops import sum as nb_sum

    gaussian_dropout = library_function("gaussian_dropout")
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal(5), rng.standard_normal(5)
    y_d, sigma2 = 1.5, 0.25
    n_samples = 50_000 if quick else 200_000
    W = np.tile(w, (n_samples, 1))  # one copy of w per sample: row s of the gradient is sample s
    captured = {}

    def total_loss(Ws):
        noisy = gaussian_dropout(Ws * x, sigma2, generator=rng)
        captured["noisy"] = value_of(noisy)
        residual = y_d - nb_sum(noisy, axis=1)
        return nb_sum(0.5 * residual * residual)

    per_sample_grad = grad(total_loss)(W)
    noisy = captured["noisy"]
    delta = noisy / (w * x)
    residual = y_d - noisy.sum(axis=1)
    notes_grad = -delta * x * residual[:, None]  # dJ1/dw_i = -delta_i x_i (y_d - sum delta w x)
    rows.append(at_most("C5", "per-sample dJ1/dw_i = -delta_i x_i (y_d - sum delta w x) vs engine",
                        relative_error(per_sample_grad, notes_grad), EXACT))
    wx = w * x
    expected_loss = 0.5 * (y_d - wx.sum()) ** 2 + 0.5 * sigma2 * np.sum(wx**2)
    rows.append(at_most("C5", f"E[J1] (Monte Carlo, {n_samples} draws) vs closed form: |z|",
                        float(_z_score(0.5 * residual**2, expected_loss)), Z_LIMIT))
    expected_grad = -x * (y_d - wx * (sigma2 + 1) - (wx.sum() - wx))
    rows.append(at_most("C5", "E[dJ1/dw] (Monte Carlo) vs closed form: max |z| over i",
                        float(_z_score(per_sample_grad, expected_grad).max()), Z_LIMIT))


def _c5_sgd(rows, quick):
    from nablanet.ops import matmul
    from nablanet.ops import sum as nb_sum

    gaussian_dropout = library_function("gaussian_dropout")
    rng = np.random.default_rng(8)
    n, d, sigma2 = 200, 5, 0.25
    X = rng.standard_normal((n, d)) * np.array([1.0, 2.0, 0.5, 1.5, 1.0])
    y = X @ rng.standard_normal(d) + 0.5 * rng.standard_normal(n)
    A = X.T @ X
    regularised = np.linalg.solve(A + sigma2 * np.diag(np.diag(A)), X.T @ y)
    plain = np.linalg.solve(A, X.T @ y)

    def loss(w):
        residual = y - matmul(gaussian_dropout(X, sigma2, generator=rng), w)
        return 0.5 * nb_sum(residual * residual) / n

    gradient = grad(loss)
    steps = 1500 if quick else 3000
    # step below 1/L of the expected objective, decaying; the second half is averaged
    base = 0.5 / np.linalg.eigvalsh(A / n * (1 + sigma2))[-1]
    w, average = np.zeros(d), np.zeros(d)
    for k in range(steps):
        w = w - base / (1 + k / 300) ** 0.6 * gradient(w)
        if k >= steps // 2:
            average += w / (steps - steps // 2)
    distance = relative_error(average, regularised)
    rows.append(at_most("C5", f"SGD + Gaussian dropout ({steps} steps) -> "
                        "(X^T X + s^2 diag X^T X)^-1 X^T y: rel. distance", distance, 0.02))
    rows.append(at_least("C5", "distance to the unregularised least squares (must be far)",
                         relative_error(average, plain), 5 * distance))


def _c5_variance(rows, quick):
    dropout = library_function("dropout")
    gaussian_dropout = library_function("gaussian_dropout")
    rng = np.random.default_rng(9)
    p = 0.2
    size = 200_000 if quick else 1_000_000
    binary = value_of(dropout(np.ones(size), p, training=True, generator=rng))
    gaussian = value_of(gaussian_dropout(np.ones(size), p / (1 - p), generator=rng))
    for name, sample in (("inverted dropout p=0.2", binary), ("Gaussian s^2=p/(1-p)", gaussian)):
        centred = (sample - 1.0) ** 2  # the mean is 1 in both: E[sample] = 1
        rows.append(at_most("C5", f"variance of {name} vs p/(1-p) = 0.25: |z|",
                            float(_z_score(centred, p / (1 - p))), Z_LIMIT))


def claim_c5(quick=False):
    """Gaussian dropout: Monte-Carlo loss and gradient, SGD to the ridge-like optimum, variance."""
    rows = []
    _c5_monte_carlo(rows, quick)
    _c5_sgd(rows, quick)
    _c5_variance(rows, quick)
    return rows


# -- C6 Newton's method ---------------------------------------------------------------------
_SIGN = ("notes: e_{k+1} = -(f''/2f') e_k^2; the sign is +: e_{k+1} ~= (f''(x*)/(2 f'(x*))) e_k^2")
_MULTIPLE = "notes promise quadratic convergence; at a double root the order drops to 1"
_DAMPING = ("pure Newton converges to a stationary point (here a saddle), and only locally; "
            "a solver needs damping/line search and must handle an indefinite Hessian")


def _root_errors(f, x0, root):
    newton_root = library_function("newton_root")
    result = newton_root(f, x0, x_true=root)
    return np.asarray(result.iterates, dtype=float) - root, result


def _c6_roots(rows):
    # f(x) = x^3 - 2x - 4 = (x - 2)(x^2 + 2x + 2): simple root 2, f'(2) = 10, f''(2) = 12
    signed, _ = _root_errors(lambda x: x**3 - 2 * x - 4, 3.0, 2.0)
    constant = 12 / (2 * 10)
    orders = empirical_orders(signed)
    rows.append(near("C6", "x^3-2x-4 from x0=3: empirical order log(e+/e)/log(e/e-)",
                     orders[-1], 2.0, 0.1))
    constants = error_constants(signed, order=2)
    rows.append(near("C6", "e_{k+1}/e_k^2 -> f''/(2f') = 0.6 (signed)", constants[-1],
                     constant, 0.05 * constant, _SIGN))
    # f(x) = (x - 1)^2 (x + 2): double root at 1.  f(x) ~ e^2 there, so rounding
    # limits the attainable error to ~sqrt(eps): errors below 1e-6 are left out.
    signed, result = _root_errors(lambda x: x**3 - 3 * x + 2, 2.0, 1.0)
    rows.append(near("C6", "double root (x-1)^2(x+2): empirical order (errors > 1e-6)",
                     empirical_orders(signed, floor=1e-6)[-1], 1.0, 0.05, _MULTIPLE))
    rows.append(near("C6", "double root: error ratio e_{k+1}/e_k -> (m-1)/m = 1/2",
                     error_constants(signed, order=1, floor=1e-6)[-1], 0.5, 0.02))
    rows.append(holds("C6", "newton_root reports linear convergence at the double root",
                      result.convergence == "linear", result.convergence, "'linear'"))


def _double_well(p):
    """f(x, y) = x^4/4 - x^2/2 + y^2/2: minima at (+-1, 0), saddle at (0, 0)."""
    from nablanet.ops import sum as nb_sum

    return nb_sum(p[0] ** 4) / 4 - p[0] * p[0] / 2 + p[1] * p[1] / 2


def _c6_optimisation(rows):
    start = np.array([0.3, 1.0])  # Hessian diag(3x^2 - 1, 1) = diag(-0.73, 1): indefinite
    rows.append(holds("C6", "start of the double well has an indefinite Hessian",
                      min_eigenvalue(hessian(_double_well)(start)) < 0,
                      min_eigenvalue(hessian(_double_well)(start)), "< 0"))
    theta = start.copy()
    for _ in range(30):  # pure Newton on the gradient, no safeguards
        theta = theta - np.linalg.solve(hessian(_double_well)(theta), grad(_double_well)(theta))
    rows.append(holds("C6", "pure Newton stops at a stationary point that is not a minimum",
                      np.linalg.norm(grad(_double_well)(theta)) < 1e-10
                      and min_eigenvalue(hessian(_double_well)(theta)) < 0,
                      f"lambda_min {min_eigenvalue(hessian(_double_well)(theta)):.3g} at "
                      f"({theta[0]:.2g}, {theta[1]:.2g})", "gradient 0, lambda_min < 0",
                      _DAMPING))
    newton = library_function("newton")
    if newton is None:
        rows.append(holds("C6", "library damped Newton reaches a minimum from the same start",
                          False, "nablanet.optim.newton missing", "lambda_min > 0", _DAMPING))
        return
    found = np.asarray(newton(_double_well, start).x, dtype=float)
    lam = min_eigenvalue(hessian(_double_well)(found))
    gradient_norm = float(np.linalg.norm(grad(_double_well)(found)))
    # f is flat to rounding within ~sqrt(eps) of the minimum: the gradient is known to ~1e-8
    rows.append(holds("C6", "library damped Newton reaches a minimum from the same start",
                      lam > 0 and gradient_norm < 1e-6,
                      f"lambda_min {lam:.3g} at ({found[0]:.3g}, {found[1]:.2g}), "
                      f"|g| {gradient_norm:.1e}", "|g| < 1e-6, lambda_min > 0"))


def claim_c6(quick=False):
    """Newton root order 2 and constant, order 1 at a double root, damping for optimisation."""
    rows = []
    _c6_roots(rows)
    _c6_optimisation(rows)
    return rows


# -- C7 softmax cross-entropy curvature --------------------------------------------------------
_SINGULAR = "also true: H 1 = 0, so H is singular (shift invariance); a solver must handle it"


def _c7_at(rows, z, y, label):
    cross_entropy = library_function("cross_entropy")
    softmax = library_function("softmax")

    def loss(logits):
        return cross_entropy(logits, y, reduction="sum")

    p = value_of(softmax(z, -1))
    gradient, H = grad(loss)(z), hessian(loss)(z)
    finite = bool(np.all(np.isfinite(gradient)) and np.all(np.isfinite(H)))
    rows.append(holds("C7", f"{label}: gradient and Hessian finite", finite,
                      "finite" if finite else "NaN/inf", "no NaN or inf"))
    rows.append(at_most("C7", f"{label}: grad = yhat - y (soft y summing to 1) vs engine",
                        relative_error(gradient, p - y), EXACT))
    rows.append(at_most("C7", f"{label}: Hessian diag(p) - p p^T vs engine",
                        relative_error(H, np.diag(p) - np.outer(p, p)), EXACT))
    rows.append(at_least("C7", f"{label}: min eigenvalue of the Hessian (PSD)",
                         min_eigenvalue(H), -rounding_tolerance(H)))
    rows.append(at_most("C7", f"{label}: |H 1| / (|H| |1|) (H singular)",
                        null_vector_residual(H, np.ones(len(z))), 1e-14))
    return H


def claim_c7(quick=False):
    """Softmax CE: gradient p - y, Hessian diag(p) - pp^T, PSD, H 1 = 0, stable at 1e4."""
    rows = []
    rng = np.random.default_rng(10)
    z = rng.standard_normal(6)
    y = rng.dirichlet(np.ones(6))
    H = _c7_at(rows, z, y, "z ~ N(0,1)")
    v = rng.standard_normal(6)
    p = value_of(library_function("softmax")(z, -1))
    rows.append(at_most("C7", "x^T H x = sum p x^2 - (p.x)^2 (variance under p) vs engine H",
                        relative_error(v @ H @ v, p @ v**2 - (p @ v) ** 2), EXACT))
    rows.append(holds("C7", "null space of H is exactly span(1)", null_space(H).shape[1] == 1,
                      int(null_space(H).shape[1]), "dimension 1", _SINGULAR))
    _c7_at(rows, 1e4 + z, y, "z = 1e4 + N(0,1)")
    extreme = 1e4 * rng.standard_normal(6)
    _c7_at(rows, extreme, y, "z = 1e4 * N(0,1)")
    _c7_network(rows, quick)
    return rows


_RESIDUAL_TERM = ("the network's Hessian is J^T H_out J plus sum_i (dL/df_i) d2f_i/dtheta2, "
                  "which is indefinite: only the Gauss-Newton part inherits C7's PSD")


def _c7_network(rows, quick):
    """C7 through a trained network: the GGN J^T (diag(p) - pp^T) J is PSD, the Hessian not."""
    from nablanet import curvature
    from nablanet.models import MLPClassifier
    from nablanet.nn import CrossEntropyLoss

    X, y = digits()
    X, y = X[:300], y[:300]
    clf = MLPClassifier(hidden_layer_sizes=(8,), activation="tanh", batch_norm=False, dropout=0.0,
                        optimizer="hessian-free", max_epochs=5 if quick else 8, dtype="float64",
                        random_state=0).fit(X, y)
    net, Xs = clf.network_, clf._scale(X)
    label = f"trained 64-8-10 tanh net on {len(X)} digits"
    rows.append(at_least("C7", f"{label}: training accuracy (Hessian-free, "
                               f"{clf.n_iter_} epochs)", clf.score(X, y), 0.9))
    ggn = curvature.operator(net, CrossEntropyLoss(), Xs, y, kind="ggn").to_dense()
    hess = curvature.operator(net, CrossEntropyLoss(), Xs, y, kind="hessian").to_dense()
    rows.append(at_most("C7", f"{label}: GGN operator vs J^T (diag(p) - pp^T) J / N from "
                              f"jacobian", relative_error(ggn, _dense_ggn(net, Xs)), EXACT))
    lowest, tol = _lowest_and_rounding(ggn)
    rows.append(at_least("C7", f"{label}: min eigenvalue of the GGN ({ggn.shape[0]} params, PSD)",
                         lowest, -tol))
    lowest, tol = _lowest_and_rounding(hess)
    rows.append(holds("C7", f"{label}: the Hessian has a negative eigenvalue (not PSD)",
                      lowest < -tol, lowest, "< 0", _RESIDUAL_TERM))


def _lowest_and_rounding(H):
    """Smallest eigenvalue and the rounding tolerance, from one eigendecomposition."""
    spectrum = hessian_spectrum(H)
    # the diagonal matrix of the spectrum has the same eigenvalues, at O(n^2) cost
    return float(spectrum[0]), rounding_tolerance(np.diag(spectrum))


def _dense_ggn(net, X):
    """``J^T H_out J`` with ``J`` from ``jacobian`` of the functional network."""
    from nablanet.ops import reshape, tanh
    from nablanet.ops.dense import linear

    layers = [m for m in net if type(m).__name__ == "Linear"]

    def outputs(theta):
        h, start = X, 0
        for i, layer in enumerate(layers):
            n_w, n_b = layer.weight.size, layer.bias.size
            w = reshape(theta[start:start + n_w], layer.weight.shape)
            h = linear(h, w, theta[start + n_w:start + n_w + n_b])
            start += n_w + n_b
            h = tanh(h) if i < len(layers) - 1 else h
        return h

    theta = np.concatenate([p.data.ravel() for p in net.parameters()])
    J = jacobian(outputs)(theta).reshape(X.shape[0], layers[-1].out_features, -1)
    z = value_of(outputs(theta))
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    H_out = (np.einsum("ic,cd->icd", p, np.eye(p.shape[1])) - np.einsum("ic,id->icd", p, p))
    HJ = np.einsum("icd,idq->icq", H_out / X.shape[0], J)
    return J.reshape(-1, J.shape[-1]).T @ HJ.reshape(-1, J.shape[-1])
