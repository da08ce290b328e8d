"""Per-chunk objective pieces against nablanet's autodiff (the reference, DESIGN principle 7)."""

import numpy as np
import pytest

import nablanet as nb
from nablanet.distributed import _chunk


def _binary_objective(X, y, fit_intercept):
    def loss(theta):
        scores = X @ theta[: X.shape[1]] + (theta[-1] if fit_intercept else 0.0)
        return nb.sum(nb.log1p(nb.exp(scores)) - y * scores)
    return loss


def _softmax_objective(X, labels, n_classes, fit_intercept):
    onehot = np.eye(n_classes)[labels]

    def loss(theta):
        theta = nb.reshape(theta, (X.shape[1] + fit_intercept, n_classes))
        scores = X @ theta[: X.shape[1]]
        if fit_intercept:
            scores = scores + theta[X.shape[1]]
        return nb.sum(nb.logsumexp(scores, axis=1)) - nb.sum(scores * onehot)
    return loss


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_binary_block_matches_autodiff(rng, fit_intercept):
    X = rng.normal(size=(40, 3))
    y = (rng.random(40) < 0.5).astype(float)
    theta = rng.normal(size=(3 + fit_intercept, 1))
    loss, grad, hess, misfits = _chunk.binary_loss_grad_hess(X, y, theta, fit_intercept)
    objective = _binary_objective(X, y, fit_intercept)
    flat = theta.ravel()
    np.testing.assert_allclose(loss, float(objective(flat)), rtol=1e-13)
    np.testing.assert_allclose(grad.ravel(), nb.grad(objective)(flat), rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(hess, nb.hessian(objective)(flat), rtol=1e-11, atol=1e-12)
    scores = X @ theta[:3, 0] + (theta[3, 0] if fit_intercept else 0.0)
    assert misfits == np.count_nonzero((2 * y - 1) * scores <= 0)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_softmax_block_matches_autodiff(rng, fit_intercept):
    X = rng.normal(size=(30, 3))
    labels = rng.integers(0, 4, size=30)
    theta = rng.normal(size=(3 + fit_intercept, 4))
    loss, grad, hess, _ = _chunk.softmax_loss_grad_hess(X, labels, theta, fit_intercept)
    objective = _softmax_objective(X, labels, 4, fit_intercept)
    flat = theta.ravel()
    np.testing.assert_allclose(loss, float(objective(flat)), rtol=1e-13)
    np.testing.assert_allclose(grad.ravel(), nb.grad(objective)(flat), rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(hess, nb.hessian(objective)(flat), rtol=1e-11, atol=1e-12)
    # C7: the Hessian is singular along "shift every class by the same amount"
    shift = np.zeros_like(theta)
    shift[0] = 1.0
    np.testing.assert_allclose(hess @ shift.ravel(), 0.0, atol=1e-12)


def test_losses_along_agree_with_direct_evaluation(rng):
    X = rng.normal(size=(25, 2))
    labels = rng.integers(0, 3, size=25)
    theta, step = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    lengths = np.array([1.0, 0.5, 0.125])
    along = _chunk.softmax_losses_along(X, labels, theta, step, lengths, True)
    direct = [_chunk.softmax_loss_grad_hess(X, labels, theta + t * step, True)[0]
              for t in lengths]
    np.testing.assert_allclose(along, direct, rtol=1e-13)
    y = (labels > 0).astype(float)
    along = _chunk.binary_losses_along(X, y, theta[:, :1], step[:, :1], lengths, True)
    direct = [_chunk.binary_loss_grad_hess(X, y, theta[:, :1] + t * step[:, :1], True)[0]
              for t in lengths]
    np.testing.assert_allclose(along, direct, rtol=1e-13)


def test_extreme_logits_stay_finite():
    X = np.array([[1.0], [-1.0]])
    theta = np.array([[1e4], [0.0]])
    loss, grad, hess, _ = _chunk.binary_loss_grad_hess(X, np.array([0.0, 1.0]), theta, True)
    assert np.isfinite(loss) and loss == pytest.approx(2e4)
    assert np.all(np.isfinite(grad)) and np.all(np.isfinite(hess))
    loss, grad, hess, _ = _chunk.softmax_loss_grad_hess(
        X, np.array([1, 0]), np.array([[1e4, -1e4], [0.0, 0.0]]), True)
    assert loss == pytest.approx(4e4) and np.all(np.isfinite(grad)) and np.all(np.isfinite(hess))
