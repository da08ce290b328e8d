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


# -- axes and take_along_axis broadcasting (issue 16) ----------------------------------------
def test_expand_dims_checks_its_axis_like_numpy():
    x = np.ones(3)
    for axis in (5, -3, (0, 3)):
        with pytest.raises(np.exceptions.AxisError):
            np.expand_dims(x, axis)
        with pytest.raises(np.exceptions.AxisError):
            nb.expand_dims(x, axis)
    for axis in (0, 1, -1, np.int64(1), (0, 2)):
        assert nb.expand_dims(x, axis).shape == np.expand_dims(x, axis).shape


def test_every_axis_taking_shape_op_checks_its_axis(rng):
    x = rng.standard_normal((2, 3))
    calls = {
        "squeeze": lambda axis: nb.squeeze(x[None], axis),
        "swapaxes": lambda axis: nb.swapaxes(x, axis, 0),
        "diagonal": lambda axis: nb.diagonal(x, 0, axis, 1),
        "take_along_axis": lambda axis: nb.take_along_axis(x, np.zeros((2, 3), int), axis),
        "concatenate": lambda axis: nb.concatenate([x, x], axis=axis),
        "stack": lambda axis: nb.stack([x, x], axis=axis),
        "softmax": lambda axis: nb.ops.softmax(x, axis=axis),
        "log_softmax": lambda axis: nb.ops.log_softmax(x, axis=axis),
    }
    for name, call in calls.items():
        with pytest.raises(np.exceptions.AxisError):
            call(5)
        call(np.int64(0))  # NumPy integers are axes
    with pytest.raises(ValueError, match="cannot squeeze"):
        nb.squeeze(x, 0)


def test_take_along_axis_broadcasts_indices_forward_and_backward(rng):
    x = rng.standard_normal((3, 4))
    for indices, axis in ((np.array([[0, 2, 2]]), 1),  # one row of indices for every row
                          (np.array([[1], [0]]), 0),  # one column for every column
                          (np.zeros((1, 1), int), 1)):
        np.testing.assert_array_equal(nb.take_along_axis(x, indices, axis),
                                      np.take_along_axis(x, indices, axis))
        check_grads(lambda x, i=indices, a=axis: nb.take_along_axis(x, i, a) ** 2, [x])


def test_take_along_axis_input_broadcast_against_indices(rng):
    x = rng.standard_normal((1, 4))  # broadcast to 5 rows by the indices
    indices = rng.integers(0, 4, (5, 2))
    np.testing.assert_array_equal(nb.take_along_axis(x, indices, 1),
                                  np.take_along_axis(x, indices, 1))
    check_grads(lambda x: nb.take_along_axis(x, indices, 1) ** 2, [x])


def test_take_along_axis_gradient_matches_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((3, 4))
    indices = np.array([[0, 3, 3]])
    ours = nb.grad(lambda x: nb.sum(nb.take_along_axis(x, indices, 1) ** 2))(x)
    tx = torch.tensor(x, requires_grad=True)
    ti = torch.tensor(indices).expand(3, 3)  # torch.gather does not broadcast
    (torch.gather(tx, 1, ti) ** 2).sum().backward()
    np.testing.assert_allclose(ours, tx.grad.numpy())


def test_take_along_axis_needs_matching_rank():
    with pytest.raises(ValueError, match="must have the input's 2 dimensions"):
        nb.take_along_axis(np.ones((2, 3)), np.array([0, 1]), 1)


def test_matmul_with_a_zero_inner_dimension_is_zeros():
    a, b = np.ones((2, 0)), np.ones((0, 3))
    np.testing.assert_array_equal(nb.matmul(a, b), np.zeros((2, 3)))
    ga, gb = nb.grad(lambda a, b: nb.sum(nb.matmul(a, b)), argnums=(0, 1))(a, b)
    assert ga.shape == (2, 0) and gb.shape == (0, 3)
