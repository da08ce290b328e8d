"""The non-differentiated steps of layers, as primitives: draws, statistics, label checks.

They are primitives so that a replayed training step (``optim.TrainStep``) repeats them;
each is checked here against the plain NumPy it stands for.
"""

import numpy as np
import pytest

from nablanet.autodiff import REGISTRY

#: Every non-differentiable primitive that is a layer's step, checked below.
LAYER_STEPS = {
    "batch_norm_statistics", "inverse_std", "dropout_mask_draw", "gaussian_noise_draw",
    "class_index_labels", "class_index_targets", "one_hot",
}


def test_layer_steps_are_registered_and_not_differentiable():
    for name in LAYER_STEPS:
        assert not REGISTRY[name].differentiable
    assert REGISTRY["class_index_labels"].guard
    assert not any(REGISTRY[name].guard for name in LAYER_STEPS - {"class_index_labels"})


@pytest.mark.parametrize("momentum", [0.1, None])
def test_batch_norm_statistics_updates_counter_and_running_stats(rng, momentum):
    x = rng.standard_normal((6, 3))
    rm, rv, counter = np.full(3, 0.5), np.full(3, 2.0), np.array(4)
    inv_std, xhat = REGISTRY["batch_norm_statistics"](x, rm, rv, momentum, 1e-5,
                                                      counter=counter)
    mean, var = x.mean(axis=0), x.var(axis=0)
    np.testing.assert_allclose(inv_std, 1 / np.sqrt(var + 1e-5), rtol=1e-12)
    np.testing.assert_allclose(xhat, (x - mean) * inv_std, rtol=1e-12, atol=1e-14)
    assert counter == 5
    factor = 0.1 if momentum is not None else 1 / 5
    np.testing.assert_allclose(rm, (1 - factor) * 0.5 + factor * mean, rtol=1e-12)
    np.testing.assert_allclose(rv, (1 - factor) * 2.0 + factor * var * 6 / 5, rtol=1e-12)


def test_batch_norm_statistics_needs_a_count_for_cumulative_average(rng):
    with pytest.raises(ValueError, match="num_batches_tracked"):
        REGISTRY["batch_norm_statistics"](rng.standard_normal((4, 2)), None, None, None, 1e-5)


def test_batch_norm_statistics_of_integer_input_is_float64():
    inv_std, xhat = REGISTRY["batch_norm_statistics"](np.array([[1], [3]]), None, None, 0.1, 0.0)
    assert xhat.dtype == np.float64
    np.testing.assert_array_equal(xhat[:, 0], [-1.0, 1.0])


def test_inverse_std():
    np.testing.assert_array_equal(REGISTRY["inverse_std"](np.array([3.0, 0.0]), 1.0),
                                  [0.5, 1.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_dropout_mask_draw_matches_the_generators_uniforms(dtype):
    dtype = np.dtype(dtype)
    mask = REGISTRY["dropout_mask_draw"](np.random.default_rng(3), (5, 7), dtype, 0.3, 2.0)
    draw_dtype = dtype if dtype != np.float16 else np.float64
    uniform = np.random.default_rng(3).random((5, 7), dtype=draw_dtype)
    assert mask.dtype == dtype
    np.testing.assert_array_equal(mask, np.where(uniform >= 0.3, 2.0, 0.0).astype(dtype))


def test_dropout_mask_draw_without_generator_draws_fresh_masks():
    draw = REGISTRY["dropout_mask_draw"]
    masks = [draw(None, (64,), np.dtype(np.float64), 0.5, 1.0) for _ in range(2)]
    assert set(np.unique(masks[0])) <= {0.0, 1.0}
    assert not np.array_equal(masks[0], masks[1])


def test_gaussian_noise_draw_matches_the_generators_normals():
    noise = REGISTRY["gaussian_noise_draw"](np.random.default_rng(5), (4, 3),
                                            np.dtype(np.float32), 0.25)
    normal = np.random.default_rng(5).standard_normal((4, 3), dtype=np.float32)
    assert noise.dtype == np.float32
    np.testing.assert_allclose(noise, 1 + 0.5 * normal, rtol=1e-6)


@pytest.mark.parametrize(
    "labels, expected_valid",
    [([0, 2, 1], True), ([0, 3, 1], False), ([0, -1, 1], False), ([0, -100, 1], False),
     ([0.0, 1.0, 2.0], False)],
)
def test_class_index_labels_accepts_only_valid_class_indices(labels, expected_valid):
    labels = np.array(labels)
    out = REGISTRY["class_index_labels"](labels, (3, 3), -100)
    assert (out is not None) == expected_valid
    if expected_valid:
        assert out is labels


def test_class_index_labels_rejects_wrong_shape_and_empty():
    check = REGISTRY["class_index_labels"]
    assert check(np.array([0, 1]), (3, 3), -100) is None
    assert check(np.zeros(0, int), (0, 3), -100) is None


def test_class_index_targets_one_hot_mask_and_count():
    labels = np.array([2, -100, 0, 1])
    onehot, valid, safe, count = REGISTRY["class_index_targets"](
        labels, 3, -100, np.dtype(np.float32), (4,))
    np.testing.assert_array_equal(onehot, [[0, 0, 1], [0, 0, 0], [1, 0, 0], [0, 1, 0]])
    np.testing.assert_array_equal(valid, [True, False, True, True])
    np.testing.assert_array_equal(safe, [2, 0, 0, 1])
    assert count.dtype == np.float32 and count == 3


def test_class_index_targets_names_bad_labels_and_shapes():
    step = REGISTRY["class_index_targets"]
    with pytest.raises(ValueError, match=r"class labels must lie in \[0, 2\].*\[3\]"):
        step(np.array([0, 3]), 3, -100, np.dtype(np.float64), (2,))
    with pytest.raises(ValueError, match=r"must have shape \(3,\), got \(2,\)"):
        step(np.array([0, 1]), 3, -100, np.dtype(np.float64), (3,))


def test_one_hot_of_labels():
    out = REGISTRY["one_hot"](np.array([[2, 0], [1, 1]]), 3, np.dtype(np.float32))
    assert out.shape == (2, 2, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out.argmax(axis=-1), [[2, 0], [1, 1]])
    np.testing.assert_array_equal(out.sum(axis=-1), np.ones((2, 2)))


def test_dropout_mask_takes_an_integer_shape():
    from nablanet.ops import dropout_mask

    mask = dropout_mask(5, 0.5, np.random.default_rng(0))
    assert mask.shape == (5,) and set(np.unique(mask)) <= {0.0, 1.0}
