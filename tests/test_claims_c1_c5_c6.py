"""Claims C1 (logistic regression), C5 (Gaussian dropout) and C6 (Newton) from notes/claims.md."""

import warnings

import numpy as np
import pytest

import nablanet as nb
from nablanet.optim import (
    GD,
    SGD,
    ConvergenceWarning,
    LogisticObjective,
    StoppingRule,
    gaussian_dropout_ridge,
    is_linearly_separable,
    newton,
    newton_root,
)

# ---------------------------------------------------------------------------- C6


def test_c6_simple_root_converges_quadratically_with_the_predicted_constant():
    f = lambda x: x**3 - 2.0 * x - 5.0  # noqa: E731 - Wallis's cubic, simple root near 2.0946
    r = newton_root(f, 3.0)
    assert r.converged and r.n_iter <= 8
    root = r.root
    assert abs(f(root)) <= 1e-14
    predicted = abs(6 * root / (2 * (3 * root**2 - 2)))  # |f''(x*) / (2 f'(x*))|
    assert r.orders.size >= 2
    assert r.order == pytest.approx(2.0, abs=0.05)
    assert r.constant == pytest.approx(predicted, rel=0.01)
    assert r.convergence == "quadratic"
    # the estimates approach their limits: later ones are closer than earlier ones
    assert abs(r.orders[-1] - 2) < abs(r.orders[0] - 2)
    assert abs(r.constants[-1] - predicted) < abs(r.constants[0] - predicted)


def test_c6_double_root_converges_only_linearly_and_says_so():
    f = lambda x: (x - 1.0) ** 2 * (x + 2.0)  # noqa: E731 - double root at 1
    r = newton_root(f, 2.0, x_true=1.0)
    assert r.converged
    assert r.orders.size >= 10
    np.testing.assert_allclose(r.orders[-5:], 1.0, atol=0.02)
    assert r.convergence == "linear" and "multiple root" in r.message
    # e_{k+1} / e_k -> (m - 1) / m = 1/2 for multiplicity m = 2
    assert r.errors[-2] / r.errors[-3] == pytest.approx(0.5, abs=0.01)


# ---------------------------------------------------------------------------- C1


def _breast_cancer(columns=None):
    datasets = pytest.importorskip("sklearn.datasets")
    data = datasets.load_breast_cancer()
    X = (data.data - data.data.mean(axis=0)) / data.data.std(axis=0)
    return (X if columns is None else X[:, columns]), data.target.astype(float)


# Five of the ten "mean" features (radius, texture, smoothness, symmetry, fractal
# dimension).  With all 30 features the classes are linearly separable (tested
# below), so unpenalised logistic regression has no minimum there to converge to.
C1_COLUMNS = [0, 1, 4, 8, 9]


def test_c1_gradient_descent_as_written_reaches_newtons_minimum(record_property):
    X, y = _breast_cancer(C1_COLUMNS)
    Xt = np.hstack([X, np.ones((len(y), 1))])
    obj = LogisticObjective(X, y)
    exact = newton(obj, np.zeros(Xt.shape[1]))
    assert exact.converged and exact.n_iter <= 15

    theta = nb.tensor(np.zeros(Xt.shape[1]), requires_grad=True)
    eta = 1.0 / (0.25 * np.linalg.eigvalsh(Xt.T @ Xt).max())  # 1 / (Lipschitz constant)
    opt = GD([theta], lr=eta)
    rule = StoppingRule(step_tol=1e-12)
    for k in range(20_000):
        before = theta.numpy().copy()
        yhat = 1 / (1 + np.exp(-Xt @ before))
        theta.grad = nb.tensor(-Xt.T @ (y - yhat))  # so the step is +eta sum (y - yhat) x~
        opt.step()
        step = theta.numpy() - before
        if k < 5:
            np.testing.assert_allclose(step, eta * Xt.T @ (y - yhat), rtol=1e-12, atol=1e-14)
        if rule.update(step_norm=np.linalg.norm(step), param_norm=np.linalg.norm(before)):
            break
    assert rule.reason == "step_tol"
    np.testing.assert_allclose(theta.numpy(), exact.x, atol=1e-8)
    assert obj.value(theta.numpy()) == pytest.approx(exact.fun, rel=1e-13)

    eigenvalues = np.linalg.eigvalsh(obj.hessian(exact.x))
    record_property("c1_hessian_min_eigenvalue", float(eigenvalues[0]))
    print(f"C1: Hessian at the optimum, smallest eigenvalue {eigenvalues[0]:.6g}")
    assert eigenvalues[0] > 0  # PSD (here PD): a sum of c_n x~ x~^T with c_n > 0


