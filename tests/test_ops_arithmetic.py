"""Elementwise primitives: closed-form derivatives, broadcasting, kinks and bad shapes."""

import numpy as np
import pytest

import nablanet as nb
from nablanet.checks import check_grads

X = np.array([-1.7, -0.4, 0.3, 1.1, 2.5])
POS = np.array([0.2, 0.7, 1.0, 1.9, 3.3])

DERIVATIVES = [
    (nb.exp, np.exp, X),
    (nb.log, lambda x: 1 / x, POS),
    (nb.log1p, lambda x: 1 / (1 + x), POS),
    (nb.expm1, np.exp, X),
    (nb.sqrt, lambda x: 0.5 / np.sqrt(x), POS),
    (nb.tanh, lambda x: 1 - np.tanh(x) ** 2, X),
    (nb.abs, np.sign, X),
    (nb.negative, lambda x: -np.ones_like(x), X),
    (nb.square, lambda x: 2 * x, X),
    (lambda x: 1.0 / x, lambda x: -1 / x ** 2, POS),
    (lambda x: x ** 2.5, lambda x: 2.5 * x ** 1.5, POS),
    (lambda x: 3.0 ** x, lambda x: np.log(3.0) * 3.0 ** x, X),
]


@pytest.mark.parametrize("op, derivative, x", DERIVATIVES)
def test_elementwise_derivative_closed_form(op, derivative, x):
    np.testing.assert_allclose(nb.grad(lambda x: nb.sum(op(x)))(x), derivative(x), rtol=1e-13)


def test_forward_values_match_numpy():
    np.testing.assert_allclose(nb.tanh(X), np.tanh(X))
    np.testing.assert_allclose(nb.log1p(nb.tensor(POS)).numpy(), np.log1p(POS))
    assert isinstance(nb.exp(X), np.ndarray)  # plain arrays in, plain arrays out


def test_broadcast_cotangents_are_summed_back(rng):
    x, y = rng.standard_normal((3, 1, 4)), rng.standard_normal((2, 1))
    gx, gy = nb.grad(lambda x, y: nb.sum(x * y), argnums=(0, 1))(x, y)
    assert gx.shape == x.shape and gy.shape == y.shape
    np.testing.assert_allclose(gx, np.broadcast_to(y.sum(), x.shape))
    np.testing.assert_allclose(gy, np.broadcast_to(x.sum(), y.shape))
    assert nb.grad(lambda s: nb.sum(s * x))(np.array(2.0)).shape == ()


def test_power_exponent_gradient_is_finite_at_zero_base():
    g_base, g_exp = nb.grad(lambda b, e: nb.sum(b ** e), argnums=(0, 1))(
        np.array([0.0, 2.0]), np.array([2.0, 3.0])
    )
    np.testing.assert_allclose(g_base, [0.0, 12.0])
    np.testing.assert_allclose(g_exp, [0.0, 8 * np.log(2.0)])


