"""Question 5: Gaussian dropout is a data-dependent L2 penalty.

With noise delta_k ~ Normal(1, sigma^2) on each input of a linear unit, the notes
derive (claim C5)

    dJ1/dw_i   = -delta_i x_i (y_d - sum_k delta_k w_k x_k)
    E[dJ1/dw_i] = -x_i (y_d - w_i x_i (sigma^2 + 1) - sum_{k != i} w_k x_k)
    E[J1]      = 0.5 (y_d - sum_k w_k x_k)^2 + 0.5 sigma^2 sum_k w_k^2 x_k^2.

This script draws the noise with nablanet's ``gaussian_dropout``, compares the
Monte-Carlo means with these closed forms (with 95% intervals), and trains a
linear regression by SGD with Gaussian dropout: it converges to the minimiser of
the regularised objective, w* = (X^T X + sigma^2 diag(X^T X))^-1 X^T y, not to
least squares (figure).

Run: python examples/q5_gaussian_dropout.py [--quick] [--out DIR]
"""

import numpy as np
from _common import compare, heading, parse_args, pyplot, relative_error, report, save

import nablanet as nb
from nablanet.nn import functional as F
from nablanet.optim import gaussian_dropout_ridge

SIGMA2 = 0.25


def monte_carlo(quick, rng):
    heading("one unit, y_d = 1.5, 5 inputs: Monte Carlo vs closed forms")
    x, w, y_d = rng.standard_normal(5), rng.standard_normal(5), 1.5
    n_draws = 20_000 if quick else 400_000
    W = np.tile(w, (n_draws, 1))  # one copy of w per draw: row s of the gradient is draw s
    seen = {}

    def total_loss(Ws):
        noisy = F.gaussian_dropout(Ws * x, SIGMA2, generator=rng)  # delta_k w_k x_k
        seen["noisy"] = np.asarray(getattr(noisy, "data", noisy))
        residual = y_d - nb.sum(noisy, axis=1)
        return nb.sum(0.5 * residual * residual)

    per_draw_grad = nb.grad(total_loss)(W)
    noisy = seen["noisy"]
    delta, residual = noisy / (w * x), y_d - noisy.sum(axis=1)
    compare("per draw: dJ1/dw = -delta x (y_d - sum delta w x) vs engine", 0.0,
            relative_error(per_draw_grad, -delta * x * residual[:, None]))
    wx = w * x
    loss_closed = 0.5 * (y_d - wx.sum()) ** 2 + 0.5 * SIGMA2 * np.sum(wx**2)
    mean, half = _mean_and_interval(0.5 * residual**2)
    compare(f"E[J1] over {n_draws} draws (+- {half:.2g})", loss_closed, mean)
    grad_closed = -x * (y_d - wx * (SIGMA2 + 1) - (wx.sum() - wx))
    means, halves = _mean_and_interval(per_draw_grad)
    for i in range(5):
        compare(f"E[dJ1/dw_{i}] (+- {halves[i]:.2g})", grad_closed[i], means[i])
    inside = np.abs(means - grad_closed) <= halves
    report("closed-form gradient entries inside the 95% interval", f"{inside.sum()} of 5")


def _mean_and_interval(samples):
    samples = np.asarray(samples)
    sem = samples.std(axis=0, ddof=1) / np.sqrt(samples.shape[0])
    return samples.mean(axis=0), 1.96 * sem


def sgd_with_noise(X, y, steps, rng):
    """Minibatch SGD on 0.5 mean (y - (delta * X) w)^2 with fresh noise every step."""

    def loss(w, rows):
        residual = y[rows] - F.gaussian_dropout(X[rows], SIGMA2, generator=rng) @ w
        return 0.5 * nb.mean(residual * residual)

    gradient = nb.grad(loss)
    gram = X.T @ X / len(X)
    base = 0.5 / np.linalg.eigvalsh(gram * (1 + SIGMA2))[-1]
    w, average, path = np.zeros(X.shape[1]), np.zeros(X.shape[1]), []
    for k in range(steps):
        rows = rng.integers(0, len(X), 20)
        w = w - base / (1 + k / 200) ** 0.6 * gradient(w, rows)
        average = w.copy() if k < steps // 2 else average + (w - average) / (k - steps // 2 + 1)
        path.append((w.copy(), average.copy()))
    return path


