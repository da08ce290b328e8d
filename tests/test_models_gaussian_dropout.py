"""GaussianDropoutRegressor: noise training converges to claim C5's penalised solution."""

import numpy as np
import pytest

from nablanet.models import GaussianDropoutRegressor
from nablanet.optim import gaussian_dropout_ridge


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 3)) * [1.0, 2.0, 0.5] + [0.5, -1.0, 0.0]
    y = X @ np.array([1.0, -0.5, 2.0]) + 0.7 + 0.1 * rng.standard_normal(300)
    return X, y


def test_closed_form_is_the_notes_formula_without_intercept(data):
    X, y = data
    model = GaussianDropoutRegressor(sigma2=0.5, closed_form=True, fit_intercept=False).fit(X, y)
    # w* = (X^T X + sigma^2 diag(X^T X))^-1 X^T y  (C5)
    np.testing.assert_allclose(model.coef_, gaussian_dropout_ridge(X, y, 0.5), rtol=1e-10)
    assert model.intercept_ == 0.0


def test_closed_form_minimises_the_expected_loss(data):
    X, y = data
    model = GaussianDropoutRegressor(sigma2=0.5, closed_form=True).fit(X, y)
    best = model.expected_loss(X, y)
    rng = np.random.default_rng(1)
    for _ in range(5):
        moved = GaussianDropoutRegressor(sigma2=0.5, closed_form=True).fit(X, y)
        moved.coef_ = model.coef_ + 1e-3 * rng.standard_normal(3)
        moved.intercept_ = model.intercept_ + 1e-3 * rng.standard_normal()
        assert moved.expected_loss(X, y) > best


def test_noise_training_converges_to_the_closed_form(data):
    X, y = data
    exact = GaussianDropoutRegressor(sigma2=0.5, closed_form=True).fit(X, y)
    noisy = GaussianDropoutRegressor(sigma2=0.5, max_epochs=120, random_state=0).fit(X, y)
    np.testing.assert_allclose(noisy.coef_, exact.coef_, atol=0.03)
    assert noisy.intercept_ == pytest.approx(exact.intercept_, abs=0.03)
    # and not to plain least squares, which the noise penalises away from
    plain = GaussianDropoutRegressor(sigma2=0.0, closed_form=True).fit(X, y)
    assert np.abs(noisy.coef_ - plain.coef_).max() > 0.1
    assert noisy.n_iter_ == 120 and len(noisy.loss_curve_) == 120


def test_noise_training_is_reproducible(data):
    X, y = data
    a = GaussianDropoutRegressor(max_epochs=3, random_state=7).fit(X, y)
    b = GaussianDropoutRegressor(max_epochs=3, random_state=7).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)


def test_sample_weight_equals_repetition(data):
    X, y = data
    X, y = X[:40], y[:40]
    weights = np.random.default_rng(2).integers(0, 3, 40)
    weighted = GaussianDropoutRegressor(closed_form=True).fit(X, y, sample_weight=weights)
    repeated = GaussianDropoutRegressor(closed_form=True).fit(np.repeat(X, weights, 0),
                                                               np.repeat(y, weights))
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-10)
    assert weighted.intercept_ == pytest.approx(repeated.intercept_, rel=1e-10)


def test_callback_per_epoch(data):
    X, y = data
    seen = []
    GaussianDropoutRegressor(max_epochs=4, random_state=0, callback=seen.append).fit(X, y)
    assert [s["epoch"] for s in seen] == [1, 2, 3, 4]


@pytest.mark.parametrize("params, message", [
    ({"sigma2": -1.0}, "sigma2"),
    ({"batch_size": 0}, "batch_size"),
    ({"learning_rate": -0.1}, "learning_rate"),
])
def test_bad_parameters_are_named(data, params, message):
    X, y = data
    with pytest.raises(ValueError, match=message):
        GaussianDropoutRegressor(**params).fit(X, y)
