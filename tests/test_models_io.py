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
    with pytest.raises(ModelFileError, match="not a readable nablanet model file.*truncated"):
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


# ---- hostile files: the error comes at once, with little memory and time -------------
def _npy_header(shape, dtype="<f8"):
    """The bytes of a .npy header declaring ``shape`` (version 1.0), no data."""
    header = repr({"descr": dtype, "fortran_order": False, "shape": tuple(shape)})
    header = header + " " * (-(len(header) + 11) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode("latin1")


def _load_small(path, match):
    """Load ``path``, expect ModelFileError matching ``match``, return (peak bytes, CPU s)."""
    import resource
    import time
    import tracemalloc

    tracemalloc.start()
    cpu = time.process_time()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        with pytest.raises(ModelFileError, match=match):
            load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    rss_growth_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    assert peak < 64 * 2**20, f"the loader allocated {peak} bytes for a hostile file"
    assert rss_growth_kb < 256 * 2**10
    return peak, time.process_time() - cpu


def _model_entries(data, tmp_path):
    X, y = data
    path = tmp_path / "m.npz"
    fitted("softmax", X, y).save(path)
    with zipfile.ZipFile(path) as archive:
        return path, {n: archive.read(n) for n in archive.namelist()}


def _write_zip(path, entries, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return path


def test_a_small_file_declaring_a_terabyte_array_is_refused(data, tmp_path):
    path, entries = _model_entries(data, tmp_path)
    entries["coef.npy"] = _npy_header((2**20, 2**17)) + b"\0" * 64  # 1 TiB declared
    _write_zip(path, entries)
    assert path.stat().st_size < 16_000
    peak, seconds = _load_small(path, "declares shape .* but holds")
    assert seconds < 5  # generous: the check is arithmetic on the header


def test_an_entry_declaring_a_huge_size_in_the_zip_is_refused(data, tmp_path):
    path, entries = _model_entries(data, tmp_path)
    _write_zip(path, entries)
    with zipfile.ZipFile(path) as archive:
        first = archive.start_dir  # the central directory's record of the first entry
    blob = bytearray(path.read_bytes())
    assert blob[first:first + 4] == b"PK\x01\x02"
    blob[first + 24:first + 28] = (2**32 - 2).to_bytes(4, "little")  # its uncompressed size
    path.write_bytes(bytes(blob))
    _load_small(path, "decompression bomb|declares")


def test_a_deflate_bomb_is_refused_before_inflating(data, tmp_path):
    path, entries = _model_entries(data, tmp_path)
    _write_zip(path, entries)
    zeros = bytes(2**20)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("bomb.npy", "w", force_zip64=True) as entry:
            entry.write(_npy_header((2**25,)))
            for _ in range(256):  # 256 MiB of zeros, streamed: a few hundred KB stored
                entry.write(zeros)
    assert path.stat().st_size < 2**20
    _load_small(path, "decompression bomb")


def test_edited_metadata_is_detected(data, tmp_path):
    """An edited class name or parameter (the digest covers the metadata)."""
    import json

    path, entries = _model_entries(data, tmp_path)
    meta = json.loads(np.load(io.BytesIO(entries["__meta__.npy"])).tobytes().decode())
    for edit in ({"class": "LogisticRegression"}, {"params": {**meta["params"], "C": -5.0}},
                 {"fitted": {**meta["fitted"], "n_iter": 1}}):
        blob = np.frombuffer(json.dumps({**meta, **edit}).encode(), dtype=np.uint8)
        buffer = io.BytesIO()
        np.save(buffer, blob)
        _write_zip(path, {**entries, "__meta__.npy": buffer.getvalue()})
        with pytest.raises(ModelFileError, match="modified after saving"):
            load(path)
    _write_zip(path, entries)
    assert type(load(path)) is SoftmaxRegression  # the untouched entries still load


def test_a_directory_or_another_file_gets_a_clear_message(tmp_path):
    with pytest.raises(ModelFileError, match="is a directory, not a model file") as caught:
        load(tmp_path)
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ModelFileError, match="not a readable nablanet model file") as other:
        load(tmp_path / "data.csv")
    for error in (caught.value, other.value):
        assert "pickle" not in str(error)
