"""nablanet.linalg: values equal numpy.linalg, closed-form gradients, and clear refusals."""

import numpy as np
import pytest

import nablanet as nb

LA = nb.linalg


def _spd(rng, n, batch=()):
    x = rng.standard_normal(batch + (n, n))
    return x @ np.swapaxes(x, -1, -2) + n * np.eye(n)


def _sign_fixed(v):
    """Eigen/singular vectors up to sign: make each column's largest entry positive."""
    idx = np.argmax(np.abs(v), axis=-2)[..., None, :]
    return v * np.sign(np.take_along_axis(v, idx, axis=-2))


def test_values_equal_numpy_on_stacks(rng):
    a = rng.standard_normal((2, 4, 4)) + 3 * np.eye(4)
    b = rng.standard_normal((2, 4, 3))
    s = _spd(rng, 4, (2,))
    t = rng.standard_normal((2, 5, 3))
    np.testing.assert_allclose(LA.inv(a), np.linalg.inv(a), rtol=1e-12)
    np.testing.assert_allclose(LA.solve(a, b), np.linalg.solve(a, b), rtol=1e-12)
    np.testing.assert_allclose(LA.solve(a[0], b[0, :, 0]), np.linalg.solve(a[0], b[0, :, 0]))
    np.testing.assert_allclose(LA.det(a), np.linalg.det(a), rtol=1e-12)
    for ours, theirs in zip(LA.slogdet(a), np.linalg.slogdet(a), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    np.testing.assert_allclose(LA.cholesky(s), np.linalg.cholesky(s), rtol=1e-12)
    np.testing.assert_allclose(LA.cholesky(s, upper=True), np.linalg.cholesky(s, upper=True))
    w, v = LA.eigh(s)
    nw, nv = np.linalg.eigh(s)
    np.testing.assert_allclose(w, nw, rtol=1e-12)
    np.testing.assert_allclose(_sign_fixed(np.asarray(v)), _sign_fixed(nv), atol=1e-10)
    u, sv, vh = LA.svd(t, full_matrices=False)
    np.testing.assert_allclose(sv, np.linalg.svd(t, compute_uv=False), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(u) * np.asarray(sv)[..., None, :] @ np.asarray(vh), t,
                               atol=1e-12)
    assert LA.svd(t).U.shape == (2, 5, 5)
    q, r = LA.qr(t)
    np.testing.assert_allclose(np.asarray(q) @ np.asarray(r), t, atol=1e-12)
    np.testing.assert_allclose(LA.qr(t, mode="r"), np.linalg.qr(t, mode="r"), atol=1e-12)
    np.testing.assert_allclose(LA.pinv(t), np.linalg.pinv(t), rtol=1e-10)
    np.testing.assert_allclose(LA.matrix_power(a, 3), np.linalg.matrix_power(a, 3), rtol=1e-12)
    np.testing.assert_allclose(LA.matrix_power(a, -2), np.linalg.matrix_power(a, -2))
    np.testing.assert_allclose(LA.matrix_power(a, 0), np.linalg.matrix_power(a, 0))
    x, res, rank, sing = LA.lstsq(t[0], b[0, :, 0][:3].repeat(2)[:5])
    nx, nres, nrank, nsing = np.linalg.lstsq(t[0], b[0, :, 0][:3].repeat(2)[:5])
    np.testing.assert_allclose(x, nx, rtol=1e-10)
    np.testing.assert_allclose(res, nres, rtol=1e-10)
    assert rank == nrank


def test_solve_triangular_matches_scipy(rng):
    scipy_linalg = pytest.importorskip("scipy.linalg")
    a, b = rng.standard_normal((4, 4)) + 4 * np.eye(4), rng.standard_normal((4, 2))
    for kw in ({"lower": True}, {"lower": False}, {"trans": 1, "lower": True},
               {"unit_diagonal": True}):
        np.testing.assert_allclose(LA.solve_triangular(a, b, **kw),
                                   scipy_linalg.solve_triangular(a, b, **kw), rtol=1e-12)


@pytest.mark.parametrize("order", [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf])
def test_matrix_norms_match_numpy(order, rng):
    ord = order  # noqa: A001 - NumPy's name
    x = rng.standard_normal((2, 3, 4))
    np.testing.assert_allclose(LA.norm(x, ord, axis=(1, 2)), np.linalg.norm(x, ord, axis=(1, 2)))
    np.testing.assert_allclose(LA.norm(x[0], ord, keepdims=True) if ord is not None
                               else LA.norm(x[0], keepdims=True),
                               np.linalg.norm(x[0], ord, keepdims=True))


@pytest.mark.parametrize("order", [None, 1, 2, 3, 0.5, 0, np.inf, -np.inf])
def test_vector_norms_match_numpy(order, rng):
    ord = order  # noqa: A001
    x = rng.standard_normal((3, 4))
    np.testing.assert_allclose(LA.norm(x, ord, axis=1), np.linalg.norm(x, ord, axis=1))
    ours = LA.norm(x, ord, axis=0, keepdims=True)
    assert np.shape(ours) == (1, 4)
    np.testing.assert_allclose(ours, np.linalg.norm(x, ord, axis=0, keepdims=True))


def test_norm_gradient_at_zero_is_zero():
    np.testing.assert_array_equal(nb.grad(LA.norm)(np.zeros(3)), np.zeros(3))


def test_closed_form_gradients(rng):
    a = rng.standard_normal((4, 4)) + 3 * np.eye(4)
    inv = np.linalg.inv(a)
    # d log|det A| / dA = A^-T;  d det A / dA = det(A) A^-T;  d tr(A^-1) / dA = -(A^-2)^T
    np.testing.assert_allclose(nb.grad(lambda m: LA.slogdet(m)[1])(a), inv.T, rtol=1e-12)
    np.testing.assert_allclose(nb.grad(LA.det)(a), np.linalg.det(a) * inv.T, rtol=1e-12)
    np.testing.assert_allclose(nb.grad(lambda m: nb.trace(LA.inv(m)))(a), -(inv @ inv).T,
                               rtol=1e-12)
    s = _spd(rng, 4)
    w, v = np.linalg.eigh(s)
    # d lambda_max / dA on the read (lower) triangle: v v^T with the off-diagonal doubled
    g = nb.grad(lambda m: LA.eigh(m)[0][-1])(s)
    outer = np.outer(v[:, -1], v[:, -1])
    np.testing.assert_allclose(g, np.tril(2 * outer) - np.diag(np.diag(outer)), atol=1e-12)
    g_sym = nb.grad(lambda m: LA.eigvalsh(m + m.T)[-1])(s)
    np.testing.assert_allclose(g_sym, 2 * outer, atol=1e-12)


def test_eigh_reads_one_triangle_like_numpy(rng):
    s = _spd(rng, 3)
    g_lower = nb.grad(lambda m: nb.sum(LA.eigh(m)[0] ** 3))(s)
    g_upper = nb.grad(lambda m: nb.sum(LA.eigh(m, UPLO="U")[0] ** 3))(s)
    assert np.all(np.triu(g_lower, 1) == 0) and np.all(np.tril(g_upper, -1) == 0)
    np.testing.assert_allclose(g_lower, g_upper.T, atol=1e-12)


def test_singular_matrices_are_refused_with_a_fix(rng):
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(LA.LinAlgError, match="singular.*pinv"):
        LA.inv(singular)
    with pytest.raises(LA.LinAlgError, match="singular"):
        LA.solve(singular, np.ones(2))
    with pytest.raises(LA.LinAlgError, match="adjugate"):
        nb.grad(LA.det)(singular)
    with pytest.raises(LA.LinAlgError, match="no derivative"):
        nb.grad(lambda m: LA.slogdet(m)[1])(singular)
    with pytest.raises(LA.LinAlgError, match="not positive definite"):
        LA.cholesky(-np.eye(2))


def test_repeated_eigenvalues_refuse_the_eigenvector_gradient_only():
    a = np.diag([1.0, 1.0, 3.0])
    with pytest.raises(LA.LinAlgError, match="repeat"):
        nb.grad(lambda m: nb.sum(LA.eigh(m)[1][:, 0] ** 3))(a)
    np.testing.assert_allclose(nb.grad(lambda m: nb.sum(LA.eigh(m)[0] ** 2))(a),
                               np.diag([2.0, 2.0, 6.0]), atol=1e-12)
    with pytest.raises(LA.LinAlgError, match="repeat"):
        nb.grad(lambda m: nb.sum(LA.svd(m)[0] ** 3))(a)
    np.testing.assert_allclose(nb.grad(lambda m: nb.sum(LA.svdvals(m)))(a), np.eye(3),
                               atol=1e-12)


def test_undefined_decomposition_derivatives_are_refused(rng):
    t = rng.standard_normal((5, 3))
    with pytest.raises(LA.LinAlgError, match="full_matrices=False"):
        nb.grad(lambda m: nb.sum(LA.svd(m)[0]))(t)
    with pytest.raises(LA.LinAlgError, match="m >= n"):
        nb.grad(lambda m: nb.sum(LA.qr(m)[0]))(t.T)


def test_non_square_input_is_refused_at_the_boundary():
    with pytest.raises(LA.LinAlgError, match="square"):
        LA.inv(np.ones((2, 3)))
    with pytest.raises(LA.LinAlgError, match="square"):
        LA.eigh(np.ones(3))


def test_batched_cotangents_through_decompositions(rng):
    s = _spd(rng, 3, (2,))
    jac = nb.jacobian(lambda m: LA.eigh(m)[1])(s)
    assert jac.shape == (2, 3, 3, 2, 3, 3)
    hess = nb.hessian(lambda m: LA.slogdet(m)[1].sum())(s)
    inv = np.linalg.inv(s)
    # d^2 log det / dA_ij dA_kl = -(A^-1)_li (A^-1)_jk
    expected = np.zeros((2, 3, 3, 2, 3, 3))
    for b in range(2):
        expected[b, :, :, b] = -np.einsum("li,jk->ijkl", inv[b], inv[b])
    np.testing.assert_allclose(hess, expected, atol=1e-12)


def test_a_vector_right_hand_side_broadcasts_over_a_stack(rng):
    a = rng.standard_normal((2, 3, 3)) + 3 * np.eye(3)
    b = rng.standard_normal(3)
    np.testing.assert_allclose(LA.solve(a, b), np.linalg.solve(a, b), rtol=1e-12)
    g = nb.grad(lambda v: nb.sum(LA.solve(a, v)))(b)
    expected = np.linalg.solve(np.swapaxes(a, -1, -2), np.ones((2, 3, 1))).sum(axis=0)[:, 0]
    np.testing.assert_allclose(g, expected, rtol=1e-12)
    scipy_linalg = pytest.importorskip("scipy.linalg")
    ours = LA.solve_triangular(a, b, lower=True)
    assert ours.shape == (2, 3)
    np.testing.assert_allclose(ours[1], scipy_linalg.solve_triangular(a[1], b, lower=True))


def test_a_replayed_backward_pass_repeats_the_repeated_eigenvalue_check(rng):
    grad = nb.value_and_grad(lambda m: nb.sum(LA.eigh(m)[1][:, 0] ** 3), replay=True)
    for _ in range(3):  # recorded, then replayed
        x = rng.standard_normal((3, 3))
        grad(x + x.T)
    with pytest.raises(LA.LinAlgError, match="repeat"):
        grad(np.diag([1.0, 1.0, 3.0]))


def test_large_inverse_through_lapack_matches_numpy_and_refuses_singular(rng):
    a = rng.standard_normal((120, 120)) + 12 * np.eye(120)
    np.testing.assert_allclose(LA.inv(a), np.linalg.inv(a), rtol=1e-10, atol=1e-14)
    with pytest.raises(LA.LinAlgError, match="singular"):
        LA.inv(np.ones((120, 120)))
