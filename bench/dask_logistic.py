"""Distributed Newton logistic regression: nablanet vs dask-ml (newton, admm) on one LocalCluster.

Same cluster, same persisted data, same objective for the comparison: every fit's
coefficients are scored on nablanet's objective, sum of log-losses + 0.5 ||w||^2 / C
(intercept unpenalised).  dask-ml's newton solver ignores the penalty and its admm
solver penalises the intercept too; at millions of rows the penalty moves the optimum
very little, and the objective gap to the best fit shows how close each got.

The data are generated block by block on the workers (never one NumPy array on the
client) and persisted there: 5,000,000 x 50 is 2 GB, 1 GB per worker.

Usage: python bench/dask_logistic.py [n_rows] [n_features] [--methods NAME ...]
                                      [--output FILE]
(default 1,000,000 x 50, every method; NAME in nablanet, dask-ml-newton, dask-ml-admm).
Writes bench/results/dask_logistic.json (or FILE under bench/results/).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from _timing import RESULTS, machine

C = 1.0


def make_data(n_rows, n_features, chunk_rows):
    import dask.array as da

    rng = da.random.default_rng(0)
    X = rng.normal(size=(n_rows, n_features), chunks=(chunk_rows, n_features))
    w = np.random.default_rng(1).normal(size=n_features) / np.sqrt(n_features)
    scores = X @ w + 0.3
    y = (rng.random(size=n_rows, chunks=chunk_rows) < 1 / (1 + np.exp(-scores))).astype(int)
    return X.persist(), y.persist()


def objective(X, y, coef, intercept):
    """Sum of log-losses + 0.5 ||w||^2 / C, computed on the cluster."""
    import dask.array as da

    z = X @ coef + intercept
    loss = da.sum(da.logaddexp(0, z) - y * z).compute()
    return float(loss + 0.5 * coef @ coef / C)


def fit_nablanet(X, y):
    from nablanet.models import LogisticRegression

    model = LogisticRegression(C=C).fit(X, y)
    return model.coef_[0], float(model.intercept_[0]), model.n_iter_


def fit_dask_ml(X, y, solver):
    from dask_ml.linear_model import LogisticRegression

    model = LogisticRegression(C=C, solver=solver, max_iter=100).fit(X, y)
    return np.asarray(model.coef_).ravel(), float(model.intercept_), getattr(model, "n_iter_", None)


METHODS = {
    "nablanet": ("nablanet newton", fit_nablanet),
    "dask-ml-newton": ("dask-ml newton", lambda X, y: fit_dask_ml(X, y, "newton")),
    "dask-ml-admm": ("dask-ml admm", lambda X, y: fit_dask_ml(X, y, "admm")),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n_rows", nargs="?", type=int, default=1_000_000)
    parser.add_argument("n_features", nargs="?", type=int, default=50)
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS),
                        help="contenders to run, in this order (default: all)")
    parser.add_argument("--output", default="dask_logistic.json",
                        help="file name under bench/results/ (default: dask_logistic.json)")
    return parser.parse_args(argv)


def main():
    from dask.distributed import Client, LocalCluster, wait

    args = parse_args()
    n_rows, n_features = args.n_rows, args.n_features
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster):
        start = time.perf_counter()
        X, y = make_data(n_rows, n_features, chunk_rows=max(n_rows // 40, 10_000))
        wait([X, y])
        print(f"data {n_rows:,} x {n_features} generated and persisted on the workers in "
              f"{time.perf_counter() - start:.1f} s", flush=True)
        rows = []
        for name, fit in (METHODS[key] for key in args.methods):
            start = time.perf_counter()
            coef, intercept, n_iter = fit(X, y)
            seconds = time.perf_counter() - start
            rows.append({"method": name, "seconds": seconds, "n_iter": n_iter,
                         "objective": objective(X, y, coef, intercept)})
            print(f"{name:16s} {seconds:8.2f} s  iterations {n_iter}  "
                  f"objective {rows[-1]['objective']:.10f}", flush=True)
    best = min(r["objective"] for r in rows)
    base = next((r["seconds"] for r in rows if r["method"] == "nablanet newton"), None)
    for r in rows:
        r["objective_gap"] = r["objective"] - best
        r["time_ratio_vs_nablanet"] = None if base is None else r["seconds"] / base
        ratio = "" if base is None else f"  time x{r['time_ratio_vs_nablanet']:.2f}"
        print(f"{r['method']:16s} gap {r['objective_gap']:.3e}{ratio}")
    RESULTS.mkdir(exist_ok=True)
    record = {"n_rows": n_rows, "n_features": n_features, "C": C, "workers": 2,
              "threads_per_worker": 1, "single_run": True, "methods": args.methods,
              "machine": machine(), "rows": rows}
    (RESULTS / args.output).write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