def test_maximum_and_minimum_split_ties_like_pytorch():
    x, y = np.array([1.0, 2.0, 3.0]), np.array([1.0, 5.0, 0.0])
    gx, gy = nb.grad(lambda x, y: nb.sum(nb.maximum(x, y)), argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(gx, [0.5, 0.0, 1.0])
    np.testing.assert_array_equal(gy, [0.5, 1.0, 0.0])
    gx, gy = nb.grad(lambda x, y: nb.sum(nb.minimum(x, y)), argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(gx, [0.5, 1.0, 0.0])
    np.testing.assert_array_equal(gy, [0.5, 0.0, 1.0])


def test_abs_has_zero_gradient_at_zero():
    g = nb.grad(lambda x: nb.sum(nb.abs(x)))(np.array([0.0, -2.0]))
    np.testing.assert_array_equal(g, [0, -1])


def test_clip_passes_the_gradient_inside_and_at_the_bounds():
    x = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    g = nb.grad(lambda x: nb.sum(nb.clip(x, -1.0, 1.0)))(x)
    np.testing.assert_array_equal(g, [0, 1, 1, 1, 0])
    g_low = nb.grad(lambda x: nb.sum(nb.clip(x, 0.0, None)))(x)
    np.testing.assert_array_equal(g_low, [0, 0, 1, 1, 1])


def test_where_routes_the_cotangent(rng):
    cond = np.array([True, False, True])
    x, y = rng.standard_normal(3), rng.standard_normal(1)
    gx, gy = nb.grad(lambda x, y: nb.sum(nb.where(cond, x, y) * 2.0), argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(gx, [2.0, 0.0, 2.0])
    np.testing.assert_array_equal(gy, [2.0])


def test_second_derivatives_of_smooth_ops():
    f = lambda x: nb.sum(nb.tanh(x) * nb.exp(x) / (1 + x * x) + nb.sqrt(x * x + 1))  # noqa: E731
    check_grads(f, [X], order=3)


def test_mismatched_shapes_name_both_shapes():
    with pytest.raises(ValueError, match=r"add: cannot apply to shapes \(3,\), \(4,\)"):
        nb.tensor(np.ones(3), requires_grad=True) + np.ones(4)
    with pytest.raises(ValueError, match=r"\(2, 3\), \(2,\)"):
        nb.multiply(np.ones((2, 3)), np.ones(2))


def test_sign_is_constant_for_differentiation():
    x = nb.tensor(X, requires_grad=True)
    s = nb.sign(x)
    assert not s.requires_grad
    np.testing.assert_array_equal(s.numpy(), np.sign(X))


def test_clip_gradient_with_bounds_that_broadcast_x_up():
    import nablanet as nb

    x = nb.tensor(np.array([-2.0, 0.5, 2.0]), requires_grad=True)
    lo = np.array([[-1.0, -1.0, -1.0], [-3.0, 0.6, -3.0]])
    nb.clip(x, lo, 1.0).sum().backward()
    # row 0 passes only x = 0.5; row 1 passes x = -2 (above -3); 0.5 < 0.6 and 2 > 1 clip
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0, 0.0])


# -- integer and boolean values are promoted before any kernel runs (issue 16) --------------
def test_integer_input_is_promoted_before_the_kernel():
    np.testing.assert_allclose(nb.ops.sigmoid(np.array([-3, 0, 2])),
                               nb.ops.sigmoid(np.array([-3.0, 0.0, 2.0])))
    assert nb.ops.sigmoid(np.array([-3, 0, 2])).dtype == np.float64
    assert nb.ops.sigmoid(3) == pytest.approx(1 / (1 + np.exp(-3)))
    np.testing.assert_allclose(nb.power(np.array([2, 4]), -1), [0.5, 0.25])  # NumPy raises


def test_booleans_are_numbers_not_logic():
    t = np.array([True, True])
    np.testing.assert_array_equal(nb.add(t, t), [2.0, 2.0])  # np.add on bools is "or"
    np.testing.assert_array_equal(nb.subtract(t, t), [0.0, 0.0])  # np.subtract raises
    np.testing.assert_array_equal(nb.negative(t), [-1.0, -1.0])
    np.testing.assert_array_equal(nb.matmul(np.array([[True, True]]), t), [2.0])


def test_an_integer_beside_float32_takes_float32():
    x = np.ones(3, np.float32)
    assert nb.multiply(x, np.array([1, 0, 1])).dtype == np.float32
    assert nb.multiply(nb.tensor(x), np.array([True, False, True])).dtype == np.float32
    assert nb.multiply(x, 2).dtype == np.float32


def test_moving_and_selecting_keep_integers_integer():
    ints = np.arange(6)
    assert nb.reshape(ints, (2, 3)).dtype == ints.dtype
    assert nb.max(ints).dtype == ints.dtype
    assert nb.take(ints, np.array([0, 2])).dtype == ints.dtype
    assert nb.concatenate([ints, ints]).dtype == ints.dtype
    assert nb.where(ints > 2, ints, 0).dtype == ints.dtype
    assert nb.sum(ints > 2) == 3


def test_indices_stay_integers(rng):
    x = rng.standard_normal((2, 3))
    idx = np.array([[0, 2], [1, 1]])
    np.testing.assert_array_equal(nb.take_along_axis(x, idx, 1), np.take_along_axis(x, idx, 1))
    assert nb.ops.cross_entropy(np.array([[1, 2], [3, 0]]), np.array([0, 1])) == pytest.approx(
        nb.ops.cross_entropy(np.array([[1.0, 2.0], [3.0, 0.0]]), np.array([0, 1])))


def test_a_primitive_declares_its_values(rng):
    from nablanet.autodiff.primitive import ALL_ARGUMENTS

    assert nb.ops.arithmetic.where.values == (1, 2)  # the condition is not a value
    assert nb.ops.shape.take_along_axis_p.values == (0,)  # the indices are not
    from nablanet.ops.losses import _ce_index

    assert _ce_index.values == (0,)  # nor the labels
    assert nb.ops.shape._concatenate_p.values == ALL_ARGUMENTS


def test_promotion_happens_in_a_replayed_step_too():
    from nablanet.autodiff.primitive import REGISTRY

    sigmoid = REGISTRY["sigmoid"]
    impl = sigmoid.impl_for([np.array([-3, 0, 2])])
    np.testing.assert_allclose(impl(np.array([-3, 0, 2])), nb.ops.sigmoid(np.array([-3.0, 0, 2])))
    assert sigmoid.impl_for([np.array([1.0])]) is sigmoid.impl  # floats: the kernel itself


# -- power at 0 and at negative bases ---------------------------------------------------------
def test_power_derivatives_at_zero_are_zero_not_nan():
    zero = np.zeros(2)
    np.testing.assert_array_equal(nb.grad(lambda x: nb.sum(x ** 0))(zero), [0.0, 0.0])
    np.testing.assert_array_equal(nb.hessian(lambda x: nb.sum(x ** 1))(zero), np.zeros((2, 2)))
    third = nb.jacobian(nb.hessian(lambda x: nb.sum(x ** 2)))(zero)
    np.testing.assert_array_equal(third, np.zeros((2, 2, 2)))
    # an exponent that is an array (a Tensor even) is masked the same way
    y = np.array([0.0, 1.0])
    np.testing.assert_array_equal(nb.grad(lambda x: nb.sum(nb.power(x, y)))(zero), [0.0, 1.0])


def test_power_matches_torch_at_zero_to_third_order():
    torch = pytest.importorskip("torch")
    for exponent in (0.0, 1.0, 2.0, 3.0):
        x = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        d1, = torch.autograd.grad((x ** exponent).sum(), x, create_graph=True)
        expected = 0.0
        if d1.requires_grad:
            d2, = torch.autograd.grad(d1.sum(), x, allow_unused=True)
            expected = 0.0 if d2 is None else d2.item()
        ours = nb.hessian(lambda z, e=exponent: nb.sum(z ** e))(np.zeros(1))
        assert ours[0, 0] == expected


def test_derivative_in_the_exponent_of_a_negative_base_is_nan():
    base = np.array([-2.0, 0.0, 2.0])
    with pytest.warns(RuntimeWarning, match="invalid value"):
        g = nb.grad(lambda y: nb.sum(nb.power(base, y)))(np.array([2.0, 2.0, 2.0]))
    assert np.isnan(g[0])
    assert g[1] == 0.0  # the limit of x^y log x at x = 0 for y > 0
    assert g[2] == pytest.approx(4 * np.log(2))


def test_a_replayed_gradient_of_integer_data_is_the_eager_one():
    # the replay calls impl_for(...) recorded with integer data: the promoting wrapper
    def loss(w, x):
        return nb.sum(nb.ops.sigmoid(x) * w) + nb.sum(nb.ops.log_softmax(x * w))

    replayed = nb.value_and_grad(loss, replay=True)
    rng = np.random.default_rng(1)
    w = rng.standard_normal(3)
    for _ in range(5):  # two recordings, then replays
        x = rng.integers(-3, 4, 3)
        value, grad = replayed(w, x)
        eager_value, eager_grad = nb.value_and_grad(loss)(w, x.astype(float))
        assert float(value) == pytest.approx(float(eager_value), rel=1e-12)
        np.testing.assert_allclose(grad, eager_grad, rtol=1e-12)