def regression(quick, rng):
    heading(f"linear regression (n = 200, d = 5), SGD with Gaussian dropout, sigma^2 = {SIGMA2}")
    X = rng.standard_normal((200, 5)) * np.array([1.0, 2.0, 0.5, 1.5, 1.0])
    y = X @ rng.standard_normal(5) + 0.5 * rng.standard_normal(200)
    w_star = gaussian_dropout_ridge(X, y, SIGMA2)
    w_ols = np.linalg.lstsq(X, y, rcond=None)[0]
    steps = 3000 if quick else 20000
    path = sgd_with_noise(X, y, steps, rng)
    final = path[-1][1]
    print(f"  w* (closed form)   {np.array2string(w_star, precision=4)}")
    print(f"  SGD (averaged)     {np.array2string(final, precision=4)}")
    print(f"  least squares      {np.array2string(w_ols, precision=4)}")
    compare("SGD (averaged second half) vs w*, rel. distance", 0.0, relative_error(final, w_star))
    report("SGD vs least squares, rel. distance (stays away)", relative_error(final, w_ols))
    model = nb.GaussianDropoutRegressor(sigma2=SIGMA2, fit_intercept=False, random_state=0,
                                        max_epochs=40 if quick else 200).fit(X, y)
    compare("GaussianDropoutRegressor (noise training) vs w*", 0.0,
            relative_error(model.coef_, w_star))
    closed = nb.GaussianDropoutRegressor(sigma2=SIGMA2, fit_intercept=False,
                                         closed_form=True).fit(X, y)
    compare("GaussianDropoutRegressor(closed_form=True) vs w*", 0.0,
            relative_error(closed.coef_, w_star))
    return path, w_star, w_ols


def variance_match(rng):
    heading("Gaussian dropout with sigma^2 = p/(1-p) matches inverted dropout's variance")
    p = 0.2
    binary = np.asarray(F.dropout(np.ones(200_000), p, training=True, generator=rng))
    gaussian = np.asarray(F.gaussian_dropout(np.ones(200_000), p / (1 - p), generator=rng))
    compare("variance of inverted dropout (p = 0.2)", p / (1 - p), binary.var())
    compare("variance of Gaussian dropout (sigma^2 = 0.25)", p / (1 - p), gaussian.var())


def plot(out, path, w_star, w_ols):
    plt = pyplot()
    iterations = np.arange(1, len(path) + 1)
    to_star = [np.linalg.norm(w - w_star) / np.linalg.norm(w_star) for w, _ in path]
    avg_to_star = [np.linalg.norm(a - w_star) / np.linalg.norm(w_star) for _, a in path]
    avg_to_ols = [np.linalg.norm(a - w_ols) / np.linalg.norm(w_star) for _, a in path]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.loglog(iterations, to_star, lw=0.6, alpha=0.6, label="SGD iterate to w* (closed form)")
    ax.loglog(iterations, avg_to_star, label="averaged SGD to w* (regularised)")
    ax.loglog(iterations, avg_to_ols, "--", label="averaged SGD to least squares")
    ax.set(xlabel="SGD step", ylabel="relative distance",
           title="SGD with Gaussian dropout finds the regularised weights")
    ax.legend()
    return save(fig, out, "q5_gaussian_dropout.png")


def main():
    args = parse_args(__doc__.splitlines()[0])
    rng = np.random.default_rng(0)
    monte_carlo(args.quick, rng)
    path, w_star, w_ols = regression(args.quick, rng)
    variance_match(rng)
    plot(args.out, path, w_star, w_ols)


if __name__ == "__main__":
    main()
