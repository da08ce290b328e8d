"""``nablanet curvature``: curvature.json and spectrum.png from a run folder, and its errors."""

import json

import numpy as np
import pytest

from nablanet.cli.main import main


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("curvature") / "run"
    assert main(["train", "--out", str(folder), "--epochs", "2", "--hidden", "6",
                 "--dropout", "0.1"]) == 0
    return folder


def test_curvature_writes_json_and_plot_that_match_the_operator(run, capsys):
    from nablanet import curvature, load
    from nablanet.nn import CrossEntropyLoss

    assert main(["curvature", str(run), "--samples", "120", "--top", "3", "--probes", "12"]) == 0
    out = capsys.readouterr().out
    assert "curvature.json" in out and "GGN top eigenvalue" in out
    report = json.loads((run / "curvature.json").read_text())
    assert (run / "spectrum.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    top = report["hessian_top_eigenvalues"]
    assert len(top) == 3 and top == sorted(top, reverse=True)
    assert report["n_samples"] == 120
    assert report["hessian_min_eigenvalue"] <= top[-1]
    assert report["ggn_top_eigenvalue"] > 0 and report["ggn_trace"]["value"] > 0
    assert report["indefinite"] == (report["hessian_min_eigenvalue"] < 0)
    if report["indefinite"]:
        assert report["condition_estimate"] is None
    # the same figures from the library on the same samples
    from nablanet.cli.curvature import _data

    model = load(run / "model.npz")
    config = json.loads((run / "config.json").read_text())
    X, y = _data(config, model, None, 120, 0)
    H = curvature.operator(model.network_, CrossEntropyLoss(), X, y).to_dense()
    exact = np.linalg.eigvalsh(H)
    assert report["n_parameters"] == H.shape[0]
    assert np.allclose(top, exact[::-1][:3], rtol=1e-6, atol=1e-9)
    assert abs(report["hessian_min_eigenvalue"] - exact[0]) < 1e-6 * np.abs(exact).max()
    trace = report["hessian_trace"]
    assert abs(trace["value"] - np.trace(H)) <= 5 * trace["std_error"] + 1e-9


def test_curvature_with_data_and_out_folder(run, tmp_path, capsys):
    assert main(["curvature", str(run), "--data", "digits", "--samples", "50", "--top", "1",
                 "--probes", "6", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "curvature.json").read_text())
    assert report["n_samples"] == 50 and (tmp_path / "spectrum.png").is_file()


def test_curvature_errors_are_one_line(run, tmp_path, capsys):
    assert main(["curvature", str(tmp_path / "missing")]) == 2
    assert "run folder not found" in capsys.readouterr().err
    assert main(["curvature", str(tmp_path)]) == 2
    assert "not a nablanet run folder" in capsys.readouterr().err
    assert main(["curvature", str(run), "--out", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["curvature", str(run), "--samples", "0"]) == 2
    assert main(["curvature", str(run), "--data", "breast_cancer"]) == 2
    assert "features" in capsys.readouterr().err


def test_curvature_refuses_a_linear_model_run(tmp_path, capsys):
    folder = tmp_path / "logistic"
    assert main(["train", "--model", "softmax", "--out", str(folder), "--epochs", "3"]) == 0
    capsys.readouterr()
    assert main(["curvature", str(folder)]) == 2
    assert "--model mlp" in capsys.readouterr().err
