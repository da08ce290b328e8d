"""Progress bars and the final metrics table, drawn by rich.

The bar shows one step per epoch (or Newton iteration) with the latest loss and
validation accuracy.  When standard output is not a terminal (a log file, a pipe,
CI) there is no bar: each step prints one plain line instead, at most one every
`LINE_INTERVAL` seconds apart from the last step, so a log shows the progress.
"""

from __future__ import annotations

import time

#: Fewest seconds between two progress lines when standard output is not a terminal.
LINE_INTERVAL = 2.0


def make_console(file=None):
    """A rich Console on ``file`` (default standard output), 120 columns when not a terminal."""
    from rich.console import Console

    console = Console(file=file, highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 120)  # logs and pipes: room for the tables
    return console


class TrainingProgress:
    """A progress bar over epochs or iterations, used as a context manager.

    Parameters
    ----------
    total : int
        Number of steps expected (epochs, or the iteration limit of a Newton fit).
    description : str
        Text before the bar, e.g. ``"epoch"``.
    console : rich.console.Console
        Where to draw; nothing is drawn when it is not a terminal.
    completed : int, default 0
        Steps already done (a resumed run starts part-way).
    line_interval : float, default `LINE_INTERVAL`
        Off a terminal: fewest seconds between two lines (0 prints every step).
    """

    def __init__(self, total, description, console, completed=0, line_interval=None):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=console,
            disable=not console.is_terminal,
            transient=False,
        )
        self._task = self._progress.add_task(
            description, total=total, completed=completed, status=""
        )
        self._console, self._description, self._total = console, description, total
        self._lines = not console.is_terminal
        self._interval = LINE_INTERVAL if line_interval is None else line_interval
        self._last_line = self._last_step = None

    def __enter__(self):
        self._progress.start()
        return self

    def __exit__(self, *exc_info):
        self._progress.stop()
        return False

    def update(self, step, **values):
        """Move the bar to ``step`` and show ``values`` (loss, accuracy, ...) beside it."""
        status = "  ".join(f"{name} {_format(value)}" for name, value in values.items())
        self._progress.update(self._task, completed=step, status=status)
        if self._lines:
            self._line(step, status)

    def _line(self, step, status, final=False):
        now = time.monotonic()
        due = self._last_line is None or now - self._last_line >= self._interval
        if due or final or step == self._total:
            self._console.print(f"{self._description} {step}/{self._total}  {status}".rstrip(),
                                markup=False, highlight=False, soft_wrap=True)
            self._last_line = now
            self._last_step = step

    def finish(self, step):
        """Close the bar at ``step`` (a Newton fit may stop before its limit)."""
        self._progress.update(self._task, completed=step, total=step)
        if self._lines and self._last_step != step:
            self._total = step
            self._line(step, self._progress.tasks[0].fields.get("status", ""), final=True)


def _format(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def print_metrics_table(console, metrics, title="final metrics"):
    """Print a two-column table (metric, value) of ``metrics`` with rich."""
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in metrics.items():
        table.add_row(name, _format(value))
    console.print(table)
