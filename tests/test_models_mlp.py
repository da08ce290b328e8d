"""MLPClassifier: the notes' network on digits, reproducibility, partial_fit, early stopping."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from nablanet.models import MLPClassifier


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    """Small matrix products run faster on one BLAS thread on this shared 2-core machine."""
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def digits_split():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.25, random_state=0, stratify=y)


def small(**kwargs):
    params = {"hidden_layer_sizes": (16,), "max_epochs": 5, "batch_size": 16,
              "learning_rate": 1e-2, "random_state": 0}
    return MLPClassifier(**{**params, **kwargs})


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 40)
    return rng.standard_normal((120, 4)) + 2.0 * y[:, None], y


def test_notes_network_reaches_97_percent_on_digits_in_seconds(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    # (how many seconds it takes is measured in bench/mlp_digits.py, not asserted here)
    model = MLPClassifier(max_epochs=20, random_state=0).fit(X_train, y_train)
    assert model.score(X_test, y_test) >= 0.97
    layers = [type(m).__name__ for m in model.network_]
    assert layers == ["Linear", "BatchNorm1d", "LeakyReLU", "Dropout", "Linear"]
    assert model.network_[0].weight.dtype == np.float32
    assert model.n_iter_ == 20 and len(model.loss_curve_) == 20
    assert model.loss_curve_[-1] < model.loss_curve_[0] / 5


def test_same_seed_same_training(blobs):
    X, y = blobs
    a, b = small().fit(X, y), small().fit(X, y)
    assert a.loss_curve_ == b.loss_curve_
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = small(random_state=1).fit(X, y)
    assert c.loss_curve_ != a.loss_curve_


def test_partial_fit_runs_one_epoch_per_call_and_continues(blobs):
    X, y = blobs
    model = small()
    for epoch in range(1, 4):
        model.partial_fit(X, y)
        assert model.n_iter_ == epoch and len(model.loss_curve_) == epoch
    # three partial_fit calls are the same training as fit with max_epochs=3
    fitted = small(max_epochs=3).fit(X, y)
    assert fitted.loss_curve_ == model.loss_curve_


def test_partial_fit_with_classes_not_all_in_the_first_batch(blobs):
    X, y = blobs
    model = small().partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])
    model.partial_fit(X, y)
    assert model.predict_proba(X).shape == (120, 3)
    with pytest.raises(ValueError, match="not in classes_"):
        model.partial_fit(X[:5], np.array([0, 1, 2, 3, 0]))


def test_early_stopping_tracks_validation_and_stops(blobs):
    X, y = blobs
    seen = []
    model = small(max_epochs=200, early_stopping=True, n_iter_no_change=3,
                  callback=seen.append).fit(X, y)
    assert model.n_iter_ < 200
    assert len(model.validation_scores_) == model.n_iter_
    assert all(0.0 <= s <= 1.0 for s in model.validation_scores_)
    assert set(seen[0]) == {"epoch", "loss", "val_loss", "val_accuracy"}
    assert seen[-1]["epoch"] == model.n_iter_ and seen[-1]["val_loss"] > 0


def test_float64_training_option(blobs):
    X, y = blobs
    model = small(dtype="float64").fit(X, y)
    assert model.network_[0].weight.dtype == np.float64


def test_gaussian_dropout_replaces_binary_dropout(blobs):
    X, y = blobs
    model = small(gaussian_dropout=0.25).fit(X, y)
    kinds = [type(m).__name__ for m in model.network_]
    assert "GaussianDropout" in kinds and "Dropout" not in kinds
    assert model.score(X, y) > 0.8


def test_newton_cg_decreases_the_full_batch_loss(blobs):
    X, y = blobs
    model = small(optimizer="newton-cg", max_epochs=8, dropout=0.0).fit(X, y)
    assert model.loss_curve_[-1] < 0.5 * model.loss_curve_[0]
    assert model.score(X, y) > 0.9


def test_sgd_optimizer_trains(blobs):
    X, y = blobs
    assert small(optimizer="sgd", max_epochs=20).fit(X, y).score(X, y) > 0.9


def test_binary_decision_function_is_the_log_odds(blobs):
    X, y = blobs
    model = small().fit(X[y < 2], y[y < 2])
    proba = model.predict_proba(X)
    np.testing.assert_allclose(model.decision_function(X), np.log(proba[:, 1] / proba[:, 0]),
                               rtol=1e-6, atol=1e-8)


def test_batch_norm_needs_two_rows_but_a_stray_last_row_is_merged():
    X = np.arange(10.0).reshape(5, 2)
    y = np.array([0, 1, 0, 1, 0])
    small(batch_size=2).fit(X, y)  # batches 2, 3: no batch of one row
    with pytest.raises(ValueError, match="at least 2 samples"):
        small().partial_fit(X[:1], y[:1], classes=[0, 1])


@pytest.mark.parametrize("params, message", [
    ({"optimizer": "rmsprop"}, "optimizer must be one of"),
    ({"hidden_layer_sizes": (0,)}, "hidden_layer_sizes"),
    ({"dropout": 1.0}, "dropout must lie"),
    ({"dtype": "float16"}, "dtype must be one of"),
])
def test_bad_parameters_are_named(blobs, params, message):
    X, y = blobs
    with pytest.raises(ValueError, match=message):
        small(**params).fit(X, y)


def test_verbose_prints_one_line_per_epoch(blobs, capsys):
    X, y = blobs
    small(max_epochs=3, verbose=True).fit(X, y)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch")]
    assert len(lines) == 3


def test_standardize_learns_training_statistics_and_survives_save(tmp_path, blobs):
    import nablanet as nb

    X, y = blobs
    X = X * np.array([1.0, 10.0, 100.0, 1000.0])
    model = small(max_epochs=3).fit(X, y)
    np.testing.assert_allclose(model.mean_, X.mean(axis=0))
    np.testing.assert_allclose(model.scale_, X.std(axis=0))
    model.save(tmp_path / "m.npz")
    loaded = nb.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    raw = small(max_epochs=3, standardize=False).fit(X, y)
    np.testing.assert_array_equal(raw.mean_, 0.0)


def _uncached_proba(model, X):
    """predict_proba from a fresh float64 copy of the network (no cache involved)."""
    import copy

    import nablanet as nb
    from nablanet.ops import softmax

    net = copy.deepcopy(model.network_).astype(np.float64).eval()
    with nb.no_grad():
        out = net((np.asarray(X, dtype=np.float64) - model.mean_) / model.scale_)
    return softmax(np.asarray(getattr(out, "data", out)), axis=1)


@pytest.fixture
def count_conversions(monkeypatch):
    """Number of float64 network copies made (each one calls Module.astype once)."""
    from nablanet.nn import Module

    calls = []
    original = Module.astype

    def counting(module, dtype):
        calls.append(dtype)
        return original(module, dtype)

    monkeypatch.setattr(Module, "astype", counting)
    return calls


def test_repeated_predictions_reuse_one_float64_copy(blobs, count_conversions):
    X, y = blobs
    model = small(max_epochs=2).fit(X, y)
    count_conversions.clear()
    proba = model.predict_proba(X)
    model.predict(X)
    model.decision_function(X[:7])
    np.testing.assert_array_equal(model.predict_proba(X), proba)
    assert len(count_conversions) == 1


def test_prediction_cache_is_invalidated_by_partial_fit(blobs, count_conversions):
    X, y = blobs
    model = small().partial_fit(X, y)
    before = model.predict_proba(X)
    model.partial_fit(X, y)
    after = model.predict_proba(X)
    model.predict_proba(X)
    assert len(count_conversions) == 2  # one copy per training state
    assert not np.array_equal(after, before)
    np.testing.assert_array_equal(after, _uncached_proba(model, X))


def test_prediction_cache_is_invalidated_when_early_stopping_restores_the_best(blobs):
    X, y = blobs
    model = small(max_epochs=60, early_stopping=True, n_iter_no_change=2, learning_rate=0.3)
    last_epoch = {}

    def predict_every_epoch(info):  # fills the cache with each epoch's weights
        last_epoch["proba"] = model.predict_proba(X)

    model.set_params(callback=predict_every_epoch).fit(X, y)
    best = int(np.argmax(model.validation_scores_))
    assert best < model.n_iter_ - 1, "the best epoch must be an earlier one for this test"
    restored = model.predict_proba(X)
    np.testing.assert_array_equal(restored, _uncached_proba(model, X))
    assert not np.array_equal(restored, last_epoch["proba"])


def test_prediction_cache_survives_save_load_and_pickle(tmp_path, blobs):
    import pickle

    import nablanet as nb

    X, y = blobs
    model = small(max_epochs=2).fit(X, y)
    expected = model.predict_proba(X)
    model.save(tmp_path / "m.npz")
    loaded = nb.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)
    loaded.partial_fit(X, y)
    np.testing.assert_array_equal(loaded.predict_proba(X), _uncached_proba(loaded, X))
    clone = pickle.loads(pickle.dumps(model))
    assert clone._eval_copy.network is None  # the cached copy is not pickled
    np.testing.assert_array_equal(clone.predict_proba(X), expected)


def test_log_probabilities_are_finite_and_match_the_probabilities(blobs):
    X, y = blobs
    model = small().fit(X, y)
    np.testing.assert_allclose(np.exp(model.predict_log_proba(X)), model.predict_proba(X),
                               rtol=1e-12, atol=1e-300)
    far = model.predict_log_proba(X[:5] * 1e4)  # probabilities underflow, their logs do not
    assert np.all(np.isfinite(far)) and np.min(far) < -745


def test_classifiers_share_one_set_of_prediction_methods():
    from nablanet.models import LogisticRegression, SoftmaxRegression

    for method in ("decision_function", "predict_proba", "predict_log_proba", "predict"):
        shared = getattr(MLPClassifier, method)
        assert getattr(LogisticRegression, method) is shared
        assert getattr(SoftmaxRegression, method) is shared
