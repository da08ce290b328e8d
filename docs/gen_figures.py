"""Regenerate the figures and printed output of docs/examples.md by running every example.

Usage: python docs/gen_figures.py [--quick]

Each ``examples/qN_*.py`` writes its PNG into ``docs/figures/`` and its printed
output into ``docs/figures/qN_*.txt``, which the examples page quotes.  Nothing
in docs/figures/ is written by hand: each text file's first line names the
example and nablanet version that printed it, and the docs build reruns this
script when ``NABLANET_DOCS_FIGURES=1`` is set (``docs/hooks/maths.py``).
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "docs" / "figures"
HEADER = "# printed by examples/{name} (nablanet {version}); regenerate: python docs/gen_figures.py"


def _version():
    sys.path.insert(0, str(ROOT / "src"))
    import nablanet

    return nablanet.__version__


def main(argv=None):
    """Run every example; write its figure and its printed output into docs/figures/."""
    argv = sys.argv[1:] if argv is None else argv
    quick = ["--quick"] if "--quick" in argv else []
    FIGURES.mkdir(parents=True, exist_ok=True)
    version, failed = _version(), []
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
        text = HEADER.format(name=script.name, version=version) + "\n"
        (FIGURES / f"{script.stem}.txt").write_text(text + "\n".join(lines).strip() + "\n")
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
