"""Shared plumbing of the examples: options, quick mode, printing and saving figures.

Every example takes ``--quick`` (fewer samples and steps; also set by the
environment variable ``NABLANET_EXAMPLES_QUICK=1``) and ``--out DIR`` (where
its figure goes; default ``examples/output``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parent / "output"
QUICK_ENV = "NABLANET_EXAMPLES_QUICK"


def parse_args(description):
    """Parse ``--quick`` and ``--out``; the environment variable also turns quick mode on."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true",
                        help=f"fewer samples and steps (also: {QUICK_ENV}=1)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                        help="folder for the figure (default: examples/output)")
    args = parser.parse_args()
    args.quick = args.quick or os.environ.get(QUICK_ENV, "") not in ("", "0")
    return args


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, out, name):
    """Save ``fig`` as ``out/name`` (PNG) and print where it went."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print(f"figure: {path}")
    return path


def heading(text):
    """Print a section heading."""
    print(f"\n== {text}")


def compare(label, formula, measured, unit=""):
    """Print a notes-vs-code line: what the derivation says next to what was measured."""
    print(f"  {label:<58s} derived: {_fmt(formula):>12s}   measured: {_fmt(measured):>12s}{unit}")


def report(label, value):
    """Print one measured quantity."""
    print(f"  {label:<58s} {_fmt(value)}")


def relative_error(actual, expected):
    """``max|actual - expected| / max|expected|``."""
    import numpy as np

    actual = np.asarray(getattr(actual, "data", actual), dtype=float)
    expected = np.asarray(expected, dtype=float)
    scale = max(float(np.max(np.abs(expected))), 1e-300)
    return float(np.max(np.abs(actual - expected)) / scale)


def _fmt(value):
    if isinstance(value, (bool, str)):
        return str(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{number:.4g}" if abs(number) >= 1e-3 or number == 0 else f"{number:.3e}"
