"""LogisticRegression: scikit-learn's optimum, Newton's speed, standard errors, honesty."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from threadpoolctl import threadpool_limits

from nablanet.models import LogisticRegression
from nablanet.optim import ConvergenceWarning


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    """NumPy's and SciPy's BLAS pools fight on 2 cores (DESIGN.md): keep the fits on one."""
    with threadpool_limits(1):
        yield


def penalised_objective(X, y, coef, intercept, C=1.0):
    """scikit-learn's objective scaled by 1/C: sum of log-losses + ||w||^2 / (2C)."""
    z = X @ np.ravel(coef) + intercept
    return np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 / C * np.sum(np.square(coef))


@pytest.fixture(scope="module")
def cancer():
    return load_breast_cancer(return_X_y=True)


@pytest.fixture(scope="module")
def cancer_fit(cancer):
    X, y = cancer
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no convergence warning on the unscaled data
        return LogisticRegression(C=1.0).fit(X, y)


def test_same_optimum_as_sklearn_on_unscaled_breast_cancer(cancer, cancer_fit):
    from sklearn.linear_model import LogisticRegression as SkLogistic

    X, y = cancer
    reference = SkLogistic(C=1.0, solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(X, y)
    ours = penalised_objective(X, y, cancer_fit.coef_, cancer_fit.intercept_[0])
    theirs = penalised_objective(X, y, reference.coef_, reference.intercept_[0])
    assert ours <= theirs * (1 + 1e-8)
    assert abs(ours - theirs) <= 1e-8 * abs(theirs)
    assert cancer_fit.objective_value_ == pytest.approx(ours, rel=1e-12)
    assert cancer_fit.stop_reason_ in ("gradient", "decrement", "step_size", "roundoff")


def test_fewer_iterations_than_lbfgs(cancer, cancer_fit):
    from sklearn.linear_model import LogisticRegression as SkLogistic

    X, y = cancer
    optimum = penalised_objective(X, y, cancer_fit.coef_, cancer_fit.intercept_[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lbfgs = SkLogistic(C=1.0, solver="lbfgs", tol=1e-10, max_iter=20000).fit(X, y)
    reached = penalised_objective(X, y, lbfgs.coef_, lbfgs.intercept_[0])
    # lbfgs needs thousands of iterations to come within 1e-7 of Newton's optimum
    assert reached >= optimum * (1 - 1e-12)
    assert cancer_fit.n_iter_ <= 15 < lbfgs.n_iter_[0]


def test_history_records_the_trace(cancer_fit):
    history = cancer_fit.history_
    assert len(history) == cancer_fit.n_iter_
    assert set(history[0]) == {"loss", "grad_norm", "decrement", "step_norm", "damping",
                               "step_length"}
    losses = [h["loss"] for h in history]
    assert all(a >= b for a, b in zip(losses, losses[1:]))
    assert history[-1]["grad_norm"] < history[0]["grad_norm"] * 1e-6


def test_standard_errors_match_statsmodels():
    sm = pytest.importorskip("statsmodels.api")
    data = sm.datasets.spector.load_pandas()  # Spector & Mazzeo (1980), as in Greene
    X, y = data.exog.to_numpy(), data.endog.to_numpy()
    model = LogisticRegression(penalty=None).fit(X, y)
    reference = sm.Logit(y, sm.add_constant(X)).fit(disp=0)
    ours = np.append(model.intercept_, model.coef_[0])
    np.testing.assert_allclose(ours, reference.params, rtol=1e-6)
    bse = np.append(model.bse_[-1], model.bse_[:-1])
    np.testing.assert_allclose(bse, reference.bse, rtol=1e-6)
    table = model.summary(feature_names=list(data.exog.columns))
    # intercept first, as statsmodels' add_constant
    assert table.names == ["intercept", *data.exog.columns]
    np.testing.assert_allclose(table.coef, reference.params, rtol=1e-6)
    np.testing.assert_allclose(table.p_values, reference.pvalues, rtol=1e-5)
    text = str(table)
    assert "GPA" in text and "intercept" in text and "P>|z|" in text
    assert model.n_obs_ == 32 and model.converged_
    np.testing.assert_allclose(model.log_likelihood_, reference.llf, rtol=1e-10)
    np.testing.assert_allclose(table.header["pseudo R^2 (McFadden)"], reference.prsquared,
                               rtol=1e-8)
    for line in ("n:", "log-likelihood:", "pseudo R^2", "converged:", "stop reason:"):
        assert line in text
    frame = table.to_frame()
    assert list(frame.index) == table.names and frame.loc["GPA", "coef"] == table.coef[1]


def test_summary_needs_an_unpenalised_fit():
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    model = LogisticRegression().fit(X, [0, 1, 0, 1])
    assert model.bse_ is None
    with pytest.raises(ValueError, match="penalty=None"):
        model.summary()


def test_separable_data_warns_and_stays_finite():
    X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    y = np.array([0, 0, 1, 1])
    with pytest.warns(ConvergenceWarning, match="separable"):
        model = LogisticRegression(penalty=None).fit(X, y)
    assert model.stop_reason_ == "separation"
    assert np.all(np.isfinite(model.coef_))
    np.testing.assert_array_equal(model.predict(X), y)


@pytest.mark.parametrize("solver, max_iter", [("newton-cg", 100), ("gd", 20000)])
def test_other_solvers_reach_the_newton_optimum(solver, max_iter):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    y = (X @ [1.0, -1.0, 0.5] + rng.standard_normal(200) > 0).astype(int)
    newton = LogisticRegression().fit(X, y)
    other = LogisticRegression(solver=solver, tol=1e-6, max_iter=max_iter).fit(X, y)
    np.testing.assert_allclose(other.coef_, newton.coef_, atol=1e-5)
    assert other.objective_value_ == pytest.approx(newton.objective_value_, rel=1e-9)


def test_gd_warns_when_out_of_iterations(cancer):
    X, y = cancer
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        model = LogisticRegression(solver="gd", max_iter=5).fit(X, y)
    assert model.stop_reason_ == "max_iter" and model.n_iter_ == 5


def test_callback_and_verbose(capsys):
    X = np.array([[0.0], [1.0], [2.0], [3.0], [1.5]])
    seen = []
    model = LogisticRegression(callback=seen.append, verbose=True).fit(X, [0, 0, 1, 1, 0])
    assert [info["iteration"] for info in seen] == list(range(1, model.n_iter_ + 1))
    assert set(seen[0]) == {"iteration", "loss", "grad_norm"}
    assert seen[-1]["loss"] == pytest.approx(model.objective_value_)
    assert capsys.readouterr().out.count("iter") == model.n_iter_


def test_sample_weight_equals_repetition():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((30, 2))
    y = (X[:, 0] + rng.standard_normal(30) > 0).astype(int)
    weights = rng.integers(0, 3, 30)
    weighted = LogisticRegression().fit(X, y, sample_weight=weights)
    repeated = LogisticRegression().fit(np.repeat(X, weights, 0), np.repeat(y, weights))
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-8)


def test_string_labels_and_probabilities():
    X = np.array([[0.0], [1.0], [2.0], [3.0], [1.5]])
    y = np.array(["no", "no", "yes", "yes", "no"])
    model = LogisticRegression().fit(X, y)
    np.testing.assert_array_equal(model.classes_, ["no", "yes"])
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-model.decision_function(X))))
    np.testing.assert_allclose(model.predict_log_proba(X), np.log(proba))


@pytest.mark.parametrize("params, message", [
    ({"C": 0.0}, "C must be a positive"),
    ({"penalty": "l1"}, "penalty must be one of"),
    ({"solver": "lbfgs"}, "solver must be one of"),
])
def test_bad_parameters_are_named(params, message):
    with pytest.raises(ValueError, match=message):
        LogisticRegression(**params).fit([[0.0], [1.0]], [0, 1])


def test_nan_input_is_rejected():
    with pytest.raises(ValueError, match="NaN"):
        LogisticRegression().fit([[0.0], [np.nan]], [0, 1])
