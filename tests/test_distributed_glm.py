"""Distributed Newton fits on a 2-worker LocalCluster equal the in-memory Newton fit."""

import os
import signal
import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("dask.distributed")

from nablanet.data import DataError  # noqa: E402
from nablanet.distributed import fit_newton, read_npz_shards  # noqa: E402
from nablanet.models import LogisticRegression, SoftmaxRegression  # noqa: E402
from nablanet.optim import (  # noqa: E402
    ConvergenceWarning,
    LogisticObjective,
    SoftmaxObjective,
    newton,
)

MEMORY_LIMIT = 400e6  # bytes per worker in the out-of-core test


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            yield client


@pytest.fixture
def small_memory_client(client):
    """Two workers of MEMORY_LIMIT bytes each; the nanny kills a worker at 95% of it."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  memory_limit=MEMORY_LIMIT, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as small:
            yield small


def _data(rng, n=3000, d=5, n_classes=2):
    X = rng.normal(size=(n, d)) * np.linspace(0.5, 2.0, d)
    scores = X @ rng.normal(size=(d, n_classes)) + rng.gumbel(size=(n, n_classes)) * 2.0
    return X, scores.argmax(axis=1)


def _in_memory(X, y, multinomial, C, fit_intercept):
    """Coefficients (K', d) and intercepts (K',) of nablanet's in-memory Newton fit, run
    to the gradient tolerance (decrement_tol=0): the estimators' default decrement rule
    can stop ~1e-8 short of the optimum, which is the very scale compared here."""
    alpha = 0.0 if C is None else 1.0 / C
    if not multinomial:
        objective = LogisticObjective(X, y, alpha=alpha, fit_intercept=fit_intercept)
        theta = newton(objective, np.zeros(objective.n_params), tol=1e-9, decrement_tol=0).x
        return theta[None, : X.shape[1]], np.array([theta[-1] if fit_intercept else 0.0])
    objective = SoftmaxObjective(X, y, alpha=alpha, fit_intercept=fit_intercept)
    theta = newton(objective, np.zeros(objective.n_params), tol=1e-9, decrement_tol=0).x
    full = objective.coefficients(theta)
    if alpha == 0:
        full = full - full.mean(axis=0)  # the estimator's symmetric form, as fit_newton's
    return full[:, : X.shape[1]], (full[:, -1] if fit_intercept else np.zeros(len(full)))


@pytest.mark.parametrize("multinomial", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("C", [0.5, None])
def test_matches_in_memory_newton(client, rng, multinomial, fit_intercept, C):
    X, y = _data(rng, n_classes=3 if multinomial else 2)
    chunks = (700, 900, 400, 1000)  # uneven row blocks on purpose
    result = fit_newton(da.from_array(X, chunks=(chunks, 5)), da.from_array(y, chunks=(chunks,)),
                        multinomial=multinomial, C=C, fit_intercept=fit_intercept, tol=1e-10)
    coef, intercept = _in_memory(X, y, multinomial, C, fit_intercept)
    assert result["converged"], result["message"]
    np.testing.assert_allclose(result["coef"], coef, atol=1e-8, rtol=0)
    np.testing.assert_allclose(result["intercept"], intercept, atol=1e-8, rtol=0)
    # one fused pass per iteration, plus the first evaluation and any backtracking
    backtracked = int(np.sum(result["trace"]["step_length"] < 1))
    assert result["n_passes"] <= result["n_iter"] + 1 + 2 * backtracked


def test_threaded_scheduler_gives_the_same_fit(client, rng):
    import dask

    X, y = _data(rng)
    Xd, yd = da.from_array(X, chunks=(1000, 5)), da.from_array(y, chunks=1000)
    on_cluster = fit_newton(Xd, yd, multinomial=False, tol=1e-10)
    with dask.config.set(scheduler="threads"):
        threaded = fit_newton(Xd, yd, multinomial=False, tol=1e-10)
    np.testing.assert_allclose(threaded["coef"], on_cluster["coef"], atol=1e-12)


def test_string_labels_and_column_chunks(client, rng):
    X, y = _data(rng)
    names = np.array(["no", "yes"])[y]
    result = fit_newton(da.from_array(X, chunks=(1000, 2)), da.from_array(names, chunks=1000),
                        multinomial=False, tol=1e-10)
    assert list(result["classes"]) == ["no", "yes"]
    np.testing.assert_allclose(result["coef"], _in_memory(X, y, False, 1.0, True)[0], atol=1e-8)


def test_separable_data_warns_like_in_memory(client):
    X = np.linspace(-2, 2, 400)[:, None] + 0.05 * np.sign(np.linspace(-2, 2, 400))[:, None]
    y = (X[:, 0] > 0).astype(int)
    with pytest.warns(ConvergenceWarning, match="separable"):
        result = fit_newton(da.from_array(X, chunks=100), da.from_array(y, chunks=100),
                            multinomial=False, C=None)
    assert result["stop_reason"] == "separation" and not result["converged"]
    with pytest.warns(ConvergenceWarning, match="separable"):
        assert LogisticRegression(penalty=None).fit(X, y).stop_reason_ == "separation"


def test_max_iter_warns(client, rng):
    X, y = _data(rng)
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        result = fit_newton(da.from_array(X, chunks=1000), da.from_array(y, chunks=1000),
                            multinomial=False, max_iter=1)
    assert result["stop_reason"] == "max_iter" and result["n_iter"] == 1


def test_nan_in_one_block_names_the_block(client, rng):
    X, y = _data(rng)
    X[2345, 3] = np.nan
    with pytest.raises(DataError, match=r"block 2 \(rows 2000 to 2999\).*row 2345, column 3"):
        fit_newton(da.from_array(X, chunks=1000), da.from_array(y, chunks=1000),
                   multinomial=False)


def test_inconsistent_chunks_are_reported(client, rng):
    X, y = _data(rng)
    with pytest.raises(DataError, match="chunked alike.*y.rechunk"):
        fit_newton(da.from_array(X, chunks=1000), da.from_array(y, chunks=700),
                   multinomial=False)
    with pytest.raises(DataError, match="same number of rows"):
        fit_newton(da.from_array(X, chunks=1000), da.from_array(y[:-1], chunks=1000),
                   multinomial=False)


def _write_shards(folder, X, y, copies, rng):
    """``copies`` shards, each a fresh row permutation of (X, y); returns total bytes."""
    total = 0
    for i in range(copies):
        order = rng.permutation(len(y))
        path = folder / f"shard-{i:03d}.npz"
        np.savez(path, X=X[order], y=y[order])
        total += path.stat().st_size
    return total


def _worker_pids(client):
    return client.run(os.getpid)


def test_out_of_core_fit_on_shards_larger_than_worker_memory(small_memory_client, tmp_path,
                                                            rng):
    # 52 shards of 40,000 x 30 float64 (9.6 MB each, ~500 MB on disk) against 400 MB per
    # worker (at 250 MB, dask 2026.11 paused a worker at 80% and the fit hung).  Every
    # shard is a row permutation of one base sample, so the full objective is `copies`
    # times the base one and the fit must equal the in-memory fit of the base sample
    # with C * copies.
    copies, C = 52, 0.01
    X, y = _data(rng, n=40_000, d=30)
    on_disk = _write_shards(tmp_path, X, y, copies, rng)
    assert on_disk > 1.2 * MEMORY_LIMIT
    pids = _worker_pids(small_memory_client)
    Xd, yd = read_npz_shards(tmp_path / "shard-*.npz")
    result = fit_newton(Xd, yd, multinomial=False, C=C, tol=1e-8)
    assert _worker_pids(small_memory_client) == pids  # no worker was killed or restarted
    coef, intercept = _in_memory(X, y, False, C * copies, True)
    np.testing.assert_allclose(result["coef"], coef, atol=1e-8, rtol=0)
    np.testing.assert_allclose(result["intercept"], intercept, atol=1e-8, rtol=0)


def test_worker_killed_mid_fit_gives_the_correct_fit(client, rng):
    X, y = _data(rng, n=4000, n_classes=3)
    Xd = da.from_array(X, chunks=(500, 5)).persist()  # blocks live on both workers
    yd = da.from_array(y, chunks=500).persist()
    distributed.wait([Xd, yd])
    before = _worker_pids(client)
    killed = []

    def kill_a_worker(info):
        if info["iteration"] == 2:
            address, pid = sorted(before.items())[0]
            os.kill(pid, signal.SIGKILL)  # its blocks are lost and must be recomputed
            killed.append(address)

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        result = fit_newton(Xd, yd, multinomial=True, C=1.0, tol=1e-10, callback=kill_a_worker)
    assert killed
    assert set(_worker_pids(client).values()) != set(before.values())
    coef, intercept = _in_memory(X, y, True, 1.0, True)
    np.testing.assert_allclose(result["coef"], coef, atol=1e-8, rtol=0)
    np.testing.assert_allclose(result["intercept"], intercept, atol=1e-8, rtol=0)
    client.wait_for_workers(2, timeout=30)


@pytest.mark.parametrize("multinomial", [False, True])
def test_estimators_fit_dask_arrays_and_predict_lazily(client, rng, multinomial):
    X, y = _data(rng, n=2000, n_classes=3 if multinomial else 2)
    Estimator = SoftmaxRegression if multinomial else LogisticRegression
    Xd, yd = da.from_array(X, chunks=500), da.from_array(y, chunks=500)
    seen = []
    on_cluster = Estimator(C=2.0, callback=seen.append).fit(Xd, yd)
    in_memory = Estimator(C=2.0).fit(X, y)
    np.testing.assert_allclose(on_cluster.coef_, in_memory.coef_, atol=1e-7)
    np.testing.assert_allclose(on_cluster.intercept_, in_memory.intercept_, atol=1e-7)
    assert on_cluster.stop_reason_ in ("gradient", "decrement", "step_size", "roundoff")
    assert on_cluster.n_iter_ == len(on_cluster.history_) == len(seen) > 0
    assert set(on_cluster.history_[0]) == set(in_memory.history_[0])
    np.testing.assert_array_equal(on_cluster.classes_, in_memory.classes_)
    assert on_cluster.objective_value_ == pytest.approx(in_memory.objective_value_, rel=1e-12)
    lazy = on_cluster.predict_proba(Xd)
    assert isinstance(lazy, da.Array) and lazy.chunks[0] == Xd.chunks[0]
    np.testing.assert_allclose(lazy.compute(), in_memory.predict_proba(X), atol=1e-7)
    np.testing.assert_array_equal(on_cluster.predict(Xd).compute(), on_cluster.predict(X))
    np.testing.assert_allclose(on_cluster.decision_function(Xd).compute(),
                               on_cluster.decision_function(X), atol=1e-12)


def test_unpenalised_logistic_has_standard_errors(client, rng):
    X, y = _data(rng, n=2000)
    on_cluster = LogisticRegression(penalty=None).fit(da.from_array(X, chunks=500),
                                                      da.from_array(y, chunks=500))
    in_memory = LogisticRegression(penalty=None).fit(X, y)
    np.testing.assert_allclose(on_cluster.bse_, in_memory.bse_, rtol=1e-6)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_unpenalised_softmax_has_the_in_memory_covariance(client, rng, fit_intercept):
    X, y = _data(rng, n=1500, d=4, n_classes=4)
    Xd, yd = da.from_array(X, chunks=250), da.from_array(y, chunks=250)  # six blocks
    on_cluster = SoftmaxRegression(penalty=None, fit_intercept=fit_intercept).fit(Xd, yd)
    in_memory = SoftmaxRegression(penalty=None, fit_intercept=fit_intercept).fit(X, y)
    scale = np.abs(in_memory.covariance_).max()
    np.testing.assert_allclose(on_cluster.covariance_, in_memory.covariance_, rtol=1e-8,
                               atol=1e-8 * scale)
    np.testing.assert_allclose(on_cluster.bse_, in_memory.bse_, rtol=1e-8)
    # the centred covariance is singular along the class shift (C7: H 1 = 0), as in memory
    width = X.shape[1] + fit_intercept
    shift = np.kron(np.ones(4), np.eye(width)[0])
    np.testing.assert_allclose(on_cluster.covariance_ @ shift, 0.0, atol=1e-12 * scale)
    for reference_class in (None, 2):
        ours = on_cluster.summary(reference_class=reference_class)
        theirs = in_memory.summary(reference_class=reference_class)
        assert ours.names == theirs.names
        for column in ("coef", "std_err", "z", "conf_int"):
            np.testing.assert_allclose(getattr(ours, column), getattr(theirs, column),
                                       rtol=1e-7, atol=1e-9)


def test_penalised_softmax_on_dask_has_no_standard_errors(client, rng):
    X, y = _data(rng, n=600, n_classes=3)
    model = SoftmaxRegression(C=1.0).fit(da.from_array(X, chunks=200),
                                         da.from_array(y, chunks=200))
    assert model.bse_ is None and model.covariance_ is None
    with pytest.raises(ValueError, match="unpenalised"):
        model.summary()


def test_separable_softmax_on_dask_stops_like_in_memory(client):
    centres = ([0, 0], [3, 0], [0, 3])
    X = np.vstack([np.random.default_rng(0).normal(c, 0.1, (20, 2)) for c in centres])
    y = np.repeat([0, 1, 2], 20)
    with pytest.warns(ConvergenceWarning, match="separable"):
        in_memory = SoftmaxRegression(penalty=None).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="separable"):
        on_cluster = SoftmaxRegression(penalty=None).fit(da.from_array(X, chunks=15),
                                                         da.from_array(y, chunks=15))
    assert on_cluster.stop_reason_ == in_memory.stop_reason_ == "separation"
    assert on_cluster.n_iter_ == in_memory.n_iter_
    assert on_cluster.score(X, y) == 1.0
    # the standard errors at the stopping point exist on both paths (same layout)
    assert on_cluster.bse_.shape == in_memory.bse_.shape == (3, 3)
    np.testing.assert_allclose(on_cluster.bse_, in_memory.bse_, rtol=1e-4)


def test_estimator_rejects_what_it_cannot_do(client, rng):
    X, y = _data(rng, n=400)
    Xd, yd = da.from_array(X, chunks=100), da.from_array(y, chunks=100)
    with pytest.raises(ValueError, match="solver='gd' is not available for dask"):
        LogisticRegression(solver="gd").fit(Xd, yd)
    with pytest.raises(ValueError, match="sample_weight is not supported"):
        LogisticRegression().fit(Xd, yd, sample_weight=np.ones(400))
