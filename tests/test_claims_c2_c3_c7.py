"""Claims C2 (batch norm backward), C3 (the two-layer network), C7 (CE curvature)."""

import numpy as np
import pytest

import nablanet as nb
from nablanet import ops

# -- C2 ---------------------------------------------------------------------------------------


def _bn_setup(rng, n=7, c=3):
    x = rng.standard_normal((n, c)) * 2 + 1
    gamma, beta = rng.standard_normal(c), rng.standard_normal(c)
    upstream = rng.standard_normal((n, c))
    return x, gamma, beta, upstream


def test_c2_centering_only_gradient_is_gamma_times_centred_upstream(rng):
    x, gamma, beta, g = _bn_setup(rng)

    def centred(x):
        return ((x - nb.mean(x, axis=0)) * gamma + beta) * g

    dx = nb.grad(lambda x: centred(x).sum())(x)
    np.testing.assert_allclose(dx, gamma * (g - g.mean(axis=0)), atol=1e-13)


def test_c2_full_backward_formula_and_zero_sum(rng):
    x, gamma, beta, g = _bn_setup(rng)
    eps = 1e-5
    dx = nb.grad(lambda x: (ops.batch_norm(x, None, None, gamma, beta, True) * g).sum())(x)
    var = x.var(axis=0)
    xhat = (x - x.mean(axis=0)) / np.sqrt(var + eps)
    expected = gamma / np.sqrt(var + eps) * (
        g - g.mean(axis=0) - xhat * (g * xhat).mean(axis=0)
    )
    np.testing.assert_allclose(dx, expected, atol=1e-12)
    np.testing.assert_allclose(dx.sum(axis=0), 0.0, atol=1e-12)
    dgamma, dbeta = nb.grad(
        lambda w, b: (ops.batch_norm(x, None, None, w, b, True) * g).sum(), argnums=(0, 1)
    )(gamma, beta)
    np.testing.assert_allclose(dgamma, (g * xhat).sum(axis=0), atol=1e-12)
    np.testing.assert_allclose(dbeta, g.sum(axis=0), atol=1e-12)


def test_c2_batch_of_one_gives_beta_and_zero_gradient(rng):
    x, gamma, beta, g = _bn_setup(rng, n=1)
    rm, rv = np.zeros(3), np.ones(3)
    out = ops.batch_norm(x, rm, rv, gamma, beta, training=True)
    np.testing.assert_array_equal(out, beta[None, :])
    dx = nb.grad(lambda x: (ops.batch_norm(x, None, None, gamma, beta, True) * g).sum())(x)
    np.testing.assert_array_equal(dx, np.zeros_like(x))
    np.testing.assert_array_equal(rv, np.ones(3))  # unbiased variance undefined: unchanged


def test_c2_module_raises_on_batch_of_one():
    bn = nb.nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"x_hat = 0.*beta.*zero"):
        bn(np.ones((1, 3)))
    bn.eval()
    assert bn(np.ones((1, 3))).shape == (1, 3)


# -- C3 ---------------------------------------------------------------------------------------


def _network(rng, n=6, d=5, h=4, k=3):
    x = rng.standard_normal((n, d))
    w1 = rng.standard_normal((d, h))
    w2 = rng.standard_normal((h, k))
    y = np.eye(k)[rng.integers(0, k, n)]
    mask = (rng.uniform(size=(n, h)) >= 0.2).astype(float)
    return x, w1, w2, y, mask


def _notes_gradient_w1(x, w1, w2, y, mask, scale):
    z1 = x @ w1
    a1 = np.where(z1 > 0, z1, 0.1 * z1) * mask * scale
    z2 = a1 @ w2
    yhat = np.exp(z2 - z2.max(1, keepdims=True))
    yhat /= yhat.sum(1, keepdims=True)
    lrelu_prime = np.where(z1 > 0, 1.0, 0.1)
    return x.T @ (((yhat - y) @ w2.T) * mask * scale * lrelu_prime)


@pytest.mark.parametrize("inverted", [False, True])
def test_c3_two_layer_network_gradient_matches_notes(inverted, rng):
    x, w1, w2, y, mask = _network(rng)
    p = 0.2

    def loss(w1):
        z1 = ops.matmul(x, w1)
        a1 = ops.dropout(ops.leaky_relu(z1, 0.1), p, mask=mask, inverted=inverted)
        return ops.cross_entropy(ops.matmul(a1, w2), y, reduction="sum")

    scale = 1 / (1 - p) if inverted else 1.0
    np.testing.assert_allclose(
        nb.grad(loss)(w1), _notes_gradient_w1(x, w1, w2, y, mask, scale), atol=1e-12, rtol=0
    )


def test_c3_softmax_jacobian(rng):
    z = rng.standard_normal(4)
    p = ops.softmax(z)
    jac = nb.jacobian(ops.softmax)(z)
    np.testing.assert_allclose(jac, p[:, None] * (np.eye(4) - p[None, :]), atol=1e-15)


# -- C7 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["index", "soft"])
def test_c7_hessian_is_diag_p_minus_ppT_psd_and_singular(target, rng):
    z = rng.standard_normal(5) * 3
    y = np.array(2) if target == "index" else rng.dirichlet(np.ones(5))
    hess = nb.hessian(lambda z: ops.cross_entropy(z, y, reduction="sum"))(z)
    p = ops.softmax(z)
    np.testing.assert_allclose(hess, np.diag(p) - np.outer(p, p), atol=1e-14)
    assert np.linalg.eigvalsh(hess).min() >= -1e-14
    np.testing.assert_allclose(hess @ np.ones(5), 0.0, atol=1e-14)


def test_c7_gradient_p_minus_y_for_any_y_summing_to_one(rng):
    z = rng.standard_normal(4)
    y = rng.dirichlet(np.ones(4))
    g = nb.grad(lambda z: ops.cross_entropy(z, y, reduction="sum"))(z)
    np.testing.assert_allclose(g, ops.softmax(z) - y, atol=1e-15)


def test_c7_batched_hessian_block_diagonal(rng):
    z = rng.standard_normal((3, 4))
    labels = np.array([0, 3, 1])
    hess = nb.hessian(lambda z: ops.cross_entropy(z, labels, reduction="sum"))(z)
    p = ops.softmax(z)
    for i in range(3):
        np.testing.assert_allclose(hess[i, :, i, :], np.diag(p[i]) - np.outer(p[i], p[i]),
                                   atol=1e-14)
    assert np.abs(hess[0, :, 1, :]).max() == 0
