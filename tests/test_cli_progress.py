"""Progress bar and metrics table: drawn on a terminal, silent bar on a pipe."""

import io

from rich.console import Console

from nablanet.cli.progress import TrainingProgress, make_console, print_metrics_table


def test_bar_is_drawn_on_a_terminal():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with TrainingProgress(3, "epoch", console) as bar:
        for step in (1, 2, 3):
            bar.update(step, loss=1.0 / step, val_acc=0.5)
    text = out.getvalue()
    assert "epoch" in text and "3/3" in text and "loss 0.3333" in text


def test_bar_is_silent_when_not_a_terminal():
    out = io.StringIO()
    console = Console(file=out, force_terminal=False)
    with TrainingProgress(3, "epoch", console) as bar:
        bar.update(3, loss=0.1)
        bar.finish(3)
    assert out.getvalue() == ""


def test_metrics_table_prints_even_when_piped():
    out = io.StringIO()
    print_metrics_table(make_console(out), {"val_accuracy": 0.93125, "epochs": 20, "x": None})
    text = out.getvalue()
    assert "val_accuracy" in text and "0.9313" in text and "20" in text and "-" in text
