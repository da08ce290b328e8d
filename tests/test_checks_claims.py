"""The claim-by-claim report behind ``nablanet verify`` (nablanet.checks.claims).

Every claim must pass on the real library; breaking one of the library's rules
(monkeypatched, restored after the test) must make the matching check fail.
"""

import json

import pytest

from nablanet.autodiff import REGISTRY
from nablanet.checks import claims
from nablanet.checks.claims import ClaimCheck, all_passed, render_table, run_all, to_json


@pytest.fixture(scope="module")
def full_report():
    return run_all(quick=False)


def _failed(rows):
    return [f"{row.claim}: {row.check} -> {row.measured}" for row in rows if not row.passed]


def test_every_claim_passes_on_the_real_library(full_report):
    rows = full_report
    assert _failed(rows) == []
    assert {row.claim for row in rows} == {f"C{i}" for i in range(1, 8)}
    assert all_passed(rows)


def test_corrections_to_the_notes_are_reported(full_report):
    rows = full_report
    corrected = {row.claim for row in rows if row.correction}
    assert {"C1", "C3", "C6", "C7"} <= corrected
    texts = " ".join(row.correction for row in rows)
    for phrase in ("non-negative", "no finite minimiser", "minus", "sign", "double root",
                   "singular"):
        assert phrase in texts


def test_measured_values_are_numbers_where_they_are_measurements(full_report):
    rows = full_report
    numeric = [row for row in rows if isinstance(row.measured, float)]
    assert len(numeric) > len(rows) // 2
    orders = [row.measured for row in rows if "empirical order" in row.check]
    assert orders[0] == pytest.approx(2.0, abs=0.1) and orders[1] == pytest.approx(1.0, abs=0.05)


def _broken(prim_name, monkeypatch, **rules):
    prim = REGISTRY[prim_name]
    for attribute, rule in rules.items():
        monkeypatch.setattr(prim, attribute, rule)


def test_broken_bce_rule_fails_c1(monkeypatch):
    def wrong_sign(g, ans, needs, z, y):
        from nablanet.ops import sigmoid

        return (g * (y - sigmoid(z)) if needs[0] else None), None

    _broken("binary_cross_entropy_with_logits", monkeypatch, joint_vjp=wrong_sign)
    failed = _failed(run_all(claims=["C1"], quick=True))
    assert any("vs engine" in line for line in failed)
    assert any("central differences" in line for line in failed)


def test_batch_norm_backward_without_variance_term_fails_c2(monkeypatch):
    from nablanet.ops import mean

    def centering_only(g, ans, needs, x, weight, bias, mean_, inv_std, eps=1e-5):
        # the notes' centering-only result, wrongly used as the full backward
        dx = weight * inv_std * (g - mean(g, axis=-2, keepdims=True)) if needs[0] else None
        return dx, None, None, None, None

    _broken("batch_norm", monkeypatch, joint_vjp=centering_only)
    rows = run_all(claims=["C2"], quick=True)
    failed = _failed(rows)
    assert any("full backward" in line for line in failed)
    assert any("central differences" in line for line in failed)
    assert not all_passed(rows)


def test_broken_softmax_rule_fails_c3(monkeypatch):
    _broken("softmax", monkeypatch, vjps=(lambda g, ans, x, axis=-1: g * ans,))
    failed = _failed(run_all(claims=["C3"], quick=True))
    assert any("softmax Jacobian" in line for line in failed)


def test_leaky_relu_with_slope_one_fails_the_network_gradient(monkeypatch):
    _broken("leaky_relu", monkeypatch, vjps=(lambda g, ans, x, negative_slope=0.01: g,))
    failed = _failed(run_all(claims=["C3"], quick=True))
    assert sum("dL/dW1" in line for line in failed) == 2


def test_broken_exp_rule_fails_c4(monkeypatch):
    _broken("exp", monkeypatch, vjps=(lambda g, ans, x: g * ans * 1.001,))
    failed = _failed(run_all(claims=["C4"], quick=True))
    assert any("Hessian of y(u,v,z)" in line for line in failed)


def test_broken_multiply_rule_fails_c5(monkeypatch):
    rule_x, rule_y = REGISTRY["multiply"].vjps
    _broken("multiply", monkeypatch, vjps=(lambda g, a, x, y: 2 * rule_x(g, a, x, y), rule_y))
    failed = _failed(run_all(claims=["C5"], quick=True))
    assert any("per-sample" in line for line in failed)


def test_broken_softmax_cross_entropy_rule_fails_c7(monkeypatch):
    def missing_sum_y(g, ans, needs, z, y):
        from nablanet.ops import expand_dims, softmax

        return expand_dims(g, -1) * (softmax(z) - 2 * y), None

    _broken("softmax_cross_entropy", monkeypatch, joint_vjp=missing_sum_y)
    failed = _failed(run_all(claims=["C7"], quick=True))
    assert any("grad = yhat - y" in line for line in failed)


def test_a_claim_that_raises_becomes_one_failed_row(monkeypatch):
    def explodes(quick=False):
        raise RuntimeError("rule missing")

    monkeypatch.setitem(claims.CLAIMS, "C4", explodes)
    rows = run_all(claims=["C4"])
    assert len(rows) == 1 and not rows[0].passed
    assert "RuntimeError: rule missing" in rows[0].measured


def test_unknown_claim_id_is_a_clear_error():
    with pytest.raises(ValueError, match="C9"):
        run_all(claims=["C9"])


def test_json_report_round_trips_and_writes_a_file(tmp_path):
    rows = [
        ClaimCheck("C1", "a", 1e-12, "<= 1e-10", True),
        ClaimCheck("C7", "b", float("inf"), "<= 1e-10", False, "H is singular"),
    ]
    path = tmp_path / "verify.json"
    report = json.loads(to_json(rows, path))
    assert report == json.loads(path.read_text())
    assert (report["passed"], report["n_checks"], report["n_failed"]) == (False, 2, 1)
    assert report["checks"][1] == {"claim": "C7", "check": "b", "measured": "inf",
                                   "tolerance": "<= 1e-10", "passed": False,
                                   "correction": "H is singular"}


def test_table_shows_results_and_corrections():
    rows = [ClaimCheck("C2", "sums to zero", 3e-16, "<= 1.0e-12", True, "note this"),
            ClaimCheck("C6", "order", 0.37, "1 +- 0.05", False)]
    text = render_table(rows, width=160)
    for piece in ("C2", "C6", "pass", "FAIL", "correction: note this", "1 of 2 checks passed"):
        assert piece in text
    assert "\x1b[" not in text


def test_all_passed_needs_rows():
    assert not all_passed([])
    assert all_passed([ClaimCheck("C1", "x", 0.0, "<= 1", True)]) is True
