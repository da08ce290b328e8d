"""Run every example of examples/ in quick mode, so none can rot.

All examples start at once (they are small and mostly wait on imports), then
each test checks one: exit status 0, a valid PNG, and the printed quantities
the notes derive, parsed back and compared with what the derivation predicts.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NAMES = [
    "q1_logistic_regression",
    "q2_batch_norm",
    "q3_two_layer_network",
    "q4_jacobian_hessian",
    "q5_gaussian_dropout",
    "q6_newton",
    "q7_softmax_hessian",
]
NUMBER = r"(-?[0-9.]+(?:e[+-]?[0-9]+)?)"

# (label printed by the example, predicate on the measured number after "measured:")
EXPECTED = {
    "q1_logistic_regression": [
        ("dE/dtheta: sum (yhat - y) xt vs engine", lambda v: v < 1e-10),
        ("Hessian: sum yhat(1-yhat) xt xt^T vs engine", lambda v: v < 1e-10),
        ("smallest Hessian eigenvalue (PSD: >= 0)", lambda v: v >= 0),
        ("non-negative entries [[1,2],[2,1]]: smallest eigenvalue", lambda v: v == -1),
    ],
    "q2_batch_norm": [
        ("centering: gamma (g - mean g) vs engine", lambda v: v < 1e-10),
        ("full backward (variance term) vs engine", lambda v: v < 1e-10),
        ("max |dL/dx_1|", lambda v: v == 0),
        ("fitted slope of log std vs log n", lambda v: abs(v + 0.5) < 0.05),
    ],
    "q3_two_layer_network": [
        ("Jacobian yhat_k (delta_ik - yhat_i) vs engine", lambda v: v < 1e-10),
        ("dL/dz2 = yhat - y (class 3) vs engine", lambda v: v < 1e-10),
        ("dL/dW1 formula vs engine, bare 0/1 mask M (notes)", lambda v: v < 1e-10),
        ("dL/dW1 formula vs engine, inverted dropout", lambda v: v < 1e-10),
    ],
    "q4_jacobian_hessian": [
        ("Jacobian vs hand-derived", lambda v: v < 1e-10),
        ("Hessian vs hand-derived", lambda v: v < 1e-10),
        ("slope of log|f(x+hd) - f - h J.d| vs log h", lambda v: abs(v - 2) < 0.15),
        ("slope with + h^2 d.H.d / 2", lambda v: abs(v - 3) < 0.15),
    ],
    "q5_gaussian_dropout": [
        ("per draw: dJ1/dw = -delta x", lambda v: v < 1e-10),
        ("SGD (averaged second half) vs w*", lambda v: v < 0.05),
        ("GaussianDropoutRegressor(closed_form=True) vs w*", lambda v: v < 1e-10),
    ],
    "q6_newton": [
        ("empirical order log(e+/e) / log(e/e-), last", lambda v: abs(v - 2) < 0.1),
        ("e_{k+1} / e_k^2 (signed), last", lambda v: abs(v - 0.6) < 0.03),
        ("empirical order (errors > 1e-6), last", lambda v: abs(v - 1) < 0.05),
        ("e_{k+1} / e_k, last", lambda v: abs(v - 0.5) < 0.02),
    ],
    "q7_softmax_hessian": [
        ("H = diag(yhat) - yhat yhat^T vs engine", lambda v: v < 1e-10),
        ("|H 1| / (|H| |1|)", lambda v: v < 1e-14),
        ("all 15 parameters free: zero eigenvalues", lambda v: v == 5),
        ("reference class (10 free): smallest eigenvalue", lambda v: v > 0),
    ],
}
# Verdicts printed as words
EXPECTED_TEXT = {
    "q1_logistic_regression": ["separation", "figure:"],
    "q2_batch_norm": ["raises ValueError"],
    "q5_gaussian_dropout": ["5 of 5"],
    "q6_newton": ["quadratic", "linear", "a saddle"],
    "q7_softmax_hessian": ["null space dimension / its vector (normalised)"],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Start every example at once in quick mode; map name -> (completed process, out dir)."""
    env = {**os.environ, "NABLANET_EXAMPLES_QUICK": "1", "MPLBACKEND": "Agg"}
    started = {}
    for name in NAMES:
        out = tmp_path_factory.mktemp(name)
        process = subprocess.Popen(
            [sys.executable, str(EXAMPLES / f"{name}.py"), "--out", str(out)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
            cwd=EXAMPLES.parent,
        )
        started[name] = (process, out)
    results = {}
    for name, (process, out) in started.items():
        stdout, stderr = process.communicate(timeout=300)
        results[name] = (process.returncode, stdout, stderr, out)
    return results


def measured(stdout, label):
    """The number after 'measured:' on the line that contains ``label``."""
    for line in stdout.splitlines():
        if label in line and "measured:" in line:
            match = re.search(r"measured:\s+" + NUMBER, line)
            assert match, f"no number after 'measured:' in {line!r}"
            return float(match.group(1))
    raise AssertionError(f"the output has no line with {label!r}:\n{stdout}")


@pytest.mark.parametrize("name", NAMES)
def test_example_runs_and_saves_a_png(runs, name):
    code, stdout, stderr, out = runs[name]
    assert code == 0, f"{name} exited with {code}:\n{stderr}"
    figure = out / f"{name}.png"
    assert figure.is_file(), f"{name} did not write {figure}"
    assert figure.read_bytes()[:8] == PNG_SIGNATURE
    assert figure.stat().st_size > 5_000  # a real plot, not an empty canvas


@pytest.mark.parametrize("name", NAMES)
def test_example_prints_the_derived_quantities(runs, name):
    code, stdout, stderr, _ = runs[name]
    assert code == 0, stderr
    for label, expected in EXPECTED[name]:
        value = measured(stdout, label)
        assert expected(value), f"{name}: {label!r} measured {value}"
    for text in EXPECTED_TEXT.get(name, []):
        assert text in stdout, f"{name}: {text!r} missing from the output"


def test_quick_flag_and_out_option(tmp_path):
    """--quick on the command line works without the environment variable."""
    env = {k: v for k, v in os.environ.items() if k != "NABLANET_EXAMPLES_QUICK"}
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / "q6_newton.py"), "--quick", "--out", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "q6_newton.png").read_bytes()[:8] == PNG_SIGNATURE
