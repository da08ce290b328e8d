"""Shape primitives: values, scatter-back rules, advanced indexing under batch axes."""

import numpy as np
import pytest

import nablanet as nb
from nablanet.checks import check_grads
from nablanet.ops.shape import _advanced_layout


def test_reshape_transpose_broadcast_values_and_gradients(rng):
    x = rng.standard_normal((2, 3))
    np.testing.assert_array_equal(nb.reshape(x, (3, 2)), x.reshape(3, 2))
    np.testing.assert_array_equal(nb.transpose(x), x.T)
    w = rng.standard_normal((3, 2))
    np.testing.assert_allclose(nb.grad(lambda x: nb.sum(nb.transpose(x) * w))(x), w.T)
    v = rng.standard_normal((4, 2, 3))
    g = nb.grad(lambda x: nb.sum(nb.broadcast_to(x, (4, 2, 3)) * v))(x[:1])
    np.testing.assert_allclose(g, v.sum(axis=(0, 1))[None])


def test_squeeze_expand_swapaxes():
    x = np.ones((1, 3, 1))
    assert nb.squeeze(x).shape == (3,)
    assert nb.squeeze(x, axis=-1).shape == (1, 3)
    assert nb.expand_dims(np.ones(3), -1).shape == (3, 1)
    assert nb.swapaxes(np.ones((2, 3, 4)), 0, -1).shape == (4, 3, 2)
    with pytest.raises(ValueError, match="cannot squeeze axis 1 of size 3"):
        nb.squeeze(x, axis=1)


def test_indexing_with_repeats_accumulates_gradients():
    x = np.arange(4.0)
    g = nb.grad(lambda x: nb.sum(nb.take(x, np.array([0, 2, 2, 2]))))(x)
    np.testing.assert_array_equal(g, [1, 0, 3, 0])
    t = nb.tensor(x, requires_grad=True)
    (t[1:3].sum() + t[nb.tensor(np.array([3]))].sum()).backward()
    np.testing.assert_array_equal(t.grad.numpy(), [0, 1, 1, 1])


def test_advanced_layout_detects_separated_advanced_indices():
    rows = np.array([0, 1])
    assert _advanced_layout((rows, slice(None), rows)) == (True, 1)
    assert _advanced_layout((0, slice(None), rows)) == (True, 1)
    assert _advanced_layout((rows, Ellipsis, np.zeros((2, 2), int))) == (True, 2)
    assert _advanced_layout((slice(None), rows, rows)) == (False, 0)
    assert _advanced_layout((0, slice(None), 1)) == (False, 0)


@pytest.mark.parametrize(
    "index",
    [
        (np.array([0, 2, 2]), slice(None), np.array([1, 3, 0])),
        (1, slice(None), np.array([0, 3, 3])),
        (np.array([[0, 1], [2, 2]]), Ellipsis, np.array([1, 0])),
    ],
)
def test_separated_advanced_indices_under_batch_axes(rng, index):
    # NumPy moves separated advanced axes in front of the batch axes; the rules move them back
    x = rng.standard_normal((3, 2, 4))
    f = lambda x: nb.take(x, index) ** 3  # noqa: E731
    J = nb.jacobian(f)(x)
    ans = x[index]
    expected = np.zeros(ans.shape + x.shape)
    positions = np.arange(x.size).reshape(x.shape)[index]
    for out_idx in np.ndindex(ans.shape):
        expected[out_idx + np.unravel_index(positions[out_idx], x.shape)] = 3 * ans[out_idx] ** 2
    np.testing.assert_allclose(J, expected, rtol=1e-13)
    H = nb.hessian(lambda x: nb.sum(nb.take(x, index) ** 3))(x)
    counts = np.bincount(positions.ravel(), minlength=x.size)
    np.testing.assert_allclose(H.reshape(x.size, x.size), np.diag(6 * counts * x.ravel()))
    check_grads(f, [x], order=2)


def test_take_along_axis_gathers_and_scatters_back():
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    idx = np.array([[2, 2], [0, 1]])
    np.testing.assert_array_equal(nb.take_along_axis(x, idx, axis=1), [[3, 3], [4, 5]])
    g = nb.grad(lambda x: nb.sum(nb.take_along_axis(x, idx, axis=-1)))(x)
    np.testing.assert_array_equal(g, [[0, 0, 2], [1, 1, 0]])
    with pytest.raises(TypeError, match="indices must be integers, got dtype float64"):
        nb.take_along_axis(x, idx.astype(float), axis=1)


def test_concatenate_and_stack_split_the_cotangent(rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 1))
    w = rng.standard_normal((2, 4))
    ga, gb = nb.grad(lambda a, b: nb.sum(nb.concatenate([a, b], axis=1) * w), argnums=(0, 1))(a, b)
    np.testing.assert_array_equal(ga, w[:, :3])
    np.testing.assert_array_equal(gb, w[:, 3:])
    v = rng.standard_normal((2, 2, 3))
    ga, gc = nb.grad(lambda a, c: nb.sum(nb.stack(a, c, axis=1) * v), argnums=(0, 1))(a, a)
    np.testing.assert_array_equal(ga, v[:, 0])
    np.testing.assert_array_equal(gc, v[:, 1])


def test_diagonal_and_its_scatter(rng):
    x = rng.standard_normal((3, 4))
    np.testing.assert_array_equal(nb.diagonal(x, 1), np.diagonal(x, 1))
    g = nb.grad(lambda x: nb.sum(nb.diagonal(x, -1) * 2.0))(x)
    np.testing.assert_array_equal(g, 2.0 * np.eye(3, 4, -1))
    check_grads(lambda x: nb.diagonal(x, 0, 1, 0) ** 2, [x], order=2)
