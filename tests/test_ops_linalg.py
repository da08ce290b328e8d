"""Matrix products: shapes, closed-form gradients, batched operands and the GEMM fast path."""

import numpy as np
import pytest

import nablanet as nb
from nablanet.checks import check_grads
from nablanet.ops.linalg import _matmul_impl


@pytest.mark.parametrize(
    "a_shape, b_shape",
    [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)),
     ((2, 3), (5, 3, 4)), ((5, 2, 3), (1, 3, 4))],
)
def test_matmul_values_and_gradient_shapes(rng, a_shape, b_shape):
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    np.testing.assert_allclose(nb.matmul(a, b), np.matmul(a, b), rtol=1e-13)
    ga, gb = nb.grad(lambda a, b: nb.sum(nb.matmul(a, b) ** 2), argnums=(0, 1))(a, b)
    assert ga.shape == a_shape and gb.shape == b_shape
    check_grads(lambda a, b: nb.matmul(a, b) ** 2, [a, b], order=2)


def test_matmul_gradients_closed_form(rng):
    A, B, G = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal((3, 2))
    gA, gB = nb.grad(lambda A, B: nb.sum((A @ B) * G), argnums=(0, 1))(A, B)
    np.testing.assert_allclose(gA, G @ B.T, rtol=1e-13)  # dL/dA = G B^T
    np.testing.assert_allclose(gB, A.T @ G, rtol=1e-13)  # dL/dB = A^T G


def test_jacobian_of_w_x_is_w_and_of_x_w_is_kron(rng):
    W = rng.standard_normal((4, 3))
    np.testing.assert_array_equal(nb.jacobian(lambda x: W @ x)(rng.standard_normal(3)), W)
    X = rng.standard_normal((2, 4))
    J = nb.jacobian(lambda W: X @ W)(W)  # d(XW)_ij / dW_kl = X_ik delta_jl
    np.testing.assert_allclose(J, np.einsum("ik,jl->ijkl", X, np.eye(3)))


def test_gemm_fast_path_equals_numpy_for_any_layout(rng):
    a = rng.standard_normal((4, 5, 3))
    b = rng.standard_normal((3, 2))
    for a_view in (a, a.transpose(1, 0, 2), a[:, ::2]):
        np.testing.assert_allclose(_matmul_impl(a_view, b), np.matmul(a_view, b), rtol=1e-13)
        np.testing.assert_allclose(_matmul_impl(b.T, a_view.swapaxes(-1, -2)),
                                   np.matmul(b.T, a_view.swapaxes(-1, -2)), rtol=1e-13)


def test_tall_narrow_product_is_exact_and_differentiable(rng):
    # above 4096 rows and at most 32 columns the product is computed transposed
    a, b = rng.standard_normal((2, 2100, 5)), rng.standard_normal((5, 3))
    np.testing.assert_allclose(_matmul_impl(a, b), np.matmul(a, b), rtol=1e-12)
    w = rng.standard_normal((2, 2100, 3))
    gb = nb.grad(lambda b: nb.sum(nb.matmul(a, b) * w))(b)
    np.testing.assert_allclose(gb, np.einsum("bik,bij->kj", a, w), rtol=1e-10)


def test_outer_vdot_dot(rng):
    a, b = rng.standard_normal(3), rng.standard_normal(4)
    np.testing.assert_allclose(nb.outer(a, b), np.outer(a, b))
    np.testing.assert_allclose(nb.vdot(a, a), a @ a)
    ga, gb = nb.grad(lambda a, b: nb.sum(nb.outer(a, b)), argnums=(0, 1))(a, b)
    np.testing.assert_allclose(ga, np.full(3, b.sum()))
    np.testing.assert_allclose(gb, np.full(4, a.sum()))
    assert nb.dot is nb.matmul


def test_matmul_bad_shapes_are_clear_errors():
    with pytest.raises(ValueError, match=r"at least one dimension, got shapes \(\) and \(3,\)"):
        nb.matmul(np.array(2.0), np.ones(3))
    with pytest.raises(ValueError, match=r"matmul: cannot apply to shapes \(2, 3\), \(4, 1\)"):
        nb.matmul(np.ones((2, 3)), np.ones(4))
