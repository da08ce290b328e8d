"""``nablanet verify``: run the claim checks and report them as a table (and JSON)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

EXIT_FAILED_CHECK = 1


def _as_dict(row):
    return row.as_dict() if hasattr(row, "as_dict") else dict(row)


def run_verify(args, console=None):
    """Run ``nablanet verify``; exit status 1 if any check fails, else 0."""
    from nablanet.checks import claims
    from nablanet.cli.progress import make_console
    from nablanet.cli.runs import write_bytes_atomic

    console = console or make_console()
    rows = claims.run_all(quick=args.quick)
    if args.json == "-":
        sys.stdout.write(json.dumps([_as_dict(r) for r in rows], indent=2) + "\n")
    else:
        console.print(claims.render_table(rows))
        if args.json is not None:
            text = json.dumps([_as_dict(r) for r in rows], indent=2) + "\n"
            write_bytes_atomic(Path(args.json), text.encode("utf-8"))
    failed = [r for r in rows if not _as_dict(r)["passed"]]
    if failed:
        print(f"nablanet verify: {len(failed)} of {len(rows)} checks failed", file=sys.stderr)
        return EXIT_FAILED_CHECK
    return 0
