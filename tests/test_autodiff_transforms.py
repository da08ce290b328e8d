"""grad, value_and_grad, vjp, jacobian, hessian and hvp against closed forms (C4, C7) and torch."""

import numpy as np
import pytest

import nablanet as nb
from flat_params import split_flat


# -- claim C4: a three-variable y(u, v, z) ---------------------------------------------
def _y(p):
    u, v, z = p[0], p[1], p[2]
    return u ** 2 * v + v * nb.exp(z) + u * z ** 3 + nb.tanh(u * v)


def _y_gradient(p):
    u, v, z = p
    t = np.tanh(u * v)
    return np.array([
        2 * u * v + z ** 3 + v * (1 - t ** 2),
        u ** 2 + np.exp(z) + u * (1 - t ** 2),
        v * np.exp(z) + 3 * u * z ** 2,
    ])


def _y_hessian(p):
    u, v, z = p
    t = np.tanh(u * v)
    s = 1 - t ** 2  # tanh' = 1 - tanh^2, tanh'' = -2 tanh (1 - tanh^2)
    return np.array([
        [2 * v - 2 * v ** 2 * t * s, 2 * u + s * (1 - 2 * u * v * t), 3 * z ** 2],
        [2 * u + s * (1 - 2 * u * v * t), -2 * u ** 2 * t * s, np.exp(z)],
        [3 * z ** 2, np.exp(z), v * np.exp(z) + 6 * u * z],
    ])


POINT = np.array([0.7, -1.3, 0.4])


def test_c4_jacobian_of_y_is_its_gradient_row():
    np.testing.assert_allclose(nb.jacobian(_y)(POINT), _y_gradient(POINT), rtol=1e-13)
    np.testing.assert_allclose(nb.grad(_y)(POINT), _y_gradient(POINT), rtol=1e-13)


