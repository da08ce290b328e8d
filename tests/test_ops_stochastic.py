"""Dropout and Gaussian dropout: masks, scaling, statistics with a fixed seed, gradients."""

import numpy as np
import pytest

import nablanet as nb
from nablanet import ops
from nablanet.checks import check_grads


@pytest.mark.parametrize("inverted", [True, False])
def test_fixed_mask_check_grads_order_2(inverted, rng):
    x = rng.standard_normal((4, 5))
    mask = (rng.uniform(size=(4, 5)) > 0.3).astype(float)
    check_grads(lambda x: ops.dropout(x, 0.3, mask=mask, inverted=inverted) ** 2, [x], order=2)
    g = nb.grad(lambda x: ops.dropout(x, 0.3, mask=mask, inverted=inverted).sum())(x)
    np.testing.assert_allclose(g, mask / 0.7 if inverted else mask)


def test_eval_is_identity(rng):
    x = rng.standard_normal(10)
    assert ops.dropout(x, 0.5, training=False) is x
    assert ops.gaussian_dropout(x, 2.0, training=False) is x


def test_kept_fraction_and_scaling():
    rng = np.random.default_rng(123)
    n, p = 200_000, 0.2
    out = ops.dropout(np.ones(n), p, generator=rng)
    kept = out != 0
    # binomial: std of the kept fraction is sqrt(p (1 - p) / n) ~ 9e-4; allow 5 sigma
    assert abs(kept.mean() - (1 - p)) < 5 * np.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(out[kept], 1 / (1 - p))
    assert abs(out.mean() - 1.0) < 5 * np.sqrt(p / (1 - p) / n)


def test_same_seed_same_mask():
    a = ops.dropout(np.ones(50), 0.5, generator=np.random.default_rng(7))
    b = ops.dropout(np.ones(50), 0.5, generator=np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)


def test_gaussian_dropout_mean_and_variance():
    rng = np.random.default_rng(5)
    n, sigma2 = 200_000, 0.25
    noise = ops.gaussian_dropout(np.ones(n), sigma2, generator=rng)
    assert abs(noise.mean() - 1.0) < 5 * np.sqrt(sigma2 / n)
    # std of the sample variance ~ sigma2 sqrt(2 / n)
    assert abs(noise.var() - sigma2) < 5 * sigma2 * np.sqrt(2 / n)


def test_gaussian_matches_inverted_dropout_variance():
    rng = np.random.default_rng(9)
    p = 0.2
    binary = ops.dropout(np.ones(200_000), p, generator=rng)
    gauss = ops.gaussian_dropout(np.ones(200_000), p / (1 - p), generator=rng)
    assert abs(binary.var() - gauss.var()) < 0.01


def test_edge_probabilities_and_errors(rng):
    x = rng.standard_normal(6)
    np.testing.assert_array_equal(ops.dropout(x, 1.0, generator=rng), np.zeros(6))
    np.testing.assert_array_equal(ops.dropout(x, 0.0, generator=rng), x)
    with pytest.raises(ValueError, match=r"\[0, 1\], got 1.5"):
        ops.dropout(x, 1.5)
    with pytest.raises(ValueError, match=r"mask must have the input's shape \(6,\)"):
        ops.dropout(x, 0.5, mask=np.ones(3))
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        ops.dropout(x, 0.5, generator=42)
    with pytest.raises(ValueError, match="sigma2"):
        ops.gaussian_dropout(x, -1.0)


def test_float32_kept(rng):
    x = rng.standard_normal(8).astype(np.float32)
    assert ops.dropout(x, 0.5, generator=rng).dtype == np.float32
    assert ops.gaussian_dropout(x, 0.5, generator=rng).dtype == np.float32
    assert ops.dropout(x, 0.5, mask=np.ones(8)).dtype == np.float32
