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
