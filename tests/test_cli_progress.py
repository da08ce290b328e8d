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


def test_off_a_terminal_each_step_is_one_plain_line():
    out = io.StringIO()
    console = Console(file=out, force_terminal=False)
    with TrainingProgress(3, "epoch", console, line_interval=0) as bar:
        for step in (1, 2, 3):
            bar.update(step, loss=0.1 * step)
        bar.finish(3)
    assert out.getvalue().splitlines() == ["epoch 1/3  loss 0.1", "epoch 2/3  loss 0.2",
                                           "epoch 3/3  loss 0.3"]
    assert "\x1b" not in out.getvalue()  # no bar, no escape codes


def test_off_a_terminal_fast_steps_are_thinned_but_the_last_is_shown():
    out = io.StringIO()
    console = Console(file=out, force_terminal=False)
    with TrainingProgress(100, "Newton iteration", console, line_interval=3600) as bar:
        for step in range(1, 8):
            bar.update(step, grad=1.0 / step)
        bar.finish(7)  # stopped before the limit
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("Newton iteration 1/100") and lines[-1].startswith(
        "Newton iteration 7/7") and len(lines) == 2


def test_metrics_table_prints_even_when_piped():
    out = io.StringIO()
    print_metrics_table(make_console(out), {"val_accuracy": 0.93125, "epochs": 20, "x": None})
    text = out.getvalue()
    assert "val_accuracy" in text and "0.9313" in text and "20" in text and "-" in text
