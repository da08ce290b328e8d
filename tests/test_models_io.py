"""Model files: identical predictions after load, clear errors, atomic saves, no code run."""

import io
import pickle
import zipfile

import numpy as np
import pytest

import nablanet
from nablanet.models import (
    GaussianDropoutRegressor,
    LogisticRegression,
    MLPClassifier,
    ModelFileError,
    SoftmaxRegression,
    load,
)
from nablanet.models import io as model_io


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 30)
    return rng.standard_normal((90, 3)) + y[:, None], y


def fitted(name, X, y):
    if name == "logistic":
        return LogisticRegression(penalty=None).fit(X[y < 2], y[y < 2])
    if name == "softmax":
        return SoftmaxRegression(C=3.0).fit(X, y)
    if name == "mlp":
        return MLPClassifier(hidden_layer_sizes=(8,), max_epochs=3, batch_size=16,
                             random_state=0).fit(X, y)
    return GaussianDropoutRegressor(max_epochs=3, random_state=0).fit(X, y.astype(float))


@pytest.mark.parametrize("name", ["logistic", "softmax", "mlp", "gaussian"])
def test_save_load_predict_identical(name, data, tmp_path):
    X, y = data
    model = fitted(name, X, y)
    path = model.save(tmp_path / "model.npz")
    again = load(path)
    assert type(again) is type(model)
    assert again.get_params() == {**model.get_params(), "callback": None}
    methods = ["predict", "predict_proba", "decision_function"] if name != "gaussian" else [
        "predict"]
    for method in methods:
        np.testing.assert_array_equal(getattr(again, method)(X), getattr(model, method)(X))
    # pickling works too
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).predict(X), model.predict(X))


def test_linear_model_file_keeps_trace_and_standard_errors(data, tmp_path):
    X, y = data
    model = fitted("logistic", X, y)
    again = load(model.save(tmp_path / "m.npz"))
    assert again.history_ == model.history_ and again.stop_reason_ == model.stop_reason_
    np.testing.assert_array_equal(again.bse_, model.bse_)
    assert str(again.summary()) == str(model.summary())


def test_mlp_resumes_training_bit_for_bit(data, tmp_path):
    X, y = data
    model = MLPClassifier(hidden_layer_sizes=(8,), batch_size=16, random_state=3)
    for _ in range(2):
        model.partial_fit(X, y)
    resumed = load(model.save(tmp_path / "mlp.npz"))
    for _ in range(2):
        model.partial_fit(X, y)
        resumed.partial_fit(X, y)
    assert resumed.loss_curve_ == model.loss_curve_ and resumed.n_iter_ == 4
    for key, value in model.network_.state_dict().items():
        np.testing.assert_array_equal(resumed.network_.state_dict()[key], value, err_msg=key)


def test_top_level_names():
    assert nablanet.load is load
    assert nablanet.LogisticRegression is LogisticRegression
    assert nablanet.MLPClassifier is MLPClassifier


def test_truncated_file_is_a_clear_error(data, tmp_path):
    X, y = data
    path = fitted("softmax", X, y).save(tmp_path / "m.npz")
    blob = open(path, "rb").read()
    open(path, "wb").write(blob[: len(blob) // 2])
    with pytest.raises(ModelFileError, match="truncated or corrupted"):
        load(path)


def _rewrite_entry(path, name, array):
    """Replace one array in the archive, keeping a valid ZIP (a deliberate tamper)."""
    with zipfile.ZipFile(path) as archive:
        entries = {n: archive.read(n) for n in archive.namelist()}
    buffer = io.BytesIO()
    np.save(buffer, array)
    entries[name + ".npy"] = buffer.getvalue()
    with zipfile.ZipFile(path, "w") as archive:
        for n, content in entries.items():
            archive.writestr(n, content)


def test_tampered_array_is_detected(data, tmp_path):
    X, y = data
    model = fitted("softmax", X, y)
    path = model.save(tmp_path / "m.npz")
    _rewrite_entry(path, "coef", model.coef_ * 2)
    with pytest.raises(ModelFileError, match="digest"):
        load(path)


def test_flipped_byte_is_detected(data, tmp_path):
    X, y = data
    path = fitted("logistic", X, y).save(tmp_path / "m.npz")
    blob = bytearray(open(path, "rb").read())
    blob[len(blob) // 3] ^= 0xFF
    open(path, "wb").write(bytes(blob))
    with pytest.raises(ModelFileError):
        load(path)


def test_pickled_objects_are_never_loaded(data, tmp_path):
    X, y = data
    path = fitted("logistic", X, y).save(tmp_path / "m.npz")
    _rewrite_entry(path, "coef", np.array([object()], dtype=object))
    with pytest.raises(ModelFileError):
        load(path)


def test_not_a_model_file(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, x=np.zeros(3))
    with pytest.raises(ModelFileError, match="not a nablanet model file"):
        load(path)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.npz")


def test_interrupted_save_leaves_the_previous_file_intact(data, tmp_path, monkeypatch):
    X, y = data
    first = fitted("softmax", X, y)
    path = first.save(tmp_path / "m.npz")
    before = open(path, "rb").read()

    def failing_savez(handle, **arrays):
        handle.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full")

    monkeypatch.setattr(model_io.np, "savez", failing_savez)
    with pytest.raises(OSError, match="disk full"):
        SoftmaxRegression(C=0.1).fit(X, y).save(path)
    monkeypatch.undo()
    assert open(path, "rb").read() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary left behind
    np.testing.assert_array_equal(load(path).predict_proba(X), first.predict_proba(X))


def test_unsaveable_parameter_is_named(data, tmp_path):
    X, y = data
    model = MLPClassifier(hidden_layer_sizes=(4,), max_epochs=1,
                          random_state=np.random.default_rng(0)).fit(X, y)
    with pytest.raises(TypeError, match="random_state"):
        model.save(tmp_path / "m.npz")


def test_saving_an_unfitted_model_fails():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        LogisticRegression().save("never.npz")


def test_feature_names_survive_the_file(data, tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = data
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    model = SoftmaxRegression().fit(frame, y)
    again = load(model.save(tmp_path / "m.npz"))
    assert again.feature_names_in_.tolist() == ["a", "b", "c"]
    np.testing.assert_array_equal(again.predict(frame), model.predict(frame))
