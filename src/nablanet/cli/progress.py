"""Progress bars and the final metrics table, drawn by rich.

The bar shows one step per epoch (or Newton iteration) with the latest loss and
validation accuracy; it stays silent when standard output is not a terminal, so
logs and pipes receive only the final table.
"""

from __future__ import annotations


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
    """

    def __init__(self, total, description, console, completed=0):
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

    def finish(self, step):
        """Close the bar at ``step`` (a Newton fit may stop before its limit)."""
        self._progress.update(self._task, completed=step, total=step)


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
