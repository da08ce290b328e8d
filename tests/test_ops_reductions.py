"""Reductions: sum, mean, max, min and logsumexp, with axes, ties and extreme inputs (C7)."""

import numpy as np
import pytest

import nablanet as nb
from nablanet.checks import check_grads


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_values_and_shapes_match_numpy(rng, axis, keepdims):
    x = rng.standard_normal((2, 3, 4))
    for ours, theirs in [(nb.sum, np.sum), (nb.mean, np.mean), (nb.max, np.max), (nb.min, np.min)]:
        np.testing.assert_allclose(ours(x, axis=axis, keepdims=keepdims),
                                   theirs(x, axis=axis, keepdims=keepdims))
    lse = np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))
    np.testing.assert_allclose(nb.logsumexp(x, axis=axis, keepdims=keepdims), lse)


def test_sum_and_mean_gradients(rng):
    x = rng.standard_normal((3, 4))
    np.testing.assert_array_equal(nb.grad(lambda x: nb.sum(x, axis=0).sum())(x), np.ones((3, 4)))
    np.testing.assert_allclose(nb.grad(lambda x: nb.mean(x))(x), np.full((3, 4), 1 / 12))
    w = rng.standard_normal(4)
    np.testing.assert_allclose(nb.grad(lambda x: nb.sum(nb.mean(x, axis=0) * w))(x),
                               np.broadcast_to(w / 3, (3, 4)))


def test_max_ties_share_the_gradient_like_amax():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, -1.0]])
    np.testing.assert_allclose(nb.grad(lambda x: nb.sum(nb.max(x, axis=1)))(x),
                               [[0, 0.5, 0.5], [1, 0, 0]])
    np.testing.assert_allclose(nb.grad(lambda x: nb.min(x))(x), [[0, 0, 0], [0, 0, 1]])


def test_bad_axis_is_a_clear_error():
    with pytest.raises(ValueError, match="axis 2 is out of bounds for array of dimension 2"):
        nb.grad(lambda x: nb.sum(nb.mean(x, axis=2)))(np.ones((2, 2)))


def test_logsumexp_gradient_is_softmax(rng):
    x = rng.standard_normal((3, 5))
    p = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(nb.grad(lambda x: nb.sum(nb.logsumexp(x, axis=1)))(x), p)


def test_c7_hessian_of_logsumexp_is_diag_p_minus_ppt(rng):
    z = rng.standard_normal(6)
    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    H = nb.hessian(nb.logsumexp)(z)
    np.testing.assert_allclose(H, np.diag(p) - np.outer(p, p), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(H @ np.ones(6), 0.0, atol=1e-15)  # shift invariance: H 1 = 0
    assert np.linalg.eigvalsh(H).min() > -1e-14  # PSD


@pytest.mark.parametrize("scale", [1e2, 1e4, -1e4])
def test_logsumexp_at_extreme_inputs_has_no_nan(scale):
    z = np.array([1.0, 0.5, -2.0]) * scale
    value = nb.logsumexp(z)
    g = nb.grad(nb.logsumexp)(z)
    H = nb.hessian(nb.logsumexp)(z)
    assert np.isfinite(value) and np.all(np.isfinite(g)) and np.all(np.isfinite(H))
    assert float(value) == pytest.approx(z.max() + np.log(np.sum(np.exp(z - z.max()))))
    np.testing.assert_allclose(g.sum(), 1.0)


def test_logsumexp_of_all_minus_infinity_is_minus_infinity():
    assert nb.logsumexp(np.array([-np.inf, -np.inf])) == -np.inf


def test_reductions_pass_check_grads_order_2(rng):
    x = rng.standard_normal((3, 4)) + np.arange(12).reshape(3, 4)  # no ties
    check_grads(lambda x: nb.logsumexp(x * x, axis=0) * nb.max(x, axis=1).sum(), [x], order=2)
    check_grads(lambda x: nb.mean(x ** 3, axis=(0, 1), keepdims=True), [x], order=2)


# -- empty arrays, NumPy integer axes, NumPy's errors (issue 16) ------------------------------
def test_empty_reductions_follow_numpy():
    empty = np.zeros((0, 3))
    np.testing.assert_array_equal(nb.sum(empty, axis=0), np.zeros(3))
    assert nb.sum(empty) == 0.0
    assert nb.logsumexp(np.array([])) == -np.inf
    np.testing.assert_array_equal(nb.logsumexp(empty, axis=0), np.full(3, -np.inf))
    assert nb.logsumexp(empty, axis=1).shape == (0,)
    with pytest.raises(ValueError, match="zero-size array"):
        nb.max(np.array([]))  # NumPy raises too: max of nothing has no value
    with pytest.warns(RuntimeWarning):
        assert np.isnan(nb.mean(np.array([])))  # NumPy: nan with a warning


def test_gradients_of_empty_inputs_are_empty():
    funs = (nb.sum, lambda x: nb.logsumexp(x, axis=1).sum(), lambda x: nb.mean(x, axis=0).sum())
    for fun in funs:
        g = nb.grad(fun)(np.zeros((0, 3)))
        assert g.shape == (0, 3)


def test_numpy_integer_axes(rng):
    x = rng.standard_normal((2, 3))
    for axis in (np.int64(0), np.int32(-1), (np.int64(0), 1)):
        np.testing.assert_allclose(nb.sum(x, axis=axis), np.sum(x, axis=axis))
        np.testing.assert_allclose(nb.mean(x, axis=axis), np.mean(x, axis=axis))
        np.testing.assert_allclose(nb.max(x, axis=axis), np.max(x, axis=axis))
        g = nb.grad(lambda z, axis=axis: nb.sum(nb.logsumexp(z, axis=axis)))(x)
        assert g.shape == x.shape


@pytest.mark.parametrize("op", [nb.sum, nb.mean, nb.max, nb.min, nb.logsumexp])
def test_out_of_range_or_repeated_axes_raise_like_numpy(op):
    x = np.ones((2, 3))
    with pytest.raises(np.exceptions.AxisError):
        op(x, axis=2)
    with pytest.raises(ValueError, match="duplicate value|repeated axis"):
        op(x, axis=(0, 0))


def test_float32_sums_of_many_rows_are_accurate():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((2_000_000, 2)) + 100).astype(np.float32)
    exact = x.astype(np.float64).mean(axis=0)
    assert np.abs(nb.mean(x, axis=0) - exact).max() < 1e-4  # sequential float32: ~1


def test_logsumexp_gradient_at_infinity_is_the_softmax_limit():
    x = np.array([[np.inf, 0.0, 1.0], [np.inf, np.inf, 0.0], [0.0, 1.0, 2.0]])
    g = nb.grad(lambda x: nb.sum(nb.logsumexp(x, axis=1)))(x)
    finite = np.exp(x[2] - np.log(np.sum(np.exp(x[2]))))
    np.testing.assert_allclose(g, [[1, 0, 0], [0.5, 0.5, 0], finite])


def test_a_replay_recomputes_the_full_reduction_of_a_plain_array():
    # nb.sum of a plain array is a NumPy scalar: a replay used to freeze it as a constant
    def loss(w, x):
        return nb.sum(nb.ops.sigmoid(x) * w) + nb.sum(nb.ops.softplus(x))

    replayed = nb.value_and_grad(loss, replay=True)
    rng = np.random.default_rng(0)
    w = rng.standard_normal(3)
    first = rng.standard_normal(3)
    for x in [first, first] + [rng.standard_normal(3) for _ in range(3)]:  # 2 recordings, replays
        assert float(replayed(w, x)[0]) == pytest.approx(float(loss(w, x)), rel=1e-12)
