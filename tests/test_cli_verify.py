"""``nablanet verify``: the table, --json, and the exit status (0 all pass, 1 any fails)."""

import json

import pytest

from nablanet.checks import claims
from nablanet.checks.claims import ClaimCheck
from nablanet.cli.main import main

FAKE_ROWS = [
    ClaimCheck("C1", "smallest eigenvalue of H", 1e-3, ">= -1e-10", True,
               "entries >= 0 is not PSD"),
    ClaimCheck("C6", "fitted order of convergence", 1.98, "2 +- 0.1", True),
]


@pytest.fixture
def fake_checks(monkeypatch):
    calls = []

    def fake_run_all(quick=False, claims=None):
        calls.append((quick, claims))
        return list(FAKE_ROWS)

    monkeypatch.setattr(claims, "run_all", fake_run_all)
    return calls


def test_table_and_exit_status_zero(fake_checks, capsys):
    assert main(["verify"]) == 0
    out = capsys.readouterr().out
    assert "fitted order of convergence" in out and "entries >= 0 is not PSD" in out
    assert "2 of 2 checks passed" in out
    assert fake_checks == [(False, None)]


def test_json_to_standard_output(fake_checks, capsys):
    assert main(["verify", "--json", "--quick", "--claims", "C1,c6"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] is True and report["n_checks"] == 2
    assert report["checks"][1]["measured"] == 1.98
    assert fake_checks == [(True, ["C1", "c6"])]


def test_json_to_a_file_beside_the_table(fake_checks, capsys, tmp_path):
    assert main(["verify", "--json", str(tmp_path / "report.json")]) == 0
    assert "claim" in capsys.readouterr().out
    report = json.loads((tmp_path / "report.json").read_text())
    assert [row["claim"] for row in report["checks"]] == ["C1", "C6"]


def test_a_failing_check_gives_exit_status_one(monkeypatch, capsys):
    failing = FAKE_ROWS + [ClaimCheck("C2", "input gradient sums to 0", 0.3, "<= 1e-10", False)]
    monkeypatch.setattr(claims, "run_all", lambda quick=False, claims=None: failing)
    assert main(["verify"]) == 1
    captured = capsys.readouterr()
    assert "FAIL" in captured.out and "1 failed" in captured.err


def test_unknown_claim_id_is_bad_input(capsys):
    assert main(["verify", "--claims", "C9"]) == 2
    assert "unknown claim ids" in capsys.readouterr().err


def test_real_library_passes_quick_checks(capsys):
    assert main(["verify", "--quick", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] and {row["claim"] for row in report["checks"]} == {
        f"C{k}" for k in range(1, 8)
    }


def test_a_broken_rule_makes_verify_fail(monkeypatch, capsys):
    from nablanet.autodiff import REGISTRY

    # the notes' network with leaky ReLU's slope forgotten in the backward pass
    monkeypatch.setattr(REGISTRY["leaky_relu"], "vjps", (lambda g, ans, x, **kw: g,))
    assert main(["verify", "--quick", "--claims", "C3"]) == 1
    assert "FAIL" in capsys.readouterr().out
