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
    assert with_val.shape == train_only.shape == (400, 600, 4)
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
