"""nablanet.hvp: the direction as the gradient's cotangent, nested, broadcast, bad input."""

import numpy as np
import pytest

import nablanet as nb


def _quartic(x):
    return nb.sum(x ** 4) + nb.sum(nb.tanh(x[:-1] * x[1:]))


def test_hvp_matches_hessian_times_v_for_several_directions(rng):
    x = rng.standard_normal(5)
    H = nb.hessian(_quartic)(x)
    for v in rng.standard_normal((3, 5)):
        np.testing.assert_allclose(nb.hvp(_quartic)(x, v), H @ v, rtol=1e-12, atol=1e-13)


def test_hvp_of_second_argument_and_matrix_argument(rng):
    A, x, v = rng.standard_normal((3, 3)), rng.standard_normal((2, 3)), rng.standard_normal((2, 3))

    def f(scale, X):
        return scale * nb.sum(nb.exp(X @ A))

    # the Hessian in X of sum(exp(X A)): row i gets A diag(exp(x_i A)) A^T v_i
    expected = np.stack([A @ (np.exp(x[i] @ A) * (v[i] @ A)) for i in range(2)])
    np.testing.assert_allclose(nb.hvp(f, argnums=1)(2.0, x, v), 2.0 * expected, rtol=1e-12)


def test_hvp_of_affine_function_is_zero_with_the_input_dtype():
    x = np.array([1.0, 2.0], dtype=np.float32)
    out = nb.hvp(lambda x: nb.sum(3.0 * x))(x, np.ones(2, dtype=np.float32))
    np.testing.assert_array_equal(out, np.zeros(2))
    assert out.dtype == np.float32
    constant = nb.hvp(lambda x: nb.tensor(3.0))(np.ones(3), np.ones(3))  # no path from x
    np.testing.assert_array_equal(constant, np.zeros(3))


def test_hvp_broadcasts_a_scalar_direction_and_accepts_tensors():
    x = np.array([0.5, -1.0, 2.0])
    expected = 12 * x ** 2 * 2.0  # H = diag(12 x^2), v = (2, 2, 2)
    np.testing.assert_allclose(nb.hvp(lambda x: nb.sum(x ** 4))(x, 2.0), expected)
    out = nb.hvp(lambda x: nb.sum(x ** 4))(nb.tensor(x), nb.tensor(np.full(3, 2.0)))
    np.testing.assert_allclose(out, expected)


def test_hvp_direction_of_wrong_shape_is_a_clear_error():
    with pytest.raises(ValueError, match=r"direction v has shape \(2,\), expected \(3,\)"):
        nb.hvp(lambda x: nb.sum(x ** 4))(np.ones(3), np.ones(2))


def test_hvp_inside_grad_gives_third_derivatives():
    # f = sum x^4: H v = 12 x^2 v, so d/dx sum(H v) = 24 x v
    x, v = np.array([0.5, -1.5]), np.array([2.0, 3.0])
    third = nb.grad(lambda x: nb.sum(nb.hvp(lambda y: nb.sum(y ** 4))(x, v)))(x)
    np.testing.assert_allclose(third, 24 * x * v)


def test_jacobian_of_hvp_in_the_direction_is_the_hessian(rng):
    x = rng.standard_normal(4)
    J = nb.jacobian(lambda u: nb.hvp(_quartic)(x, u))(rng.standard_normal(4))
    np.testing.assert_allclose(J, nb.hessian(_quartic)(x), rtol=1e-12, atol=1e-13)


def test_hvp_matches_torch_double_backward():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    W, x, v = rng.standard_normal((4, 6)), rng.standard_normal(6), rng.standard_normal(6)

    def f(x):
        return nb.logsumexp(nb.tanh(W @ x), axis=0) + nb.sum(x ** 3) / 6

    Wt = torch.from_numpy(W)
    xt = torch.from_numpy(x).requires_grad_(True)
    value = torch.logsumexp(torch.tanh(Wt @ xt), dim=0) + torch.sum(xt ** 3) / 6
    (g,) = torch.autograd.grad(value, xt, create_graph=True)
    (expected,) = torch.autograd.grad(g @ torch.from_numpy(v), xt)
    np.testing.assert_allclose(nb.hvp(f)(x, v), expected.numpy(), rtol=1e-10, atol=1e-10)
