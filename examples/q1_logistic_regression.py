"""Question 1: logistic regression, its gradient, its Hessian, GD against Newton.

The notes derive dE/dw = sum_n (yhat_n - y_n) x_n and the Hessian
sum_n yhat_n (1 - yhat_n) xt_n xt_n^T for the summed cross-entropy E, and train
by gradient descent.  This script checks both formulas against nablanet's
engine on the breast-cancer data, runs the notes' gradient descent next to
Newton's method (figure, left), and shows the two corrections of claim C1:

* non-negative Hessian entries do not make a matrix PSD (a counterexample), the
  rank-one sum does;
* "bounded below and convex" does not give a minimiser: on the full breast-cancer
  data the classes are linearly separable, E -> 0 only as ||w|| -> infinity
  (figure, right), and the Newton solver stops and says so.

Run: python examples/q1_logistic_regression.py [--quick] [--out DIR]
"""

import warnings

import numpy as np
from _common import compare, heading, parse_args, pyplot, relative_error, report, save
from sklearn.datasets import load_breast_cancer

import nablanet as nb
from nablanet.checks import min_eigenvalue
from nablanet.nn import functional as F
from nablanet.optim import LogisticObjective, is_linearly_separable, newton


def standardised_breast_cancer(columns=None):
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return (X if columns is None else X[:, columns]), y.astype(float)


def summed_loss(Xt, y):
    """E(theta) = sum_n BCE(xt_n . theta, y_n), theta = (w, b), from logits."""
    return lambda theta: F.binary_cross_entropy_with_logits(Xt @ theta, y, reduction="sum")


def check_derivatives(X, y):
    heading("derivatives on breast cancer (30 features + intercept), random theta")
    Xt = np.hstack([X, np.ones((len(X), 1))])
    theta = 0.1 * np.random.default_rng(0).standard_normal(Xt.shape[1])
    yhat = 1 / (1 + np.exp(-Xt @ theta))
    gradient = nb.grad(summed_loss(Xt, y))(theta)
    compare("dE/dtheta: sum (yhat - y) xt vs engine, rel. error", 0.0,
            relative_error(gradient, Xt.T @ (yhat - y)))
    H = nb.hessian(summed_loss(Xt, y))(theta)
    H_notes = (Xt * (yhat * (1 - yhat))[:, None]).T @ Xt
    compare("Hessian: sum yhat(1-yhat) xt xt^T vs engine, rel. error", 0.0,
            relative_error(H, H_notes))
    compare("smallest Hessian eigenvalue (PSD: >= 0)", ">= 0", min_eigenvalue(H))
    counterexample = np.array([[1.0, 2.0], [2.0, 1.0]])
    compare("non-negative entries [[1,2],[2,1]]: smallest eigenvalue", "'PSD'",
            min_eigenvalue(counterexample))
    print("  -> entries >= 0 do not make H PSD; a sum of c_n xt xt^T with c_n > 0 does (C1)")


def gd_as_written(Xt, y, eta, steps):
    """w <- w + eta sum (y - yhat) x, b likewise (the notes' update), losses per step."""
    loss = summed_loss(Xt, y)
    theta, losses = np.zeros(Xt.shape[1]), []
    for _ in range(steps):
        yhat = F.sigmoid(Xt @ theta)
        theta = theta + eta * (Xt.T @ (y - yhat))
        losses.append(float(loss(theta)))
    return theta, np.array(losses)


def gd_versus_newton(quick):
    heading("GD as written vs Newton: mean radius, texture, smoothness (not separable)")
    X, y = standardised_breast_cancer(columns=[0, 1, 4])
    compare("linearly separable (LP test)", False, is_linearly_separable(X, y))
    Xt = np.hstack([X, np.ones((len(X), 1))])
    result = newton(LogisticObjective(X, y), np.zeros(Xt.shape[1]))
    optimum = result.fun
    report(f"Newton: {result.stop_reason} after {result.n_iter} steps, E*", optimum)
    eta = 4.0 / np.linalg.norm(Xt, 2) ** 2  # 1/L, L = ||Xt||^2 / 4 bounds the curvature
    steps = 300 if quick else 3000
    theta, gd_losses = gd_as_written(Xt, y, eta, steps)
    report(f"GD (eta = 1/L = {eta:.3g}) after {steps} steps: E - E*", gd_losses[-1] - optimum)
    report("GD distance to Newton's optimum (relative)", relative_error(theta, result.x))
    newton_gap = np.maximum(result.trace["loss"] - optimum, 1e-16)
    return np.maximum(gd_losses - optimum, 1e-16), newton_gap


