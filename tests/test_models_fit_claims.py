"""Estimators never claim what they did not reach (issue 18): scaling, separation, rank
deficiency, extreme values, divergence, conventions (class_weight, summary, aliases)."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nablanet.models import (
    GaussianDropoutRegressor,
    LogisticRegression,
    MLPClassifier,
    SoftmaxRegression,
)
from nablanet.models._base import DivergenceError
from nablanet.models._stats import RankDeficiencyWarning
from nablanet.optim import ConvergenceWarning


def _logistic_data(n=300, seed=0, coef=(1.0, -0.5, 0.8)):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, len(coef)))
    y = (X @ np.asarray(coef) + 0.3 + rng.logistic(size=n) > 0).astype(int)
    return X, y


def _statsmodels_logit(X, y):
    sm = pytest.importorskip("statsmodels.api")
    return sm.Logit(y, sm.add_constant(X, has_constant="add")).fit(disp=0, method="newton",
                                                                     tol=1e-12)


def _fit_quietly(model, X, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, y, **kwargs)


@pytest.mark.parametrize("factor", [1e12, 1e-12, 1e200, 1e-200])
def test_a_badly_scaled_column_gives_the_statsmodels_fit(factor):
    X, y = _logistic_data()
    reference = _statsmodels_logit(X, y)
    scaled = X.copy()
    scaled[:, 1] *= factor
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning: this fit converges
        model = LogisticRegression(penalty=None).fit(scaled, y)
    assert model.converged_ and model.stop_reason_ in ("gradient", "decrement")
    undo = np.array([1.0, factor, 1.0])
    np.testing.assert_allclose(model.coef_[0] * undo, reference.params[1:], rtol=1e-8)
    np.testing.assert_allclose(model.bse_[:3] * undo, reference.bse[1:], rtol=1e-6)
    np.testing.assert_allclose(model.log_likelihood_, reference.llf, rtol=1e-12)
    np.testing.assert_array_equal(model.predict(scaled), (reference.predict() > 0.5) * 1)


def test_a_badly_scaled_penalised_fit_matches_the_unscaled_one():
    # the penalty is on the user's coefficients, so a 1e6 column is barely penalised
    X, y = _logistic_data()
    scaled = X.copy()
    scaled[:, 0] *= 1e6
    plain = LogisticRegression(C=0.1).fit(X, y)
    ours = LogisticRegression(C=0.1).fit(scaled, y)
    from nablanet.optim import LogisticObjective, newton

    reference = newton(LogisticObjective(scaled / [1e6, 1, 1], y, alpha=[1e1 / 1e12, 10, 10]),
                       np.zeros(4))
    np.testing.assert_allclose(ours.coef_[0] * [1e6, 1, 1], reference.x[:3], rtol=1e-7)
    assert ours.converged_ and plain.converged_


def test_quasi_complete_separation_is_detected_and_named():
    X, y = _logistic_data()
    X[:, 2] = np.where(y == 1, np.abs(X[:, 2]) + 0.1, -np.abs(X[:, 2]) - 0.1)
    # two tied points on the separating plane x2 = 0 (one of each class): no complete
    # separation, yet no finite MLE
    X = np.vstack([X, [[0.3, 0.1, 0.0], [0.3, 0.1, 0.0]]])
    y = np.append(y, [0, 1])
    with pytest.warns(ConvergenceWarning, match=r"quasi-complete separation.*'x2'") as caught:
        model = LogisticRegression(penalty=None).fit(X, y)
    assert caught[0].filename == __file__  # points at this call, not at library lines
    assert model.stop_reason_ == "separation" and not model.converged_
    assert np.all(np.isnan(model.bse_))
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        table = model.summary()
    assert table.header["converged"] is False and "separation" in str(table)


@pytest.mark.parametrize("kind", ["duplicate", "combination", "constant"])
def test_collinear_columns_give_nan_standard_errors_and_name_the_columns(kind):
    X, y = _logistic_data()
    extra = {"duplicate": X[:, 0], "combination": X[:, 0] + 2 * X[:, 1],
             "constant": np.full(len(X), 3.0)}[kind]
    design = np.column_stack([X, extra])
    with pytest.warns(RankDeficiencyWarning, match="'x3'") as caught:
        model = LogisticRegression(penalty=None).fit(design, y)
    assert caught[0].filename == __file__
    reference = _statsmodels_logit(X, y)  # the identified model
    unidentified = {"duplicate": [0, 3], "combination": [0, 1, 3], "constant": [3, 4]}[kind]
    identified = [j for j in range(5) if j not in unidentified]
    assert np.all(np.isnan(model.bse_[unidentified]))
    # ours: (x0, x1, x2, x3, intercept); statsmodels fitted without x3
    ref_bse = np.r_[reference.bse[1:], np.nan, reference.bse[0]]
    ref_coef = np.r_[reference.params[1:], np.nan, reference.params[0]]
    theta = np.append(model.coef_[0], model.intercept_)
    np.testing.assert_allclose(model.bse_[identified], ref_bse[identified], rtol=1e-6)
    np.testing.assert_allclose(theta[identified], ref_coef[identified], rtol=1e-7)
    text = str(model.summary())
    assert "inf" not in text and "nan" in text


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 1000), exponents=st.lists(st.integers(-10, 12), min_size=3,
                                                     max_size=3),
       redundant=st.sampled_from([None, "duplicate", "combination"]))
def test_random_badly_scaled_and_rank_deficient_designs_match_statsmodels(seed, exponents,
                                                                          redundant):
    X, y = _logistic_data(n=200, seed=seed, coef=(0.6, -0.4, 0.5))
    reference = _statsmodels_logit(X, y)
    scales = 10.0 ** np.asarray(exponents, dtype=float)
    design = X * scales
    if redundant == "duplicate":
        design = np.column_stack([design, design[:, 2]])
    elif redundant == "combination":  # of comparable parts, whatever the scales
        parts = design[:, 1] / scales[1] - 3 * design[:, 2] / scales[2]
        design = np.column_stack([design, parts * 10.0 ** exponents[0]])
    model = _fit_quietly(LogisticRegression(penalty=None), design, y)
    assert model.converged_
    identified = [0] if redundant else [0, 1, 2]
    np.testing.assert_allclose(model.coef_[0][identified] * scales[identified],
                               reference.params[1:][identified], rtol=1e-6)
    np.testing.assert_allclose(model.bse_[identified] * scales[identified],
                               reference.bse[1:][identified], rtol=1e-5)
    assert np.all(np.isfinite(model.bse_[identified]))
    if redundant:
        assert np.all(np.isnan(model.bse_[1:4] if redundant == "combination"
                               else model.bse_[[2, 3]]))
    np.testing.assert_allclose(model.intercept_[0], reference.params[0], rtol=1e-6)


def test_softmax_badly_scaled_column_matches_the_unscaled_fit():
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True)
    X = (X[:, :4] - X[:, :4].mean(0)) / X[:, :4].std(0)
    plain = SoftmaxRegression(penalty=None, tol=1e-10).fit(X, y)
    scaled = X * [1e10, 1.0, 1e-9, 1.0]
    ours = SoftmaxRegression(penalty=None, tol=1e-10).fit(scaled, y)
    assert ours.converged_
    np.testing.assert_allclose(ours.coef_ * [1e10, 1.0, 1e-9, 1.0], plain.coef_, rtol=1e-6)
    np.testing.assert_allclose(ours.bse_[:, :4] * [1e10, 1.0, 1e-9, 1.0], plain.bse_[:, :4],
                               rtol=1e-6)


def test_softmax_duplicate_column_is_unidentified():
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True)
    X = (X[:, :3] - X[:, :3].mean(0)) / X[:, :3].std(0)
    with pytest.warns(RankDeficiencyWarning, match="'x0', 'x3'"):
        model = SoftmaxRegression(penalty=None).fit(np.column_stack([X, X[:, 0]]), y)
    assert np.all(np.isnan(model.bse_[:, [0, 3]])) and np.all(np.isfinite(model.bse_[:, 1:3]))


def test_class_weight_equals_the_matching_sample_weights():
    X, y = _logistic_data()
    weights = {0: 3.0, 1: 0.5}
    by_class = LogisticRegression(class_weight=weights).fit(X, y)
    by_sample = LogisticRegression().fit(X, y, sample_weight=np.where(y == 0, 3.0, 0.5))
    np.testing.assert_allclose(by_class.coef_, by_sample.coef_, rtol=1e-10)
    balanced = SoftmaxRegression(class_weight="balanced").fit(X, y)
    share = np.bincount(y) / len(y)
    manual = SoftmaxRegression().fit(X, y, sample_weight=(0.5 / share)[y])
    np.testing.assert_allclose(balanced.coef_, manual.coef_, rtol=1e-10)
    with pytest.raises(ValueError, match="not in the data"):
        LogisticRegression(class_weight={0: 1.0, 7: 2.0}).fit(X, y)


def test_summary_has_a_header_the_intercept_first_and_a_frame_with_dataframe_names():
    pd = pytest.importorskip("pandas")
    X, y = _logistic_data()
    frame = pd.DataFrame(X, columns=["age", "dose", "weight"])
    model = LogisticRegression(penalty=None).fit(frame, y)
    table = model.summary()
    assert table.names == ["intercept", "age", "dose", "weight"]
    text = str(table)
    for word in ("n:", "300", "log-likelihood:", "pseudo R^2", "converged:", "True",
                 "stop reason:", "age", "dose"):
        assert word in text
    assert text.index("intercept") < text.index("age")
    out = table.to_frame()
    assert isinstance(out, pd.DataFrame) and list(out.index) == table.names
    np.testing.assert_allclose(out["std err"].to_numpy(), table.std_err)


def test_summary_after_max_iter_warns_and_says_why():
    X, y = _logistic_data()
    with pytest.warns(ConvergenceWarning, match=r"raise max_iter \(now 1\)"):
        model = LogisticRegression(penalty=None, max_iter=1).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        text = str(model.summary())
    assert "max_iter" in text and "False" in text


def test_gaussian_dropout_closed_form_does_not_depend_on_column_scales():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    y = X @ [1.0, 2.0, -1.0] + 0.5 + 0.1 * rng.standard_normal(200)
    plain = GaussianDropoutRegressor(sigma2=0.3, closed_form=True).fit(X, y)
    for factor in (1e8, 1e-8, 1e200):
        scaled = X * [factor, 1.0, 1.0]
        model = GaussianDropoutRegressor(sigma2=0.3, closed_form=True).fit(scaled, y)
        np.testing.assert_allclose(model.coef_ * [factor, 1, 1], plain.coef_, rtol=1e-9)
        np.testing.assert_allclose(model.intercept_, plain.intercept_, rtol=1e-9)


def test_extreme_values_get_an_error_naming_the_column_where_they_cannot_be_fitted():
    X, y = _logistic_data()
    X[:, 1] *= 1e200
    with pytest.raises(ValueError, match=r"column 1 .*overflow"):
        MLPClassifier(max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match=r"column 1 .*closed_form=True"):
        GaussianDropoutRegressor(max_epochs=1).fit(X, y.astype(float))


def test_divergent_mlp_training_raises_like_sklearn():
    X, y = _logistic_data()
    model = MLPClassifier(hidden_layer_sizes=(8,), optimizer="sgd", learning_rate=1e6,
                          batch_norm=False, dropout=0.0, standardize=False, max_epochs=30,
                          random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the overflow on the way
        with pytest.raises(DivergenceError, match="non-finite parameter weights"):
            model.fit(X * 100, y)
    assert issubclass(DivergenceError, ValueError)


def test_cli_exits_2_on_divergence_and_marks_no_run_completed(tmp_path, capsys):
    import json

    from nablanet.cli.main import main

    out = tmp_path / "run"
    status = main(["train", "--data", "iris", "--solver", "sgd", "--lr", "1e6",
                   "--epochs", "5", "--out", str(out)])
    assert status == 2
    assert "non-finite parameter weights" in capsys.readouterr().err
    assert json.loads((out / "metrics.json").read_text())["status"] != "completed"


def test_mlp_accepts_sklearns_parameter_names():
    X, y = _logistic_data(n=100)
    model = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, learning_rate_init=1e-2,
                          random_state=0).fit(X, y)
    assert model.n_iter_ == 3 and model.optimizer_.param_groups[0]["lr"] == 1e-2
    with pytest.raises(ValueError, match="disagree"):
        MLPClassifier(max_epochs=5, max_iter=3).fit(X, y)


def test_advice_names_the_estimators_parameters():
    X, y = _logistic_data()
    with pytest.warns(ConvergenceWarning, match=r"max_iter.*penalty='l2'"):
        SoftmaxRegression(max_iter=1).fit(X, y)


@pytest.mark.parametrize("estimator", [LogisticRegression, SoftmaxRegression])
def test_tiny_sample_weights_do_not_stop_the_fit_at_the_start(estimator):
    # weights of 1e-20 make every gradient tiny; the minimiser is that of weights 1
    X, y = _logistic_data()
    weights = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    plain = estimator(penalty=None).fit(X, y, sample_weight=weights)
    tiny = estimator(penalty=None).fit(X, y, sample_weight=weights * 1e-20)
    assert tiny.converged_ and tiny.n_iter_ > 1
    np.testing.assert_allclose(tiny.coef_, plain.coef_, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(tiny.bse_ * 1e-10, plain.bse_, rtol=1e-8)
    np.testing.assert_allclose(tiny.objective_value_ * 1e20, plain.objective_value_, rtol=1e-12)


def test_divergent_gaussian_dropout_training_raises():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 2))
    y = X @ [1.0, 2.0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the overflow on the way
        with pytest.raises(DivergenceError, match="non-finite parameter weights"):
            GaussianDropoutRegressor(learning_rate=1e8, max_epochs=10, random_state=0).fit(X, y)
