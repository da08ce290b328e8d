"""batch_norm: order-2 gradients, running statistics, evaluation mode, shape errors."""

import numpy as np
import pytest

import nablanet as nb
from nablanet import ops
from nablanet.checks import check_grads
from specs_layers import LAYER_SPECS


def test_check_grads_order_2(rng):
    fun, args = LAYER_SPECS["batch_norm"](rng)
    check_grads(fun, args, order=2)


def test_check_grads_order_3_and_without_affine(rng):
    x = rng.standard_normal((5, 2))
    check_grads(lambda x: ops.batch_norm(x, None, None, training=True) ** 2, [x], order=3)


def test_eval_mode_uses_running_stats_and_differentiates(rng):
    x, w, b = rng.standard_normal((4, 3)), rng.standard_normal(3), rng.standard_normal(3)
    rm, rv = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    out = ops.batch_norm(x, rm, rv, w, b, training=False)
    np.testing.assert_allclose(out, (x - rm) / np.sqrt(rv + 1e-5) * w + b)
    check_grads(lambda x, w, b: ops.batch_norm(x, rm, rv, w, b), [x, w, b], order=2)


def test_running_stats_update_formula(rng):
    x = rng.standard_normal((8, 3))
    rm, rv = np.zeros(3), np.ones(3)
    ops.batch_norm(x, rm, rv, training=True, momentum=0.3)
    np.testing.assert_allclose(rm, 0.3 * x.mean(0))
    np.testing.assert_allclose(rv, 0.7 + 0.3 * x.var(0, ddof=1))


def test_cumulative_average_with_momentum_none(rng):
    batches = [rng.standard_normal((6, 2)) for _ in range(3)]
    rm, rv = np.zeros(2), np.ones(2)
    for k, x in enumerate(batches, start=1):
        ops.batch_norm(x, rm, rv, training=True, momentum=None, num_batches_tracked=k)
    np.testing.assert_allclose(rm, np.mean([x.mean(0) for x in batches], axis=0))
    with pytest.raises(ValueError, match="num_batches_tracked"):
        ops.batch_norm(batches[0], rm, rv, training=True, momentum=None)


def test_shape_errors():
    with pytest.raises(ValueError, match=r"\(N, C\), got shape \(2, 3, 4\)"):
        ops.batch_norm(np.zeros((2, 3, 4)), None, None, training=True)
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\).*got \(2,\)"):
        ops.batch_norm(np.zeros((2, 3)), None, None, np.ones(2), training=True)
    with pytest.raises(ValueError, match="running_mean and running_var"):
        ops.batch_norm(np.zeros((2, 3)), None, None, training=False)


def test_float32_kept(rng):
    x = rng.standard_normal((5, 3)).astype(np.float32)
    w = np.ones(3, dtype=np.float32)
    rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
    value, g = nb.value_and_grad(
        lambda x: (ops.batch_norm(x, rm, rv, w, training=True) ** 2).sum()
    )(x)
    assert value.dtype == np.float32 and g.dtype == np.float32
    assert rm.dtype == np.float32 and rv.dtype == np.float32


# -- float32 batch statistics over millions of rows (issue 16) --------------------------------
def test_float32_batch_norm_is_accurate_on_millions_of_offset_rows():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((2_000_000, 2)) + 100).astype(np.float32)
    x64 = x.astype(np.float64)
    exact = (x64 - x64.mean(0)) / np.sqrt(x64.var(0) + 1e-5)
    rm, rv = np.zeros(2, np.float32), np.ones(2, np.float32)
    out = ops.batch_norm(x, rm, rv, training=True)
    assert out.dtype == np.float32
    assert np.abs(out - exact).max() < 2e-3  # sequential float32 sums: several std off
    np.testing.assert_allclose(rm, 0.1 * x64.mean(0), rtol=1e-6)


def test_float32_batch_norm_gradient_sums_are_accurate():
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((1_000_000, 1)) + 100).astype(np.float32)
    g = (rng.standard_normal((1_000_000, 1)) + 50).astype(np.float32)
    weight = nb.tensor(np.ones(1, np.float32), requires_grad=True)
    bias = nb.tensor(np.zeros(1, np.float32), requires_grad=True)
    out = ops.batch_norm(x, None, None, weight, bias, training=True)
    nb.sum(out * g).backward()
    assert bias.grad.numpy()[0] == pytest.approx(g.astype(np.float64).sum(), rel=1e-6)


def test_batch_norm_of_integers_is_that_of_floats():
    x = np.array([[1, 2], [3, 5], [0, 1]])
    np.testing.assert_allclose(ops.batch_norm(x, None, None, training=True),
                               ops.batch_norm(x.astype(float), None, None, training=True))


def test_batch_norm_refuses_an_empty_training_batch():
    rm, rv = np.zeros(3), np.ones(3)
    with pytest.raises(ValueError, match="empty batch"):
        ops.batch_norm(np.zeros((0, 3)), rm, rv, training=True)
    np.testing.assert_array_equal(rm, np.zeros(3))  # untouched
    assert ops.batch_norm(np.zeros((0, 3)), rm, rv).shape == (0, 3)  # evaluation: empty
