"""Every claim of ``docs/claims.md`` (C1-C7) as numerical checks of the library's real rules.

Each ``claim_cN(quick=False)`` returns a list of :class:`ClaimCheck` rows: what
was checked, the measured value, the tolerance, whether it passed and, where
the claims page corrects the user's notes, the correction.  Data are real
(scikit-learn's bundled breast-cancer and digits sets) or generated from a
fixed seed, so every run measures the same numbers.  :func:`run_all` runs them
all (a claim whose checks raise becomes one failed row), :func:`render_table`
and :func:`to_json` report them, :func:`all_passed` gives the verdict.

The claim bodies live in ``_claims_c1_c3`` and ``_claims_c4_c7``.
"""

from __future__ import annotations

import json

from nablanet.checks._claim_support import ClaimCheck, failed_row
from nablanet.checks._claims_c1_c3 import claim_c1, claim_c2, claim_c3
from nablanet.checks._claims_c4_c7 import claim_c4, claim_c5, claim_c6, claim_c7

#: Claim id -> the function that checks it.
CLAIMS = {
    "C1": claim_c1,
    "C2": claim_c2,
    "C3": claim_c3,
    "C4": claim_c4,
    "C5": claim_c5,
    "C6": claim_c6,
    "C7": claim_c7,
}


def run_all(quick=False, claims=None):
    """Run the checks of every claim (or of the ids in ``claims``).

    Parameters
    ----------
    quick : bool, default False
        Fewer Monte-Carlo draws and SGD steps (same checks, wider noise).
    claims : iterable of str, optional
        Claim ids to run, e.g. ``['C1', 'C7']``; default all, in order.

    Returns
    -------
    list of ClaimCheck
        A claim whose checks raise contributes one failed row naming the error.

    Examples
    --------
    >>> rows = run_all(claims=["C7"])
    >>> all_passed(rows), {row.claim for row in rows}
    (True, {'C7'})
    """
    ids = list(CLAIMS) if claims is None else [c.upper() for c in claims]
    unknown = [c for c in ids if c not in CLAIMS]
    if unknown:
        raise ValueError(f"unknown claim ids {unknown}; expected some of {list(CLAIMS)}")
    rows = []
    for claim_id in ids:
        try:
            rows.extend(CLAIMS[claim_id](quick=quick))
        except Exception as err:  # noqa: BLE001 - a broken rule must show as a failed row
            rows.append(failed_row(claim_id, err))
    return rows


def all_passed(rows):
    """True when there is at least one row and every row passed (the exit-status verdict).

    Examples
    --------
    >>> all_passed([ClaimCheck("C1", "x", 0.0, "<= 1", True)])
    True
    >>> all_passed([])
    False
    """
    rows = list(rows)
    return bool(rows) and all(row.passed for row in rows)


def _measured_text(value):
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def build_table(rows):
    """A ``rich.table.Table`` of the rows (rich is imported here, not with nablanet).

    Corrections to the notes appear as a second, italic line under the check.

    Examples
    --------
    >>> table = build_table([ClaimCheck("C1", "x", 0.5, "<= 1", True)])
    >>> table.row_count
    1
    """
    from rich.table import Table
    from rich.text import Text

    table = Table(title="nablanet verify: claims C1-C7", show_lines=False)
    for column, justify in (("claim", "left"), ("check", "left"), ("measured", "right"),
                            ("tolerance", "right"), ("result", "center")):
        table.add_column(column, justify=justify, overflow="fold")
    for row in rows:
        check = Text(row.check)
        if row.correction:
            check.append(f"\ncorrection: {row.correction}", style="italic yellow")
        result = Text("pass", style="green") if row.passed else Text("FAIL", style="bold red")
        table.add_row(row.claim, check, _measured_text(row.measured), row.tolerance, result)
    return table


def render_table(rows, width=140, color=False):
    """The report as text: the table and a one-line summary.

    Parameters
    ----------
    rows : list of ClaimCheck
    width : int, default 140
    color : bool, default False
        Keep ANSI colours (for a terminal).

    Returns
    -------
    str

    Examples
    --------
    >>> text = render_table([ClaimCheck("C7", "H 1 = 0", 1e-17, "<= 1e-14", True)])
    >>> "C7" in text and "1 of 1 checks passed" in text
    True
    """
    import io

    from rich.console import Console

    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=color, color_system=None
                      if not color else "auto", highlight=False)
    console.print(build_table(rows))
    rows = list(rows)
    n_passed = sum(row.passed for row in rows)
    console.print(f"{n_passed} of {len(rows)} checks passed")
    return buffer.getvalue()


def to_json(rows, path=None):
    """The report as JSON: a verdict, counts and one object per check.

    Parameters
    ----------
    rows : list of ClaimCheck
    path : str or os.PathLike, optional
        Also write the JSON to this file.

    Returns
    -------
    str

    Examples
    --------
    >>> import json
    >>> report = json.loads(to_json([ClaimCheck("C1", "x", 0.5, "<= 1", True)]))
    >>> report["passed"], report["checks"][0]["measured"]
    (True, 0.5)
    """
    rows = list(rows)
    report = {
        "passed": all_passed(rows),
        "n_checks": len(rows),
        "n_failed": sum(not row.passed for row in rows),
        "checks": [row.as_dict() for row in rows],
    }
    text = json.dumps(report, indent=2)
    if path is not None:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    return text


__all__ = [
    "CLAIMS", "ClaimCheck", "all_passed", "build_table", "claim_c1", "claim_c2", "claim_c3",
    "claim_c4", "claim_c5", "claim_c6", "claim_c7", "render_table", "run_all", "to_json",
]
