"""Plots from synthetic histories: valid PNG files with the data drawn in them."""

import numpy as np

from nablanet.cli import plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_png(path):
    import matplotlib.image as mpimg

    assert path.read_bytes()[:8] == PNG_SIGNATURE
    return mpimg.imread(path)


def test_loss_plot_with_and_without_validation(tmp_path):
    history = [{"loss": 1.0 / k, "val_loss": 1.2 / k} for k in range(1, 8)]
    with_val = read_png(plots.plot_loss(tmp_path / "a.png", history))
    train_only = read_png(plots.plot_loss(tmp_path / "b.png", [{"loss": 1.0 / k} for k in
                                                               range(1, 8)]))
    assert with_val.shape == train_only.shape == (440, 640, 4)
    assert not np.array_equal(with_val, train_only)  # the validation curve is drawn


def test_convergence_plot_skips_zero_norms(tmp_path):
    history = [{"grad_norm": g, "iteration": k} for k, g in
               enumerate([1e2, 1e0, 1e-4, 1e-12, 0.0], start=1)]
    image = read_png(plots.plot_convergence(tmp_path / "c.png", history))
    assert image.shape[2] == 4 and image[..., :3].std() > 0


def test_confusion_matrix_counts():
    counts = plots.confusion_matrix(["a", "b", "b", "c"], ["a", "c", "b", "c"], ["a", "b", "c"])
    np.testing.assert_array_equal(counts, [[1, 0, 0], [0, 1, 1], [0, 0, 1]])


def test_confusion_plot_with_names(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 200)
    image = read_png(plots.plot_confusion(tmp_path / "m.png", y, y, np.arange(10),
                                          [f"digit {k}" for k in range(10)]))
    assert image.shape[0] > 400


def _texts_inside(figure):
    """Every drawn title, label and tick label lies inside the figure (nothing clipped)."""
    renderer = figure.canvas.get_renderer()
    figure.draw(renderer)
    box = figure.bbox
    for axes in figure.axes:
        drawn = axes.get_tightbbox(renderer)  # the axes with all its drawn text
        assert drawn.x0 >= box.x0 - 1 and drawn.x1 <= box.x1 + 1, (drawn, box)
        assert drawn.y0 >= box.y0 - 1 and drawn.y1 <= box.y1 + 1, (drawn, box)


def test_titles_name_the_model_and_data_and_a_gd_fit_is_not_newton():
    history = [{"loss": 10.0 / k, "grad_norm": 1.0 / k, "iteration": k} for k in range(1, 6)]
    subject = "logistic (gd) on breast_cancer"
    loss = plots.loss_figure(history, "gradient-descent iteration", subject, objective=True)
    convergence = plots.convergence_figure(history, "gradient-descent iteration", subject)
    for figure in (loss, convergence):
        axes = figure.axes[0]
        assert subject in axes.get_title() and "Newton" not in axes.get_title()
        assert axes.get_xlabel() == "gradient-descent iteration"
        _texts_inside(figure)
    # the Newton fit's loss is the solver's objective: the axis says it is not the table's
    assert "summed log-loss" in loss.axes[0].get_ylabel()
    assert "mean" in plots.loss_figure(history, "epoch", "mlp (adam) on digits").axes[
        0].get_ylabel()


def test_long_class_names_are_not_clipped():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 50)
    names = ["a rather long class name", "another very long class name", "c"]
    figure = plots.confusion_figure(y, y, np.arange(3), names, "softmax (newton) on my_data")
    assert "my_data" in figure.axes[0].get_title()
    _texts_inside(figure)
