"""Regenerate the figures of docs/examples.md by running every example.

Usage: python docs/gen_figures.py [--quick]

Each ``examples/qN_*.py`` writes its PNG into ``docs/figures/`` and its printed
output into ``docs/figures/qN_*.txt``, which the examples page quotes.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "docs" / "figures"


def main():
    quick = ["--quick"] if "--quick" in sys.argv[1:] else []
    FIGURES.mkdir(parents=True, exist_ok=True)
    failed = []
    for script in sorted((ROOT / "examples").glob("q[0-9]_*.py")):
        print(f"running {script.name} ...", flush=True)
        completed = subprocess.run(
            [sys.executable, str(script), "--out", str(FIGURES), *quick],
            capture_output=True, text=True, cwd=ROOT,
        )
        if completed.returncode != 0:
            failed.append(script.name)
            print(completed.stderr, file=sys.stderr)
            continue
        lines = [line for line in completed.stdout.splitlines() if not line.startswith("figure:")]
        (FIGURES / f"{script.stem}.txt").write_text("\n".join(lines).strip() + "\n")
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