def separable_case(X, y, quick):
    heading("all 30 features: the classes are separable, no finite minimiser (C1 correction)")
    compare("linearly separable (LP test)", "'has a min'", is_linearly_separable(X, y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the solver warns that there is no minimum: expected
        plain = nb.LogisticRegression(penalty=None).fit(X, y)
    compare("LogisticRegression(penalty=None).stop_reason_", "converged", plain.stop_reason_)
    ridge = nb.LogisticRegression(C=1.0).fit(X, y)
    report(f"with L2 (C=1): {ridge.stop_reason_} after {ridge.n_iter_} steps, |w|",
           np.linalg.norm(ridge.coef_))
    Xt = np.hstack([X, np.ones((len(X), 1))])
    eta = 4.0 / np.linalg.norm(Xt, 2) ** 2
    steps = 2000 if quick else 20000
    loss = summed_loss(Xt, y)
    theta, norms, losses = np.zeros(Xt.shape[1]), [], []
    for _ in range(steps):
        theta = theta + eta * (Xt.T @ (y - F.sigmoid(Xt @ theta)))
        norms.append(np.linalg.norm(theta))
        losses.append(float(loss(theta)))
    report(f"GD as written after {steps} steps: E (-> 0, never 0)", losses[-1])
    report(f"GD as written after {steps} steps: |w| (keeps growing)", norms[-1])
    direction = separating_direction(Xt, y)
    scales = np.logspace(-2, 1.5, 30)  # margins of t w_sep are >= t
    ray = np.array([float(loss(t * direction)) for t in scales])
    for t, value in zip(scales[::10], ray[::10], strict=True):
        report(f"E(t w_sep) along a separating direction, t = {t:.3g}", value)
    report(f"E(t w_sep), t = {scales[-1]:.3g}: positive, 0 is never attained", ray[-1])
    path = {"gd": (np.array(norms), np.array(losses)),
            "ray": (scales * np.linalg.norm(direction), ray)}
    return path


def separating_direction(Xt, y):
    """A (w, b) with (2y - 1) xt.theta >= 1 for every sample (an LP feasibility problem)."""
    from scipy.optimize import linprog

    signs = 2 * y - 1
    lp = linprog(np.zeros(Xt.shape[1]), A_ub=-signs[:, None] * Xt, b_ub=-np.ones(len(y)),
                 bounds=[(None, None)] * Xt.shape[1], method="highs")
    return lp.x


def plot(out, gd_gap, newton_gap, path):
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.semilogy(np.arange(1, len(gd_gap) + 1), gd_gap, label="GD as in the notes (eta = 1/L)")
    left.semilogy(np.arange(1, len(newton_gap) + 1), newton_gap, "o-", label="Newton")
    left.set(xscale="log", xlabel="iteration", ylabel="E - E*",
             title="3 features (not separable): a minimum exists")
    left.legend()
    right.loglog(*path["ray"], "o-", ms=3, label="E(t w_sep) along a separating direction")
    right.loglog(*path["gd"], label="GD as in the notes: (||theta_k||, E_k)")
    right.set(xlabel="||theta||", ylabel="E",
              title="30 features (separable): E -> 0 as ||theta|| -> inf")
    right.legend()
    return save(fig, out, "q1_logistic_regression.png")


def main():
    args = parse_args(__doc__.splitlines()[0])
    X, y = standardised_breast_cancer()
    check_derivatives(X, y)
    gd_gap, newton_gap = gd_versus_newton(args.quick)
    path = separable_case(X, y, args.quick)
    plot(args.out, gd_gap, newton_gap, path)


if __name__ == "__main__":
    main()
