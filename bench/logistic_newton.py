"""Time to the optimum of L2 logistic regression: nablanet Newton vs scikit-learn, same run.

Problem: n = 200,000, d = 100 synthetic (seed 0), objective
sum_n log-loss + 0.5 ||w||^2 / C with C = 1 and an unpenalised intercept
(scikit-learn's objective up to the factor n).  Each solver is timed from raw
arrays to fitted weights (median of REPEATS interleaved runs); objectives are compared with
the best one found.  Writes bench/results/logistic_newton.json.

Run: python bench/logistic_newton.py [--threads K]
(--threads limits every BLAS pool, NumPy's and SciPy's, through threadpoolctl, for all
solvers alike; on a shared, loaded machine one thread per process is the stable setting.)
"""

import argparse
import contextlib
import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np

from nablanet.optim import LogisticObjective, newton

N, D, C, REPEATS, SEED = 200_000, 100, 1.0, 5, 0


def make_data():
    rng = np.random.default_rng(SEED)
    X = rng.standard_normal((N, D))
    X[:, 1::2] += 0.5 * X[:, ::2]  # some correlation between features
    w = rng.standard_normal(D) / np.sqrt(D) * 2
    p = 1 / (1 + np.exp(-(X @ w + 0.5)))
    return X, (rng.random(N) < p).astype(float)


def fit_nablanet(X, y):
    obj = LogisticObjective(X, y, alpha=1.0 / C)
    result = newton(obj, np.zeros(D + 1))
    return result.x, {"n_iter": result.n_iter, "stop_reason": result.stop_reason}


def fit_sklearn(solver, tol):
    from sklearn.linear_model import LogisticRegression

    def fit(X, y):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = LogisticRegression(C=C, solver=solver, tol=tol, max_iter=10_000).fit(X, y)
        theta = np.append(model.coef_.ravel(), model.intercept_)
        return theta, {"n_iter": int(model.n_iter_[0])}

    return fit


def time_solvers(solvers, X, y):
    """Median wall time per solver; repeats are interleaved so load drift hits all alike."""
    times = {name: [] for name in solvers}
    fitted = {}
    for _ in range(REPEATS):
        for name, fit in solvers.items():
            start = time.perf_counter()
            fitted[name] = fit(X, y)
            times[name].append(time.perf_counter() - start)
    return times, fitted


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads (all pools)")
    threads = parser.parse_args().threads
    if threads is None:
        limit = contextlib.nullcontext()
    else:
        from threadpoolctl import threadpool_limits

        limit = threadpool_limits(threads)
    with limit:
        run(threads)


def run(threads):
    X, y = make_data()
    objective = LogisticObjective(X, y, alpha=1.0 / C)
    solvers = {
        "nablanet newton": fit_nablanet,
        "sklearn newton-cholesky (tol=1e-4, default)": fit_sklearn("newton-cholesky", 1e-4),
        "sklearn newton-cholesky (tol=1e-8)": fit_sklearn("newton-cholesky", 1e-8),
        "sklearn lbfgs (tol=1e-4, default)": fit_sklearn("lbfgs", 1e-4),
        "sklearn lbfgs (tol=1e-10)": fit_sklearn("lbfgs", 1e-10),
    }
    times, fitted = time_solvers(solvers, X, y)
    rows = {}
    for name, (theta, info) in fitted.items():
        rows[name] = {"median_s": float(np.median(times[name])), "times_s": times[name],
                      "objective": objective.value(theta), **info}
    best = min(row["objective"] for row in rows.values())
    ours = rows["nablanet newton"]["median_s"]
    for name, row in rows.items():
        row["relative_excess"] = (row["objective"] - best) / abs(best)
        row["time_vs_nablanet"] = row["median_s"] / ours
        print(f"{name:45s} {row['median_s']:7.3f} s  x{row['time_vs_nablanet']:5.2f}  "
              f"objective {row['objective']:.12e}  rel. excess {row['relative_excess']:.1e}  "
              f"iters {row['n_iter']}")
    out = {"problem": {"n": N, "d": D, "C": C, "seed": SEED, "repeats": REPEATS},
           "blas_threads": threads if threads is not None else "default",
           "machine": {"python": platform.python_version(), "numpy": np.__version__,
                       "processor": platform.processor() or platform.machine()},
           "solvers": rows}
    path = Path(__file__).parent / "results" / "logistic_newton.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
