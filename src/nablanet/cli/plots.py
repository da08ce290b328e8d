"""Plots of a run as PNG files: loss curves, Newton convergence, confusion matrix.

matplotlib is imported inside each function and used through its object API on
the Agg canvas (no pyplot, no display, no global figure state).
"""

from __future__ import annotations

import io

import numpy as np

from nablanet.cli.runs import write_bytes_atomic


def _new_figure(size=(6.4, 4.4)):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # constrained layout makes room for every label, however long the class names
    figure = Figure(figsize=size, dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _title(axes, text, subject):
    axes.set_title(text if subject is None else f"{subject}\n{text}")


def _save(figure, path):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return write_bytes_atomic(path, buffer.getvalue())


def _integer_ticks(axes):
    from matplotlib.ticker import MaxNLocator

    axes.xaxis.set_major_locator(MaxNLocator(integer=True))


def _column(history, key):
    return np.array([np.nan if row.get(key) is None else row[key] for row in history], float)


def loss_figure(history, step_name="epoch", subject=None, objective=False):
    """Training (and, where recorded, validation) loss against epoch or iteration.

    Parameters
    ----------
    history : list of dict
        One row per step with ``loss`` and optionally ``val_loss``.
    step_name : str, default "epoch"
        Label of the horizontal axis.
    subject : str, optional
        Model and data set, e.g. ``"mlp (adam) on digits"``, shown in the title.
    objective : bool, default False
        ``loss`` is a solver's objective (summed log-loss plus penalty), not the
        mean log-loss of the metrics table; the axis says so.

    Returns
    -------
    matplotlib.figure.Figure
    """
    figure = _new_figure()
    axes = figure.add_subplot()
    steps = np.arange(1, len(history) + 1)
    label = "objective on training data" if objective else "training loss"
    axes.plot(steps, _column(history, "loss"), marker="o", markersize=3, label=label)
    val_loss = _column(history, "val_loss")
    if np.any(np.isfinite(val_loss)):
        axes.plot(steps, val_loss, marker="s", markersize=3, label="validation loss")
    _integer_ticks(axes)
    axes.set_xlabel(step_name)
    if objective:
        axes.set_ylabel("summed log-loss + penalty\n(the table's train_loss is the mean)")
        _title(axes, f"solver objective per {step_name}", subject)
    else:
        axes.set_ylabel("mean log-loss (as in the table)")
        _title(axes, f"loss per {step_name}", subject)
    axes.grid(True, alpha=0.3)
    axes.legend()
    return figure


def plot_loss(path, history, step_name="epoch", subject=None, objective=False):
    """Write `loss_figure` as a PNG file at ``path``; return the path."""
    return _save(loss_figure(history, step_name, subject, objective), path)


def convergence_figure(history, step_name="Newton iteration", subject=None):
    """Gradient norm on a log scale against the solver's iteration.

    Near the optimum Newton's method converges quadratically: the number of
    correct digits doubles each iteration, which shows as a curve that bends
    ever more steeply downward on a log scale.

    Parameters
    ----------
    history : list of dict
        One row per iteration with ``grad_norm``.
    step_name : str, default "Newton iteration"
        The solver's iteration ("gradient-descent iteration" for ``gd``).
    subject : str, optional
        Model and data set, shown in the title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    figure = _new_figure()
    axes = figure.add_subplot()
    norms = _column(history, "grad_norm")
    steps = np.array([row.get("iteration", k) for k, row in enumerate(history, start=1)])
    positive = norms > 0
    axes.semilogy(steps[positive], norms[positive], marker="o")
    _integer_ticks(axes)
    axes.set_xlabel(step_name)
    axes.set_ylabel("gradient norm")
    _title(axes, f"gradient norm per {step_name}", subject)
    axes.grid(True, which="both", alpha=0.3)
    return figure


def plot_convergence(path, history, step_name="Newton iteration", subject=None):
    """Write `convergence_figure` as a PNG file at ``path``; return the path."""
    return _save(convergence_figure(history, step_name, subject), path)


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


def confusion_figure(y_true, y_pred, labels, names=None, subject=None):
    """Confusion matrix of a classifier on held-out data, counts written in the cells.

    Parameters
    ----------
    y_true, y_pred : array_like
        True and predicted labels.
    labels : array_like
        Classes in display order.
    names : list of str, optional
        Display names of the classes.
    subject : str, optional
        Model and data set, shown in the title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    counts = confusion_matrix(y_true, y_pred, labels)
    names = [str(n) for n in (names if names is not None else labels)]
    size = min(4.0 + 0.4 * len(names), 12.0)
    figure = _new_figure((size + 1.0, size))
    axes = figure.add_subplot()
    image = axes.imshow(counts, cmap="Blues")
    figure.colorbar(image, ax=axes, shrink=0.8)
    ticks = np.arange(len(names))
    axes.set_xticks(ticks, names, rotation=45, ha="right")
    axes.set_yticks(ticks, names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    _title(axes, f"confusion on validation data (accuracy {accuracy:.3f})", subject)
    threshold = counts.max() / 2 if counts.size else 0
    if len(names) <= 30:
        for (i, j), count in np.ndenumerate(counts):
            color = "white" if count > threshold else "black"
            axes.text(j, i, str(count), ha="center", va="center", color=color, fontsize=8)
    return figure


def plot_confusion(path, y_true, y_pred, labels, names=None, subject=None):
    """Write `confusion_figure` as a PNG file at ``path``; return the path."""
    return _save(confusion_figure(y_true, y_pred, labels, names, subject), path)
