"""Per-chunk pieces of the logistic and softmax objectives (NumPy only; runs on the workers).

Every function here sees one row block ``X_c`` (n_c, d) of the data and returns small
arrays: a loss, a gradient ``X_c^T r_c`` and a Hessian ``X_c^T diag(w_c) X_c``, all in the
*augmented* layout where the intercept is one more feature whose column is all ones.
The column of ones is never materialised: its blocks are ``X_c^T w_c`` and ``sum(w_c)``.

Parameters are a matrix ``theta`` of shape (d + intercept, K) with K = 1 for the binary
model: rows are features (the intercept row last), columns are classes.
"""

from __future__ import annotations

import numpy as np


def linear_scores(X, theta, fit_intercept):
    """Return ``X theta[:d] + theta[d]`` (the intercept row, if there is one): (n_c, K)."""
    d = X.shape[1]
    scores = X @ theta[:d]
    if fit_intercept:
        scores += theta[d]
    return scores


def weighted_gram(X, weights, fit_intercept):
    """Return the augmented ``X^T diag(weights) X`` without building the column of ones.

    The (d, d) block is a matrix product at BLAS speed: for non-negative weights a
    symmetric rank-k update ``A^T A`` with ``A = sqrt(weights) X`` (NumPy hands
    ``A.T @ A`` to syrk: half the flops of a general product); with an intercept the
    last row and column are ``X^T weights`` and the corner is ``sum(weights)``.
    """
    d = X.shape[1]
    size = d + 1 if fit_intercept else d
    gram = np.empty((size, size))
    if np.all(weights >= 0):
        rows = X * np.sqrt(weights)[:, None]
        gram[:d, :d] = rows.T @ rows
    else:
        gram[:d, :d] = X.T @ (X * weights[:, None])
    if fit_intercept:
        column = X.T @ weights
        gram[:d, d] = column
        gram[d, :d] = column
        gram[d, d] = weights.sum()
    return gram


def augmented_xt_times(X, residual, fit_intercept):
    """Return the augmented ``X^T residual``: (d + intercept, K)."""
    product = X.T @ residual
    if fit_intercept:
        product = np.vstack([product, residual.sum(axis=0, keepdims=True)])
    return product


# ---------------------------------------------------------------- binary logistic (C1)

def binary_loss(scores, y01):
    """Sum of binary cross-entropies from logits: sum softplus(z) - y z (finite to |z| 1e4)."""
    return float(np.sum(np.logaddexp(0.0, scores) - y01 * scores))


def binary_loss_grad_hess(X, y01, theta, fit_intercept):
    """Loss, augmented gradient (d', 1), Hessian (d', d') and misfit count of one chunk.

    C1: dE/dz = sigmoid(z) - y; d2E/dz2 = sigmoid(z) (1 - sigmoid(z)).  The count of
    samples not strictly on their side ((2y - 1) z <= 0) is zero only if theta separates
    the chunk (the in-memory objective's separation test).
    """
    scores = linear_scores(X, theta, fit_intercept)[:, 0]
    loss = binary_loss(scores, y01)
    # p (1 - p) written as e^{-|z|} / (1 + e^{-|z|})^2 keeps full precision in the tails
    tail = np.exp(-np.abs(scores))
    prob = np.where(scores >= 0, 1.0, tail) / (1.0 + tail)  # sigmoid without overflow
    grad = augmented_xt_times(X, (prob - y01)[:, None], fit_intercept)
    curvature = tail / (1.0 + tail) ** 2
    misfits = np.count_nonzero((2.0 * y01 - 1.0) * scores <= 0)
    return loss, grad, weighted_gram(X, curvature, fit_intercept), misfits


def binary_losses_along(X, y01, theta, step, lengths, fit_intercept):
    """Losses at ``theta + t * step`` for each t in ``lengths``: two products, X theta, X step."""
    base = linear_scores(X, theta, fit_intercept)[:, 0]
    slope = linear_scores(X, step, fit_intercept)[:, 0]
    return np.array([binary_loss(base + t * slope, y01) for t in lengths])


# ---------------------------------------------------------------- multinomial softmax (C3, C7)

def _log_softmax(scores):
    shifted = scores - scores.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax_loss(scores, labels):
    """Sum over rows of -log softmax(z)[label] (log-sum-exp shifted by the row maximum)."""
    log_prob = _log_softmax(scores)
    return float(-np.take_along_axis(log_prob, labels[:, None], axis=1).sum())


def softmax_loss_grad_hess(X, labels, theta, fit_intercept):
    """Loss, augmented gradient (d', K), Hessian (d' K, d' K) and misfit count of one chunk.

    C3: dL/dz = p - y.  C7: d2L/dz_k dz_l = p_k (delta_kl - p_l), so the (k, l) block of
    the Hessian is X^T diag(p_k (delta_kl - p_l)) X; rows of the result are ordered
    feature-major (index j * K + k), matching ``theta.ravel()``.  Misfits are samples
    whose own class does not score strictly highest.
    """
    scores = linear_scores(X, theta, fit_intercept)
    log_prob = _log_softmax(scores)
    loss = float(-np.take_along_axis(log_prob, labels[:, None], axis=1).sum())
    prob = np.exp(log_prob)
    residual = prob.copy()
    residual[np.arange(len(labels)), labels] -= 1.0
    grad = augmented_xt_times(X, residual, fit_intercept)
    own = np.take_along_axis(scores, labels[:, None], axis=1)
    misfits = np.count_nonzero(np.sum(scores >= own, axis=1) > 1)
    n_classes = theta.shape[1]
    size = grad.shape[0]
    hessian = np.empty((size, n_classes, size, n_classes))
    for k in range(n_classes):
        for l in range(k, n_classes):
            weights = prob[:, k] * ((k == l) - prob[:, l])
            block = weighted_gram(X, weights, fit_intercept)
            hessian[:, k, :, l] = block
            hessian[:, l, :, k] = block
    return loss, grad, hessian.reshape(size * n_classes, size * n_classes), misfits


def softmax_losses_along(X, labels, theta, step, lengths, fit_intercept):
    """Losses at ``theta + t * step`` for every t in ``lengths``."""
    base = linear_scores(X, theta, fit_intercept)
    slope = linear_scores(X, step, fit_intercept)
    return np.array([softmax_loss(base + t * slope, labels) for t in lengths])
