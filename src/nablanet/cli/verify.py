"""``nablanet verify``: run the claim checks C1-C7 and report them as a table (and JSON)."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

EXIT_FAILED_CHECK = 1


def _claim_ids(text):
    if text is None:
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


def run_verify(args, console=None):
    """Run ``nablanet verify`` with parsed ``args``; 1 if any check fails, else 0.

    ``--json`` alone prints the JSON report instead of the table; ``--json FILE``
    prints the table and writes the report to FILE.
    """
    from nablanet.checks import claims
    from nablanet.cli.progress import make_console
    from nablanet.cli.runs import write_bytes_atomic

    console = console or make_console()
    with console.status("running the claim checks C1-C7"):
        rows = claims.run_all(quick=args.quick, claims=_claim_ids(args.claims))
    # a NumPy bool in a row would stop the JSON encoder: verdicts are plain bools here
    rows = [replace(row, passed=bool(row.passed)) for row in rows]
    if args.json == "-":
        sys.stdout.write(claims.to_json(rows) + "\n")
    else:
        console.print(claims.build_table(rows))
        if args.json is not None:
            report = claims.to_json(rows) + "\n"
            write_bytes_atomic(Path(args.json), report.encode("utf-8"))
    n_failed = sum(not row.passed for row in rows)
    summary = f"{len(rows) - n_failed} of {len(rows)} checks passed"
    if not claims.all_passed(rows):
        print(f"nablanet verify: {summary}; {n_failed} failed", file=sys.stderr)
        return EXIT_FAILED_CHECK
    if args.json != "-":
        console.print(summary)
    return 0