def test_c4_hessian_of_y_matches_hand_derivation_and_is_symmetric():
    H = nb.hessian(_y)(POINT)
    np.testing.assert_allclose(H, _y_hessian(POINT), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(H, H.T, atol=1e-14)


def test_c4_jacobian_of_vector_function_is_m_by_n():
    def f(p):
        return nb.stack([_y(p), p[0] * p[1] * p[2]])

    u, v, z = POINT
    expected = np.stack([_y_gradient(POINT), [v * z, u * z, u * v]])
    J = nb.jacobian(f)(POINT)
    assert J.shape == (2, 3)
    np.testing.assert_allclose(J, expected, rtol=1e-13)


def _slope(hs, errors):
    return np.polyfit(np.log(hs), np.log(errors), 1)[0]


def test_c4_taylor_errors_fall_like_h_squared_and_h_cubed():
    direction = np.array([0.6, -0.3, 0.74])
    direction /= np.linalg.norm(direction)
    f0, J, H = float(_y(POINT)), nb.grad(_y)(POINT), nb.hessian(_y)(POINT)
    hs = np.logspace(-3, -1, 9)
    first, second = [], []
    for h in hs:
        step = h * direction
        exact = float(_y(POINT + step))
        linear = f0 + J @ step
        first.append(abs(exact - linear))
        second.append(abs(exact - linear - 0.5 * step @ H @ step))
    assert _slope(hs, first) == pytest.approx(2.0, abs=0.1)
    assert _slope(hs, second) == pytest.approx(3.0, abs=0.1)


# -- closed forms ----------------------------------------------------------------------
def test_hessian_of_quadratic_form_is_a_plus_a_transpose(rng):
    A = rng.standard_normal((5, 5))
    H = nb.hessian(lambda x: x @ A @ x)(rng.standard_normal(5))
    np.testing.assert_allclose(H, A + A.T, rtol=1e-13, atol=1e-14)


def test_jacobian_of_linear_map_is_the_matrix(rng):
    W = rng.standard_normal((4, 3))
    np.testing.assert_array_equal(nb.jacobian(lambda x: W @ x)(rng.standard_normal(3)), W)


def test_hvp_equals_hessian_times_vector(rng):
    def f(x):
        return nb.sum(nb.tanh(x) ** 3) + nb.logsumexp(x * x)

    x, v = rng.standard_normal(6), rng.standard_normal(6)
    np.testing.assert_allclose(nb.hvp(f)(x, v), nb.hessian(f)(x) @ v, rtol=1e-12, atol=1e-14)


def test_jacobian_of_matrix_input_has_out_shape_plus_arg_shape(rng):
    X = rng.standard_normal((2, 3))
    J = nb.jacobian(lambda X: X ** 2)(X)
    assert J.shape == (2, 3, 2, 3)
    np.testing.assert_allclose(J.reshape(6, 6), np.diag(2 * X.ravel()))


def test_jacobian_in_chunks_matches_one_pass(rng, monkeypatch):
    from nablanet.autodiff import transforms

    x = rng.standard_normal(7)
    whole = nb.jacobian(lambda x: nb.exp(x) * x[0])(x)
    monkeypatch.setattr(transforms, "_JACOBIAN_CHUNK", 3)
    np.testing.assert_array_equal(nb.jacobian(lambda x: nb.exp(x) * x[0])(x), whole)


# -- argnums, nesting ------------------------------------------------------------------
def test_argnums_tuple_returns_a_tuple(rng):
    x, y = rng.standard_normal(3), rng.standard_normal(3)
    gx, gy = nb.grad(lambda x, y: nb.sum(x * y ** 2), argnums=(0, 1))(x, y)
    np.testing.assert_allclose(gx, y ** 2)
    np.testing.assert_allclose(gy, 2 * x * y)
    (only_y,) = nb.grad(lambda x, y: nb.sum(x * y ** 2), argnums=(1,))(x, y)
    np.testing.assert_allclose(only_y, gy)
    np.testing.assert_allclose(nb.grad(lambda x, y: nb.sum(x * y), argnums=-1)(x, y), x)


def test_argnums_out_of_range_is_a_clear_error():
    with pytest.raises(ValueError, match="argnums 2 out of range"):
        nb.grad(lambda x: nb.sum(x), argnums=2)(np.ones(2))


def test_grad_of_grad_and_third_derivative():
    f = lambda x: nb.sum(x ** 4)  # noqa: E731
    d1, d2 = nb.grad(f), nb.grad(lambda x: nb.sum(nb.grad(f)(x)))
    d3 = nb.grad(lambda x: nb.sum(nb.grad(lambda y: nb.sum(nb.grad(f)(y)))(x)))
    x = np.array([0.5, -2.0])
    np.testing.assert_allclose(d1(x), 4 * x ** 3)
    np.testing.assert_allclose(d2(x), 12 * x ** 2)
    np.testing.assert_allclose(d3(x), 24 * x)


def test_jacobian_of_hessian_is_the_third_derivative_tensor():
    x = np.array([0.3, -0.8])
    T = nb.jacobian(nb.hessian(lambda x: nb.sum(nb.exp(x)) * x[0]))(x)
    # f = x0 * (e^x0 + e^x1): the only nonzero third partials
    expected = np.zeros((2, 2, 2))
    expected[0, 0, 0] = (3 + x[0]) * np.exp(x[0])
    expected[1, 1, 0] = expected[1, 0, 1] = expected[0, 1, 1] = np.exp(x[1])
    expected[1, 1, 1] = x[0] * np.exp(x[1])
    np.testing.assert_allclose(T, expected, rtol=1e-12)


def test_nested_transforms_keep_their_variables_apart():
    # d/dx [ x * d/dy (x y) ] = d/dx [x * x] = 2x (no perturbation confusion)
    def outer(x):
        return x * nb.grad(lambda y: nb.sum(x * y))(np.array(3.0))

    assert float(nb.grad(outer)(np.array(2.0))) == pytest.approx(4.0)


def test_value_and_grad_and_vjp_with_batch_axes(rng):
    A = rng.standard_normal((3, 2))
    value, g = nb.value_and_grad(lambda x: nb.sum((A @ x) ** 2))(np.ones(2))
    assert float(value) == pytest.approx(np.sum((A @ np.ones(2)) ** 2))
    np.testing.assert_allclose(g, 2 * A.T @ A @ np.ones(2))
    out, pullback = nb.vjp(lambda x: A @ x, np.ones(2))
    np.testing.assert_allclose(out, A @ np.ones(2))
    cots = rng.standard_normal((4, 5, 3))  # two leading batch axes
    (pulled,) = pullback(cots)
    np.testing.assert_allclose(pulled, cots @ A)
    with pytest.raises(ValueError, match=r"cotangent has shape \(2,\), expected \(3,\)"):
        pullback(np.ones(2))


def test_float32_stays_float32_through_grad_and_hessian():
    x = np.array([0.5, 1.5], dtype=np.float32)
    g = nb.grad(lambda x: nb.sum(nb.tanh(x) * x))(x)
    assert g.dtype == np.float32
    assert nb.hessian(lambda x: nb.sum(x ** 3))(x).dtype == np.float32


def test_tensor_input_and_output_of_transforms():
    g = nb.grad(lambda x: (x * x).sum())(nb.tensor([1.0, 2.0]))
    np.testing.assert_allclose(g, [2.0, 4.0])


def test_function_not_depending_on_input_has_zero_gradient():
    np.testing.assert_array_equal(nb.grad(lambda x: nb.tensor(3.0))(np.ones(2)), np.zeros(2))
    np.testing.assert_array_equal(nb.jacobian(lambda x: np.ones(3))(np.ones(2)), np.zeros((3, 2)))


# -- bad input -------------------------------------------------------------------------
def test_grad_of_non_scalar_says_use_jacobian():
    with pytest.raises(TypeError, match=r"scalar output, got shape \(3,\).*jacobian"):
        nb.grad(lambda x: x * 2)(np.ones(3))


def test_integer_inputs_are_rejected_clearly():
    with pytest.raises(TypeError, match="argument 0 has dtype int64.*floating-point"):
        nb.grad(lambda x: nb.sum(x * 1.0))(np.array([1, 2]))


def test_hvp_needs_a_direction_and_valid_argnums():
    with pytest.raises(TypeError, match="int or a tuple of ints"):
        nb.hvp(lambda x: nb.sum(x), argnums=0.5)(np.ones(2), np.ones(2))
    with pytest.raises(TypeError, match="point x and the direction v"):
        nb.hvp(lambda x: nb.sum(x))(np.ones(2))


# -- torch.func parity -----------------------------------------------------------------
def _rosenbrock(x):
    return nb.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def test_rosenbrock_hessian_matches_torch_func():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(3).uniform(-1.5, 1.5, 6)

    def rosenbrock_torch(x):
        return torch.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    expected = torch.func.hessian(rosenbrock_torch)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(nb.hessian(_rosenbrock)(x), expected, rtol=1e-10, atol=1e-10)


def test_mlp_loss_hessian_over_all_parameters_matches_torch_func():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    X, labels = rng.standard_normal((12, 4)), rng.integers(0, 3, 12)
    Y = np.eye(3)[labels]
    sizes = [(4, 5), (5,), (5, 3), (3,)]
    theta = 0.5 * rng.standard_normal(sum(int(np.prod(s)) for s in sizes))

    def unpack(t):
        return split_flat(t, sizes)

    def loss_nb(t):
        W1, b1, W2, b2 = unpack(t)
        z = nb.tanh(X @ W1 + b1) @ W2 + b2
        return nb.mean(nb.logsumexp(z, axis=1) - nb.sum(z * Y, axis=1))

    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)

    def loss_torch(t):
        W1, b1, W2, b2 = unpack(t)
        z = torch.tanh(Xt @ W1 + b1) @ W2 + b2
        return torch.mean(torch.logsumexp(z, dim=1) - torch.sum(z * Yt, dim=1))

    expected = torch.func.hessian(loss_torch)(torch.from_numpy(theta)).numpy()
    np.testing.assert_allclose(nb.hessian(loss_nb)(theta), expected, rtol=1e-10, atol=1e-10)
    v = rng.standard_normal(theta.size)
    np.testing.assert_allclose(nb.hvp(loss_nb)(theta, v), expected @ v, rtol=1e-10, atol=1e-10)
