"""Question 7: the curvature of softmax cross-entropy, and its singular direction.

The notes derive grad_z L = yhat - y and H = diag(yhat) - yhat yhat^T, and prove
H is PSD because x^T H x = sum_i yhat_i x_i^2 - (sum_i yhat_i x_i)^2, a variance
(claim C7).  This script checks each against nablanet's engine, and shows what
the notes leave out: H 1 = 0, since adding a constant to every logit changes
nothing, so H is singular.  For multinomial logistic regression (iris) the
Hessian over all K weight rows has a null space of one direction per input
column; ``SoftmaxObjective`` removes it with a reference class (or an L2
penalty), and only then is the optimum unique.  Figure: the spectra.

Run: python examples/q7_softmax_hessian.py [--quick] [--out DIR]
"""

import numpy as np
from _common import compare, heading, parse_args, pyplot, relative_error, report, save
from sklearn.datasets import load_iris

import nablanet as nb
from nablanet.checks import hessian_spectrum, null_space, null_vector_residual, rounding_tolerance
from nablanet.nn import functional as F
from nablanet.optim import SoftmaxObjective, newton


def one_sample(rng):
    heading("one sample, K = 6 logits, soft target y (sums to 1)")
    z, y = rng.standard_normal(6), rng.dirichlet(np.ones(6))

    def loss(logits):
        return F.cross_entropy(logits[None, :], y[None, :], reduction="sum")

    p = np.asarray(F.softmax(z, dim=-1))
    H = nb.hessian(loss)(z)
    compare("grad = yhat - y vs engine, rel. error", 0.0, relative_error(nb.grad(loss)(z), p - y))
    compare("H = diag(yhat) - yhat yhat^T vs engine, rel. error", 0.0,
            relative_error(H, np.diag(p) - np.outer(p, p)))
    v = rng.standard_normal(6)
    compare("v^T H v vs sum p v^2 - (p.v)^2 (a variance)", p @ v**2 - (p @ v) ** 2, v @ H @ v)
    eigenvalues = hessian_spectrum(H)
    print(f"  eigenvalues of H: {np.array2string(eigenvalues, precision=4)}")
    compare("smallest eigenvalue (PSD: >= 0; also = 0, singular)", 0.0, eigenvalues[0])
    compare("|H 1| / (|H| |1|): the all-ones direction is null", 0.0,
            null_vector_residual(H, np.ones(6)))
    basis = null_space(H)
    report("null space dimension / its vector (normalised)",
           f"{basis.shape[1]} / {np.array2string(basis[:, 0] * np.sign(basis[0, 0]), precision=3)}")
    z_big = 1e4 * rng.standard_normal(6)
    finite = np.all(np.isfinite(nb.hessian(loss)(z_big)))
    report("Hessian at logits of size 1e4 is finite", bool(finite))
    return eigenvalues


def regression_hessian(X, y, K):
    """Engine Hessian of the summed cross-entropy over all K x (d + 1) weights (no reference)."""
    Xt = np.hstack([X, np.ones((len(X), 1))])

    def loss(theta):
        W = nb.reshape(theta, (K, Xt.shape[1]))
        return F.cross_entropy(Xt @ nb.transpose(W), y, reduction="sum")

    return nb.hessian(loss)(0.1 * np.random.default_rng(1).standard_normal(K * Xt.shape[1]))


def iris_regression():
    heading("multinomial logistic regression on iris: K = 3 classes, 4 features + intercept")
    X, y = load_iris(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    full = hessian_spectrum(regression_hessian(X, y, 3))
    tol = rounding_tolerance(np.diag(full))
    compare("all 15 parameters free: zero eigenvalues (one per column)", 5,
            int(np.sum(np.abs(full) <= tol)))
    objective = SoftmaxObjective(X, y)  # alpha = 0: the last class is the reference
    theta = 0.1 * np.random.default_rng(1).standard_normal(objective.n_params)
    reference = hessian_spectrum(objective.hessian(theta))
    compare(f"reference class ({objective.n_params} free): smallest eigenvalue", "> 0",
            reference[0])
    penalised = SoftmaxObjective(X, y, alpha=1.0)
    ridge = hessian_spectrum(penalised.hessian(np.zeros(penalised.n_params)))
    compare(f"L2 penalty, alpha = 1 ({penalised.n_params} free): smallest eigenvalue", "> 0",
            ridge[0])
    result = newton(penalised, np.zeros(penalised.n_params))
    report("Newton on the penalised problem", result.message)
    return full, reference, ridge


def plot(out, single, full, reference, ridge):
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.stem(np.arange(1, len(single) + 1), single)
    left.set(xlabel="index", ylabel="eigenvalue",
             title="diag(p) - pp^T for one sample: one zero (direction 1)")
    for values, marker, label in ((full, "o", "all K rows free (singular)"),
                                  (reference, "s", "reference class"),
                                  (ridge, "^", "L2 penalty alpha = 1")):
        right.semilogy(np.arange(1, len(values) + 1), np.maximum(np.abs(values), 1e-17),
                       marker, label=label)
    right.set(xlabel="index (ascending)", ylabel="|eigenvalue| (floored at 1e-17)",
              title="Iris softmax regression: Hessian spectrum")
    right.legend()
    return save(fig, out, "q7_softmax_hessian.png")


def main():
    args = parse_args(__doc__.splitlines()[0])  # quick or not: this one takes a second
    single = one_sample(np.random.default_rng(0))
    full, reference, ridge = iris_regression()
    plot(args.out, single, full, reference, ridge)


if __name__ == "__main__":
    main()
