"""Plots of a run as PNG files: loss curves, Newton convergence, confusion matrix.

matplotlib is imported inside each function and used through its object API on
the Agg canvas (no pyplot, no display, no global figure state).
"""

from __future__ import annotations

import io

import numpy as np

from nablanet.cli.runs import write_bytes_atomic


def _new_figure(size=(6.0, 4.0), margins=(0.12, 0.12, 0.95, 0.9)):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # fixed margins: a layout engine would redraw the figure several times
    figure = Figure(figsize=size, dpi=100)
    left, bottom, right, top = margins
    figure.subplots_adjust(left=left, bottom=bottom, right=right, top=top)
    FigureCanvasAgg(figure)
    return figure


def _save(figure, path):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return write_bytes_atomic(path, buffer.getvalue())


def _integer_ticks(axes):
    from matplotlib.ticker import MaxNLocator

    axes.xaxis.set_major_locator(MaxNLocator(integer=True))


def _column(history, key):
    return np.array([np.nan if row.get(key) is None else row[key] for row in history], float)


def plot_loss(path, history, step_name="epoch"):
    """Training (and, where recorded, validation) loss against epoch or iteration.

    Parameters
    ----------
    path : path-like
        PNG file to write.
    history : list of dict
        One row per step with ``loss`` and optionally ``val_loss``.
    step_name : str, default "epoch"
        Label of the horizontal axis.

    Returns
    -------
    pathlib.Path
    """
    figure = _new_figure()
    axes = figure.add_subplot()
    steps = np.arange(1, len(history) + 1)
    axes.plot(steps, _column(history, "loss"), marker="o", markersize=3, label="training loss")
    val_loss = _column(history, "val_loss")
    if np.any(np.isfinite(val_loss)):
        axes.plot(steps, val_loss, marker="s", markersize=3, label="validation loss")
    _integer_ticks(axes)
    axes.set_xlabel(step_name)
    axes.set_ylabel("loss")
    axes.set_title(f"loss per {step_name}")
    axes.grid(True, alpha=0.3)
    axes.legend()
    return _save(figure, path)


def plot_convergence(path, history):
    """Gradient norm on a log scale against Newton iteration.

    Near the optimum Newton's method converges quadratically: the number of
    correct digits doubles each iteration, which shows as a curve that bends
    ever more steeply downward on a log scale.

    Parameters
    ----------
    path : path-like
        PNG file to write.
    history : list of dict
        One row per iteration with ``grad_norm``.

    Returns
    -------
    pathlib.Path
    """
    figure = _new_figure()
    axes = figure.add_subplot()
    norms = _column(history, "grad_norm")
    steps = np.array([row.get("iteration", k) for k, row in enumerate(history, start=1)])
    positive = norms > 0
    axes.semilogy(steps[positive], norms[positive], marker="o")
    _integer_ticks(axes)
    axes.set_xlabel("Newton iteration")
    axes.set_ylabel("gradient norm")
    axes.set_title("convergence of Newton's method")
    axes.grid(True, which="both", alpha=0.3)
    return _save(figure, path)


def confusion_matrix(y_true, y_pred, labels):
    """Counts ``C[i, j]`` of samples of class ``labels[i]`` predicted as ``labels[j]``.

    Examples
    --------
    >>> confusion_matrix([0, 1, 1], [0, 0, 1], [0, 1]).tolist()
    [[1, 0], [1, 1]]
    """
    labels = np.asarray(labels)
    index = {label: i for i, label in enumerate(labels.tolist())}
    counts = np.zeros((labels.size, labels.size), dtype=np.int64)
    for true, pred in zip(np.asarray(y_true).tolist(), np.asarray(y_pred).tolist(), strict=True):
        counts[index[true], index[pred]] += 1
    return counts


def plot_confusion(path, y_true, y_pred, labels, names=None):
    """Confusion matrix of a classifier on held-out data, counts written in the cells.

    Parameters
    ----------
    path : path-like
        PNG file to write.
    y_true, y_pred : array_like
        True and predicted labels.
    labels : array_like
        Classes in display order.
    names : list of str, optional
        Display names of the classes.

    Returns
    -------
    pathlib.Path
    """
    counts = confusion_matrix(y_true, y_pred, labels)
    names = [str(n) for n in (names if names is not None else labels)]
    size = min(4.0 + 0.4 * len(names), 12.0)
    figure = _new_figure((size + 1.0, size), margins=(0.15, 0.15, 0.97, 0.92))
    axes = figure.add_subplot()
    image = axes.imshow(counts, cmap="Blues")
    figure.colorbar(image, ax=axes, shrink=0.8)
    ticks = np.arange(len(names))
    axes.set_xticks(ticks, names, rotation=45, ha="right")
    axes.set_yticks(ticks, names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    axes.set_title(f"confusion on validation data (accuracy {accuracy:.3f})")
    threshold = counts.max() / 2 if counts.size else 0
    if len(names) <= 30:
        for (i, j), count in np.ndenumerate(counts):
            color = "white" if count > threshold else "black"
            axes.text(j, i, str(count), ha="center", va="center", color=color, fontsize=8)
    return _save(figure, path)
