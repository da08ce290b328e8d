"""Question 2: batch normalisation, its backward pass, n = 1, and the 1/sqrt(n) noise.

The notes differentiate the centering step, d xhat_i / d x_j = delta_ij - 1/n,
giving dL/dx_j = gamma (dL/dy_j - mean_i dL/dy_i).  This script compares that
and the full backward (with the variance term, claim C2) with nablanet's
``batch_norm``; shows the degenerate n = 1 case (output beta, gradient 0, and
``BatchNorm1d`` refusing it in training); and measures the noise of the batch
mean across random batches against sigma / sqrt(n), the notes' "(2) 1/sqrt(n)"
(figure).

Run: python examples/q2_batch_norm.py [--quick] [--out DIR]
"""

import numpy as np
from _common import compare, heading, parse_args, pyplot, relative_error, report, save
from sklearn.datasets import load_breast_cancer

import nablanet as nb
from nablanet.checks import loglog_slope
from nablanet.nn import BatchNorm1d
from nablanet.nn import functional as F


def full_backward(x, gamma, g, eps):
    """dL/dx = gamma / sqrt(var + eps) * (g - mean g - xhat mean(g xhat))  (claim C2)."""
    mu, var = x.mean(axis=0), x.var(axis=0)
    xhat = (x - mu) / np.sqrt(var + eps)
    return gamma / np.sqrt(var + eps) * (g - g.mean(axis=0) - xhat * (g * xhat).mean(axis=0))


def check_backward(features, rng):
    heading("backward pass on 64 rows of 5 breast-cancer features")
    x = features[rng.choice(len(features), 64, replace=False)]
    gamma, beta = rng.uniform(0.5, 1.5, 5), rng.standard_normal(5)
    g = rng.standard_normal(x.shape)  # an upstream gradient dL/dy
    eps = 1e-5

    def centred(xs):  # y = gamma (x - mu) + beta: the notes' centering step alone
        return nb.sum(g * (gamma * (xs - nb.mean(xs, axis=0)) + beta))

    compare("centering: gamma (g - mean g) vs engine, rel. error", 0.0,
            relative_error(nb.grad(centred)(x), gamma * (g - g.mean(axis=0))))

    def loss(xs):
        return nb.sum(g * F.batch_norm(xs, None, None, gamma, beta, training=True, eps=eps))

    engine = nb.grad(loss)(x)
    compare("full backward (variance term) vs engine, rel. error", 0.0,
            relative_error(engine, full_backward(x, gamma, g, eps)))
    compare("sum over the batch of dL/dx (relative to max |dL/dx|)", 0.0,
            np.abs(engine.sum(axis=0)).max() / np.abs(engine).max())


def single_sample():
    heading("n = 1: no variation in the batch")
    x = np.array([[3.0, -1.5]])
    gamma, beta = np.array([2.0, 0.5]), np.array([0.25, -0.75])
    out = F.batch_norm(x, None, None, gamma, beta, training=True)
    compare("output y_1 (= beta whatever x)", str(beta), str(np.asarray(out)))

    def loss(xs):
        return nb.sum(F.batch_norm(xs, None, None, gamma, beta, training=True))

    compare("max |dL/dx_1|", 0.0, np.abs(nb.grad(loss)(x)).max())
    try:
        BatchNorm1d(2)(x)
        report("BatchNorm1d in training with one row", "accepted (unexpected)")
    except ValueError as err:
        report("BatchNorm1d in training with one row raises ValueError", str(err)[:60] + "...")


def batch_mean_noise(population, sizes, n_batches, rng):
    """Std over random batches of the batch mean that batch_norm computes (momentum 1)."""
    stds = []
    for n in sizes:
        batches = rng.choice(population, size=(n, n_batches))  # one batch per column
        batch_means = np.zeros(n_batches)
        F.batch_norm(batches, batch_means, None, training=True, momentum=1.0)
        stds.append(batch_means.std(ddof=1))
    return np.array(stds)


def noise_versus_n(population, quick, rng):
    heading("noise of the batch mean against 1/sqrt(n) (mean area: skewed, not normal)")
    sizes = np.array([2, 4, 8, 16, 32, 64, 128, 256])
    stds = batch_mean_noise(population, sizes, 1000 if quick else 5000, rng)
    sigma = population.std()
    for n, s in zip(sizes, stds, strict=True):
        compare(f"n = {n:3d}: std(batch mean)", sigma / np.sqrt(n), s)
    compare("fitted slope of log std vs log n", -0.5, loglog_slope(sizes, stds))
    compare("std(batch mean) * sqrt(n) / sigma, mean over n", 1.0,
            np.mean(stds * np.sqrt(sizes) / sigma))
    return sizes, stds, sigma


def plot(out, sizes, stds, sigma):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.loglog(sizes, stds, "o", label="measured std of the batch mean")
    ax.loglog(sizes, sigma / np.sqrt(sizes), "-", label="sigma / sqrt(n)")
    ax.set(xlabel="batch size n", ylabel="std of the batch mean across batches",
           title="Batch-norm noise shrinks like 1/sqrt(n)")
    ax.legend()
    return save(fig, out, "q2_batch_norm.png")


def main():
    args = parse_args(__doc__.splitlines()[0])
    rng = np.random.default_rng(0)
    data = load_breast_cancer().data
    check_backward(data[:, :5], rng)
    single_sample()
    sizes, stds, sigma = noise_versus_n(data[:, 3], args.quick, rng)
    plot(args.out, sizes, stds, sigma)


if __name__ == "__main__":
    main()
