"""L2 logistic regression to the optimum: nablanet's default solver vs scikit-learn, same run.

Datasets: breast cancer (569 x 30, raw and standardised), synthetic n = 200,000 x d = 100
and n = 1,000,000 x d = 20 (seed 0, correlated features).  Objective
sum_n log-loss + 0.5 ||w||^2 / C with C = 1 and an unpenalised intercept (scikit-learn's
objective up to the factor n: same minimiser).  Every solution is scored by the same
float64 function here and compared with the best one found (within 1e-10 relative counts
as reaching the optimum).  Solvers: ``nablanet.models.LogisticRegression(C=1)`` (defaults:
Newton, tol 1e-8) vs ``sklearn.linear_model.LogisticRegression`` with lbfgs, newton-cg and
newton-cholesky at their default tol and at 1e-10.  Each is timed from raw arrays to
fitted weights; repeats are interleaved (order reversed every other round) so load drift
hits all alike; the figure is the median (breast cancer: at least 15 rounds, since its fits
take a few ms).

Also measured, per dataset: the Hessian build (``LogisticObjective.hessian`` at the
solution) against the machine's float64 matmul rate (a 2,000^3 product timed right before
each build, so both see the same load; median over rounds of the ratio); its useful work
is n p^2 flops (p = d + 1; a symmetric rank-n update computes half of the 2 n p^2 of a
general product).

    python bench/logistic_newton.py [--repeats 3] [--threads 1] [--datasets a,b]

``--threads`` caps every BLAS pool (NumPy's and SciPy's) through threadpoolctl, for all
solvers alike, in this script only.  Writes bench/results/logistic_newton.json.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
from _timing import save, time_fits_interleaved

C = 1.0
OPTIMUM = 1e-10
#: Datasets with fewer entries than SMALL get at least SMALL_REPEATS interleaved rounds.
SMALL, SMALL_REPEATS = 100_000, 15
NABLANET = "nablanet LogisticRegression"


def synthetic(n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X[:, 1::2] += 0.5 * X[:, ::2]  # some correlation between features
    w = rng.standard_normal(d) / np.sqrt(d) * 2
    p = 1 / (1 + np.exp(-(X @ w + 0.5)))
    return X, (rng.random(n) < p).astype(int)


def datasets():
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    return {
        "breast cancer raw": lambda: (X, y),
        "breast cancer standardised": lambda: ((X - X.mean(0)) / X.std(0), y),
        "synthetic 200000 x 100": lambda: synthetic(200_000, 100),
        "synthetic 1000000 x 20": lambda: synthetic(1_000_000, 20),
    }


def objective(X, y, theta):
    from nablanet.optim import LogisticObjective

    return LogisticObjective(X, y, alpha=1.0 / C).value(theta)


def fit_nablanet(X, y):
    from nablanet.models import LogisticRegression

    model = LogisticRegression(C=C).fit(X, y)
    return np.append(model.coef_.ravel(), model.intercept_), int(model.n_iter_)


def fit_sklearn(solver, tol):
    from sklearn.linear_model import LogisticRegression

    def fit(X, y):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = LogisticRegression(C=C, solver=solver, tol=tol, max_iter=10_000).fit(X, y)
        return np.append(model.coef_.ravel(), model.intercept_), int(np.max(model.n_iter_))

    return fit


def solvers():
    out = {NABLANET: fit_nablanet}
    for solver in ("lbfgs", "newton-cg", "newton-cholesky"):
        out[f"sklearn {solver} (tol=1e-4, default)"] = fit_sklearn(solver, 1e-4)
        out[f"sklearn {solver} (tol=1e-10)"] = fit_sklearn(solver, 1e-10)
    return out


def _seconds(fun):
    start = time.perf_counter()
    fun()
    return time.perf_counter() - start


def _matmul(size=2000):
    rng = np.random.default_rng(1)
    A, B = rng.standard_normal((size, size)), rng.standard_normal((size, size))
    return (lambda: A @ B), 2 * size**3


def matmul_gflops(repeats=5):
    product, flops = _matmul()
    product()
    return flops / statistics.median(_seconds(product) for _ in range(repeats)) / 1e9


def hessian_rate(X, y, theta, peak, repeats=5):
    """Median time of the build proper at theta (sqrt of the cached curvature, scaled
    rows, rank-n update), its rate, and that rate as a fraction of the matmul rate.

    Each round times the 2,000^3 matmul right before the build, so that both see the
    same machine load; the fraction is the median over rounds of build rate / matmul
    rate (the run's opening matmul figure ``peak`` is kept for comparison)."""
    from nablanet.optim import LogisticObjective

    obj = LogisticObjective(X, y, alpha=1.0 / C)
    obj.hessian(theta)  # logits, probabilities, curvature and gradient are cached from here
    product, product_flops = _matmul()
    flops = X.shape[0] * obj.n_params**2
    times, fractions = [], []
    for _ in range(repeats):
        matmul_rate = product_flops / _seconds(product)
        obj.hessian(theta)  # untimed: a small X back in cache after the matmul
        times.append(_seconds(lambda: obj.hessian(theta)))
        fractions.append(flops / times[-1] / matmul_rate)
    seconds = statistics.median(times)
    return {"median_s": seconds, "gflops": flops / seconds / 1e9,
            "fraction_of_matmul": statistics.median(fractions),
            "fraction_of_opening_matmul": flops / seconds / 1e9 / peak}


def run_dataset(X, y, repeats):
    if X.size < SMALL:  # a fit of a few ms: 3 timings were +-20% on the loaded machine
        repeats = max(repeats, SMALL_REPEATS)
    times, fitted = time_fits_interleaved(solvers(), X, y, repeats)
    rows = {name: {"median_s": statistics.median(times[name]), "times_s": times[name],
                   "n_iter": n_iter, "objective": objective(X, y, theta)}
            for name, (theta, n_iter) in fitted.items()}
    best = min(row["objective"] for row in rows.values())
    ours = rows[NABLANET]["median_s"]
    for row in rows.values():
        row["relative_excess"] = (row["objective"] - best) / abs(best)
        row["time_over_nablanet"] = row["median_s"] / ours
    at_optimum = [row["median_s"] for name, row in rows.items()
                  if name != NABLANET and row["relative_excess"] <= OPTIMUM]
    return {"rows": rows, "solution": fitted[NABLANET][0],
            "nablanet_over_fastest_sklearn_at_optimum":
                ours / min(at_optimum) if at_optimum else None,
            "nablanet_at_optimum": rows[NABLANET]["relative_excess"] <= OPTIMUM}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--datasets", default=None, help="comma-separated names (default all)")
    args = parser.parse_args()
    import scipy.linalg  # noqa: F401 - load SciPy's BLAS so that the limit reaches it
    from threadpoolctl import threadpool_limits

    threadpool_limits(args.threads)
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    peak = matmul_gflops()
    record = {"C": C, "threads": args.threads, "repeats": args.repeats, "load": load,
              "matmul_gflops": peak, "datasets": {}}
    print(f"load average {' '.join(load)}, BLAS threads {args.threads}, "
          f"float64 matmul {peak:.1f} GFLOP/s")
    chosen = datasets()
    if args.datasets:
        chosen = {k: v for k, v in chosen.items() if k in args.datasets.split(",")}
    for label, make in chosen.items():
        X, y = make()
        result = run_dataset(X, y, args.repeats)
        result["repeats"] = max(args.repeats, SMALL_REPEATS) if X.size < SMALL else args.repeats
        result["hessian"] = hessian_rate(X, y, result.pop("solution"), peak)
        record["datasets"][label] = result
        print(f"\n{label} ({X.shape[0]} x {X.shape[1]})")
        for name, row in result["rows"].items():
            print(f"  {name:42s} {row['median_s'] * 1e3:9.1f} ms  x{row['time_over_nablanet']:6.2f}"
                  f"  iters {row['n_iter']:5d}  objective {row['objective']:.12e}"
                  f"  rel. excess {row['relative_excess']:.1e}")
        ratio = result["nablanet_over_fastest_sklearn_at_optimum"]
        if ratio is not None:
            print(f"  nablanet time / fastest scikit-learn within {OPTIMUM:g} of the optimum: "
                  f"{ratio:.2f}")
        h = result["hessian"]
        print(f"  Hessian build {h['median_s'] * 1e3:.1f} ms, {h['gflops']:.1f} GFLOP/s = "
              f"{100 * h['fraction_of_matmul']:.0f}% of matmul")
    print(f"wrote {save('logistic_newton', record)}")


if __name__ == "__main__":
    main()
