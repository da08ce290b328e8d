"""Dask fits say what in-memory fits say (issue 18): scaling, separation, rank deficiency."""

import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array")

from nablanet.models import LogisticRegression, SoftmaxRegression  # noqa: E402
from nablanet.models._stats import RankDeficiencyWarning  # noqa: E402
from nablanet.optim import ConvergenceWarning  # noqa: E402


def _data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    y = (X @ [1.0, -0.5, 0.8] + 0.3 + rng.logistic(size=n) > 0).astype(int)
    return X, y


def test_dask_fit_of_a_badly_scaled_column_matches_memory():
    X, y = _data()
    X[:, 1] *= 1e12
    memory = LogisticRegression(penalty=None).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        dask = LogisticRegression(penalty=None).fit(da.from_array(X, chunks=100),
                                                    da.from_array(y, chunks=100))
    assert dask.converged_ and memory.converged_
    np.testing.assert_allclose(dask.coef_, memory.coef_, rtol=1e-8)
    np.testing.assert_allclose(dask.bse_, memory.bse_, rtol=1e-6)
    assert dask.n_obs_ == 400
    np.testing.assert_allclose(dask.log_likelihood_, memory.log_likelihood_, rtol=1e-12)


def test_dask_fit_detects_quasi_complete_separation():
    X, y = _data()
    X[:, 2] = np.where(y == 1, np.abs(X[:, 2]) + 0.1, -np.abs(X[:, 2]) - 0.1)
    X = np.vstack([X, [[0.3, 0.1, 0.0], [0.3, 0.1, 0.0]]])
    y = np.append(y, [0, 1])
    with pytest.warns(ConvergenceWarning, match=r"quasi-complete separation.*'x2'"):
        model = LogisticRegression(penalty=None).fit(da.from_array(X, chunks=101),
                                                     da.from_array(y, chunks=101))
    assert model.stop_reason_ == "separation" and not model.converged_
    assert np.all(np.isnan(model.bse_))


def test_dask_fit_names_unidentified_columns():
    X, y = _data()
    design = np.column_stack([X, X[:, 0]])
    with pytest.warns(RankDeficiencyWarning, match="'x0', 'x3'"):
        model = SoftmaxRegression(penalty=None).fit(da.from_array(design, chunks=100),
                                                    da.from_array(y, chunks=100))
    assert np.all(np.isnan(model.bse_[:, [0, 3]])) and np.all(np.isfinite(model.bse_[:, 1:3]))
