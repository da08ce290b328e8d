"""Distributed Newton logistic regression: nablanet vs dask-ml (newton, admm) on one LocalCluster.

Same cluster, same persisted data, same objective for the comparison: every fit's
coefficients are scored on nablanet's objective, sum of log-losses + 0.5 ||w||^2 / C
(intercept unpenalised).  dask-ml's newton solver ignores the penalty and its admm
solver penalises the intercept too; at millions of rows the penalty moves the optimum
very little, and the objective gap to the best fit shows how close each got.

Usage: python bench/dask_logistic.py [n_rows] [n_features]   (default 1,000,000 x 50)
Writes bench/results/dask_logistic.json.
"""

from __future__ import annotations

import json
import sys
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


def main():
    from dask.distributed import Client, LocalCluster, wait

    n_rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    n_features = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster):
        X, y = make_data(n_rows, n_features, chunk_rows=max(n_rows // 40, 10_000))
        wait([X, y])
        rows = []
        for name, fit in [("nablanet newton", fit_nablanet),
                          ("dask-ml newton", lambda X, y: fit_dask_ml(X, y, "newton")),
                          ("dask-ml admm", lambda X, y: fit_dask_ml(X, y, "admm"))]:
            start = time.perf_counter()
            coef, intercept, n_iter = fit(X, y)
            seconds = time.perf_counter() - start
            rows.append({"method": name, "seconds": seconds, "n_iter": n_iter,
                         "objective": objective(X, y, coef, intercept)})
            print(f"{name:16s} {seconds:8.2f} s  iterations {n_iter}  "
                  f"objective {rows[-1]['objective']:.10f}", flush=True)
    best = min(r["objective"] for r in rows)
    base = rows[0]["seconds"]
    for r in rows:
        r["objective_gap"] = r["objective"] - best
        r["time_ratio_vs_nablanet"] = r["seconds"] / base
        ratio = r["time_ratio_vs_nablanet"]
        print(f"{r['method']:16s} gap {r['objective_gap']:.3e}  time x{ratio:.2f}")
    RESULTS.mkdir(exist_ok=True)
    record = {"n_rows": n_rows, "n_features": n_features, "C": C, "workers": 2,
              "threads_per_worker": 1, "single_run": True, "machine": machine(), "rows": rows}
    (RESULTS / "dask_logistic.json").write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
