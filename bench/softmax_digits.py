"""Softmax regression on digits to the optimum: nablanet vs scikit-learn, same run.

Problem: scikit-learn's digits (1,797 x 64, 10 classes), raw pixels (0-16) and
standardised; objective ``sum_n CE_n + 0.5 ||W||^2 / C`` with C = 1 and unpenalised
intercepts (scikit-learn's multinomial objective divided by C: same minimiser).
Every solution is scored by the same float64 function here, and compared with the best
one found (within 1e-10 relative counts as reaching the optimum).  Solvers:
``nablanet.models.SoftmaxRegression`` (default solver) vs
``sklearn.linear_model.LogisticRegression`` with lbfgs, newton-cg and newton-cholesky,
each at its default tol and at a tight one.  Repeats are interleaved (load drift hits
all alike); the figure is the median wall time of a fit from raw arrays.

    python bench/softmax_digits.py [--repeats 5] [--threads 1]

``--threads`` caps every BLAS pool (NumPy's and SciPy's) through threadpoolctl, for all
solvers alike, in this script only.
"""

from __future__ import annotations

import argparse
import statistics
import warnings

import numpy as np
from _timing import save, time_fits_interleaved

C = 1.0
#: A solution "reaches the optimum" within this relative excess over the best objective.
OPTIMUM = 1e-10


def datasets():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    standardised = (X - X.mean(axis=0)) / np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
    return {"digits raw": (X, y), "digits standardised": (standardised, y)}


def objective(X, y, coef, intercept):
    """sum_n CE_n + 0.5 ||coef||^2 / C, in float64, from the fitted coefficients."""
    z = X @ coef.T + intercept
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(y)), y].sum() + 0.5 / C * np.sum(coef**2))


def fit_nablanet(X, y):
    from nablanet.models import SoftmaxRegression

    model = SoftmaxRegression(C=C).fit(X, y)
    return model.coef_, model.intercept_, int(model.n_iter_)


def fit_sklearn(solver, tol):
    from sklearn.linear_model import LogisticRegression

    def fit(X, y):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = LogisticRegression(C=C, solver=solver, tol=tol, max_iter=10_000).fit(X, y)
        return model.coef_, model.intercept_, int(np.max(model.n_iter_))

    return fit


def solvers():
    out = {"nablanet SoftmaxRegression": fit_nablanet}
    for solver, tight in (("lbfgs", 1e-10), ("newton-cg", 1e-10), ("newton-cholesky", 1e-10)):
        out[f"sklearn {solver} (tol=1e-4, default)"] = fit_sklearn(solver, 1e-4)
        out[f"sklearn {solver} (tol={tight:g})"] = fit_sklearn(solver, tight)
    return out


def run_dataset(X, y, repeats):
    times, fitted = time_fits_interleaved(solvers(), X, y, repeats)
    rows = {}
    for name, (coef, intercept, n_iter) in fitted.items():
        rows[name] = {"median_s": statistics.median(times[name]), "n_iter": n_iter,
                      "objective": objective(X, y, coef, intercept)}
    best = min(row["objective"] for row in rows.values())
    ours = rows["nablanet SoftmaxRegression"]["median_s"]
    for row in rows.values():
        row["relative_excess"] = (row["objective"] - best) / abs(best)
        row["time_over_nablanet"] = row["median_s"] / ours
    at_optimum = [row["median_s"] for name, row in rows.items()
                  if "sklearn" in name and row["relative_excess"] <= OPTIMUM]
    fastest = min(row["median_s"] for name, row in rows.items() if "sklearn" in name)
    return {"rows": rows, "nablanet_over_fastest_sklearn": ours / fastest,
            "nablanet_over_fastest_sklearn_at_optimum":
                ours / min(at_optimum) if at_optimum else None,
            "nablanet_at_optimum": rows["nablanet SoftmaxRegression"]["relative_excess"]
                <= OPTIMUM}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import scipy.linalg  # noqa: F401 - load SciPy's BLAS so that the limit reaches it
    from threadpoolctl import threadpool_limits

    threadpool_limits(args.threads)
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    record = {"C": C, "threads": args.threads, "repeats": args.repeats, "load": load,
              "datasets": {}}
    print(f"load average {' '.join(load)}, BLAS threads {args.threads}")
    for label, (X, y) in datasets().items():
        result = run_dataset(X, y, args.repeats)
        record["datasets"][label] = result
        print(f"\n{label} ({X.shape[0]} x {X.shape[1]}, 10 classes)")
        for name, row in result["rows"].items():
            print(f"  {name:42s} {row['median_s'] * 1e3:8.1f} ms  x{row['time_over_nablanet']:5.2f}"
                  f"  iters {row['n_iter']:5d}  objective {row['objective']:.10e}"
                  f"  rel. excess {row['relative_excess']:.1e}")
        print(f"  nablanet time / fastest scikit-learn (any objective): "
              f"{result['nablanet_over_fastest_sklearn']:.2f}")
        at_optimum = result["nablanet_over_fastest_sklearn_at_optimum"]
        if at_optimum is not None:
            print(f"  nablanet time / fastest scikit-learn within {OPTIMUM:g} of the optimum: "
                  f"{at_optimum:.2f}")
    print(f"wrote {save('softmax_digits', record)}")


if __name__ == "__main__":
    main()
