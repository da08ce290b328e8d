"""jacobian / hessian: rows per backward pass sized by the widest tensor of the graph."""

import numpy as np

import nablanet as nb
from nablanet.autodiff import transforms
from nablanet.autodiff.tensor import Tensor


def _mlp_like(theta):
    W, b = theta[:12].reshape(3, 4), theta[12:]
    X = np.linspace(-1.0, 1.0, 30).reshape(10, 3)
    return nb.sum(nb.logsumexp(nb.tanh(X @ W + b), axis=1))


def test_rows_per_pass_divides_the_byte_budget_by_the_widest_tensor(monkeypatch):
    x = Tensor(np.ones(10), requires_grad=True)
    out = nb.sum(nb.reshape(x, (10, 1)) * nb.reshape(x, (1, 10)))  # widest: 10 x 10 float64
    monkeypatch.setattr(transforms, "_CHUNK_BYTES", 8 * 100 * 11)
    assert transforms._rows_per_pass(out, [x]) == 11
    monkeypatch.setattr(transforms, "_CHUNK_BYTES", 10)
    assert transforms._rows_per_pass(out, [x]) == transforms._MIN_ROWS
    monkeypatch.setattr(transforms, "_CHUNK_BYTES", 2 ** 40)
    monkeypatch.setattr(transforms, "_JACOBIAN_CHUNK", 5)
    assert transforms._rows_per_pass(out, [x]) == 5


def test_hessian_in_small_passes_equals_one_pass(monkeypatch):
    theta = np.random.default_rng(5).standard_normal(16)
    monkeypatch.setattr(transforms, "_CHUNK_BYTES", 2 ** 40)
    whole = nb.hessian(_mlp_like)(theta)
    monkeypatch.setattr(transforms, "_MIN_ROWS", 1)
    for budget in (1, 8 * 40 * 3):  # one row per pass; three rows (widest tensor 10 x 4)
        monkeypatch.setattr(transforms, "_CHUNK_BYTES", budget)
        np.testing.assert_array_equal(nb.hessian(_mlp_like)(theta), whole)
    np.testing.assert_allclose(whole, whole.T, atol=1e-13)


def test_jacobian_of_hessian_in_passes_keeps_the_graph(monkeypatch):
    # nested: the outer jacobian differentiates through the chunked inner one
    x = np.array([0.3, -0.8, 0.5])
    f = lambda x: nb.sum(nb.exp(x)) * x[0]  # noqa: E731
    expected = nb.jacobian(nb.hessian(f))(x)
    monkeypatch.setattr(transforms, "_CHUNK_BYTES", 8)
    monkeypatch.setattr(transforms, "_MIN_ROWS", 1)
    np.testing.assert_allclose(nb.jacobian(nb.hessian(f))(x), expected, rtol=1e-13)
    assert np.isclose(expected[0, 0, 0], (3 + x[0]) * np.exp(x[0]), rtol=1e-13)


def test_matrix_times_stack_of_column_vectors_is_numpy_matmul(rng):
    from nablanet.ops.linalg import matmul2

    A = rng.standard_normal((5, 4))
    for stack in (rng.standard_normal((3, 4, 1)), rng.standard_normal((2, 3, 4, 1))):
        out = matmul2(A, stack)
        assert out.shape == stack.shape[:-2] + (5, 1)
        np.testing.assert_allclose(out, np.matmul(A, stack), rtol=1e-14, atol=1e-14)
    view = rng.standard_normal((3, 6, 2))[:, 1:5, :1]  # a non-contiguous stack
    np.testing.assert_allclose(matmul2(A, view), np.matmul(A, view), rtol=1e-14, atol=1e-14)


def test_hessian_of_logistic_loss_in_a_weight_vector_matches_closed_form(rng):
    # H = X^T diag(p (1 - p)) X / n: its batched backward multiplies X by stacked vectors
    X, y = rng.standard_normal((40, 6)), (rng.random(40) < 0.5).astype(float)
    w = 0.3 * rng.standard_normal(6)

    def loss(w):
        z = X @ w
        return nb.mean(nb.log(1 + nb.exp(z)) - y * z)

    p = 1 / (1 + np.exp(-X @ w))
    expected = X.T @ (X * (p * (1 - p))[:, None]) / 40
    np.testing.assert_allclose(nb.hessian(loss)(w), expected, rtol=1e-12, atol=1e-14)