def test_c1_full_breast_cancer_is_separable_and_newton_says_so():
    X, y = _breast_cancer()
    assert is_linearly_separable(X, y)
    with pytest.warns(ConvergenceWarning, match="no finite minimum"):
        r = newton(LogisticObjective(X, y), np.zeros(X.shape[1] + 1))
    assert r.stop_reason == "separation" and np.all(np.isfinite(r.x))
    penalised = newton(LogisticObjective(X, y, alpha=1.0), np.zeros(X.shape[1] + 1))
    assert penalised.converged and penalised.n_iter <= 15
    assert np.linalg.eigvalsh(LogisticObjective(X, y).hessian(penalised.x))[0] >= -1e-10


# ---------------------------------------------------------------------------- C5


def test_c5_monte_carlo_loss_and_gradient_match_the_closed_forms():
    rng = np.random.default_rng(5)
    sigma2 = 0.3
    x = np.array([1.5, -0.7, 2.0, 0.4])
    w = np.array([0.8, 1.1, -0.5, 2.0])
    y_d = 1.2
    delta = 1 + np.sqrt(sigma2) * rng.standard_normal((400_000, 4))
    residual = y_d - (delta * w * x).sum(axis=1)
    losses = 0.5 * residual**2
    grads = -delta * x * residual[:, None]  # dJ1/dw_i = -delta_i x_i (y_d - sum delta w x)

    expected_loss = 0.5 * (y_d - w @ x) ** 2 + 0.5 * sigma2 * np.sum(w**2 * x**2)
    expected_grad = -x * (y_d - w * x * (sigma2 + 1) - (w @ x - w * x))
    _within_ci(losses, expected_loss)
    for i in range(4):
        _within_ci(grads[:, i], expected_grad[i])
    # and the noise term is resolved: dropping it lies outside the interval
    noiseless = 0.5 * (y_d - w @ x) ** 2
    assert abs(losses.mean() - noiseless) > 5 * losses.std() / np.sqrt(len(losses))


def _within_ci(samples, expected, z=4.0):
    half_width = z * samples.std(ddof=1) / np.sqrt(len(samples))
    assert abs(samples.mean() - expected) <= half_width, (samples.mean(), expected, half_width)


def test_c5_sgd_with_gaussian_dropout_converges_to_the_regularised_minimiser():
    rng = np.random.default_rng(7)
    n, d, sigma2, batch = 200, 3, 0.5, 40
    X = rng.standard_normal((n, d))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3 * rng.standard_normal(n)
    target = gaussian_dropout_ridge(X, y, sigma2)
    least_squares = np.linalg.lstsq(X, y)[0]

    w = nb.tensor(np.zeros(d), requires_grad=True)
    lr0 = 0.5 / (n * (1 + sigma2) * d)
    opt = SGD([w], lr=lr0)
    steps, average = 3000, np.zeros(d)
    for k in range(steps):
        rows = rng.integers(0, n, batch)
        noisy = X[rows] * (1 + np.sqrt(sigma2) * rng.standard_normal((batch, d)))
        opt.zero_grad()
        residual = y[rows] - nb.matmul(noisy, w)
        (0.5 * (n / batch) * nb.sum(residual * residual)).backward()
        opt.param_groups[0]["lr"] = lr0 / (1 + k / 500) ** 0.6
        opt.step()
        if k >= steps // 2:  # Polyak-Ruppert averaging of the second half
            average += w.numpy() / (steps - steps // 2)
    gap = np.linalg.norm(target - least_squares)
    assert np.linalg.norm(average - target) < 0.05 * gap
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean fit: no warnings on the way
        np.testing.assert_allclose(gaussian_dropout_ridge(X, y, 0.0), least_squares, rtol=1e-10)
