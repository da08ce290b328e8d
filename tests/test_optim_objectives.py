"""Closed-form logistic and softmax objectives against the engine, and their edge cases."""

import numpy as np
import pytest

import nablanet as nb
from nablanet.optim import (
    LogisticObjective,
    SoftmaxObjective,
    gaussian_dropout_ridge,
    is_linearly_separable,
    newton,
)


def _softplus(z):
    # log(1 + e^z) = max(z, 0) + log1p(e^{-|z|}), finite for any z
    return nb.maximum(z, 0.0) + nb.log1p(nb.exp(-nb.abs(z)))


def _engine_logistic(X, y, s, alpha, fit_intercept):
    d = X.shape[1]

    def loss(theta):
        w = theta[:d]
        z = nb.matmul(X, w) + (theta[d] if fit_intercept else 0.0)
        return nb.sum(s * (_softplus(z) - y * z)) + 0.5 * alpha * nb.sum(w * w)

    return loss


def _engine_softmax(X, Y, s, alpha, fit_intercept, n_free):
    n, d = X.shape
    Xt = np.hstack([X, np.ones((n, 1))]) if fit_intercept else X
    D, K = Xt.shape[1], Y.shape[1]

    def loss(theta):
        rows = nb.reshape(theta, (n_free, D))
        if n_free < K:
            rows = nb.concatenate(rows, np.zeros((K - n_free, D)), axis=0)
        Z = nb.matmul(Xt, nb.transpose(rows))
        out = nb.sum(s * (nb.logsumexp(Z, axis=1) - nb.sum(Y * Z, axis=1)))
        W = rows[:, :d]
        out = out + 0.5 * alpha * nb.sum(W * W)
        if alpha > 0 and fit_intercept:
            out = out + 0.5 * nb.sum(rows[:, -1]) ** 2
        return out

    return loss


@pytest.mark.parametrize("alpha, fit_intercept", [(0.0, True), (0.7, True), (0.3, False)])
def test_logistic_closed_forms_equal_the_engine(alpha, fit_intercept, rng):
    X = rng.standard_normal((40, 4))
    y = (rng.random(40) < 0.4).astype(float)
    s = rng.uniform(0.5, 2.0, 40)
    obj = LogisticObjective(X, y, sample_weight=s, alpha=alpha, fit_intercept=fit_intercept)
    theta = rng.standard_normal(obj.n_params)
    engine = _engine_logistic(X, y, s, alpha, fit_intercept)
    assert obj.value(theta) == pytest.approx(float(engine(theta)), rel=1e-13)
    np.testing.assert_allclose(obj.gradient(theta), nb.grad(engine)(theta), rtol=1e-11,
                               atol=1e-11)
    H = obj.hessian(theta)
    np.testing.assert_allclose(H, nb.hessian(engine)(theta), rtol=1e-10, atol=1e-10)
    v = rng.standard_normal(obj.n_params)
    np.testing.assert_allclose(obj.hvp(theta, v), H @ v, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("alpha, fit_intercept", [(0.0, True), (0.5, True), (0.5, False)])
def test_softmax_closed_forms_equal_the_engine(alpha, fit_intercept, rng):
    X = rng.standard_normal((30, 3))
    labels = rng.integers(0, 4, 30)
    s = rng.uniform(0.5, 2.0, 30)
    obj = SoftmaxObjective(X, labels, sample_weight=s, alpha=alpha, fit_intercept=fit_intercept)
    assert obj.n_free == (3 if alpha == 0 else 4)
    theta = rng.standard_normal(obj.n_params)
    engine = _engine_softmax(X, np.eye(4)[labels], s, alpha, fit_intercept, obj.n_free)
    assert obj.value(theta) == pytest.approx(float(engine(theta)), rel=1e-13)
    np.testing.assert_allclose(obj.gradient(theta), nb.grad(engine)(theta), rtol=1e-11,
                               atol=1e-11)
    H = obj.hessian(theta)
    np.testing.assert_allclose(H, nb.hessian(engine)(theta), rtol=1e-10, atol=1e-10)
    v = rng.standard_normal(obj.n_params)
    np.testing.assert_allclose(obj.hvp(theta, v), H @ v, rtol=1e-11, atol=1e-11)
    assert np.linalg.eigvalsh(H).min() > 0  # the parameterisation removed the null space


def test_softmax_hessian_without_a_fix_is_singular(rng):
    # claim C7: with all K rows free and no penalty, H (1 kron e_j) = 0 for every feature j
    X = rng.standard_normal((25, 2))
    labels = rng.integers(0, 3, 25)
    obj = SoftmaxObjective(X, labels, alpha=1e-300)  # all K rows free, penalty negligible
    H = obj.hessian(rng.standard_normal(obj.n_params))
    shift = np.tile(np.array([0.0, 0.0, 1.0]), 3)  # the same intercept shift in every class
    H_plain = H - np.outer(shift, shift)  # remove the centring term
    np.testing.assert_allclose(H_plain @ shift, 0.0, atol=1e-12)


def test_unpenalised_softmax_newton_converges_with_a_reference_class(rng):
    X = rng.standard_normal((300, 2))
    logits = X @ np.array([[1.0, -1.0, 0.0], [0.5, 0.5, -1.0]])
    labels = np.array([rng.choice(3, p=np.exp(z) / np.exp(z).sum()) for z in logits])
    obj = SoftmaxObjective(X, labels)
    r = newton(obj, np.zeros(obj.n_params))
    assert r.converged and r.n_iter <= 15
    assert obj.coefficients(r.x)[-1].tolist() == [0.0, 0.0, 0.0]


def test_penalised_softmax_matches_scikit_learn(rng):
    sklearn = pytest.importorskip("sklearn.linear_model")
    X = rng.standard_normal((200, 3))
    labels = rng.integers(0, 3, 200)
    labels[X[:, 0] > 0.8] = 2
    obj = SoftmaxObjective(X, labels, alpha=1.0)
    r = newton(obj, np.zeros(obj.n_params))
    assert r.converged
    ref = sklearn.LogisticRegression(C=1.0, tol=1e-12, max_iter=10_000).fit(X, labels)
    full = obj.coefficients(r.x)
    Z = X @ full[:, :3].T + full[:, 3]
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(P, ref.predict_proba(X), atol=1e-6)
    assert abs(full[:, 3].sum()) < 1e-10  # intercepts centred by the documented term


def test_logistic_is_finite_for_huge_logits():
    X = np.array([[1.0], [-1.0], [1.0]])
    y = np.array([1, 0, 0])
    for scale in (1e2, 1e4, 1e6):
        obj = LogisticObjective(X, y, fit_intercept=False)
        theta = np.array([scale])
        value, g, H = obj.value(theta), obj.gradient(theta), obj.hessian(theta)
        assert np.isfinite(value) and np.all(np.isfinite(g)) and np.all(np.isfinite(H))
        assert value == pytest.approx(scale, rel=1e-12)  # only the third sample is wrong
    soft = SoftmaxObjective(np.array([[1.0], [-1.0]]), np.array([0, 1]), fit_intercept=False)
    assert np.isfinite(soft.value(np.array([1e4]))) and np.all(np.isfinite(soft.hessian([1e4])))


def test_bad_data_raise_clear_errors():
    with pytest.raises(ValueError, match="NaN or inf"):
        LogisticObjective(np.array([[1.0], [np.nan]]), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"labels in \{0, 1\}"):
        LogisticObjective(np.ones((2, 1)), np.array([0, 2]))
    with pytest.raises(ValueError, match="2-D"):
        LogisticObjective(np.ones(3), np.array([0, 1, 0]))
    with pytest.raises(ValueError, match="sample_weight"):
        LogisticObjective(np.ones((2, 1)), np.array([0, 1]), sample_weight=[1.0, -1.0])
    with pytest.raises(ValueError, match="integer labels"):
        SoftmaxObjective(np.ones((2, 1)), np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="expected 2 parameters"):
        LogisticObjective(np.ones((2, 1)), np.array([0, 1])).value(np.zeros(3))


def test_linear_programming_separability_check():
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    assert is_linearly_separable(X, np.array([0, 0, 1, 1]))
    assert not is_linearly_separable(X, np.array([0, 1, 0, 1]))


def test_gaussian_dropout_ridge_solves_its_normal_equations(rng):
    X = rng.standard_normal((50, 3))
    y = rng.standard_normal(50)
    w = gaussian_dropout_ridge(X, y, 0.4)
    gram = X.T @ X
    np.testing.assert_allclose((gram + 0.4 * np.diag(np.diag(gram))) @ w, X.T @ y, rtol=1e-12)
    np.testing.assert_allclose(gaussian_dropout_ridge(X, y, 0.0), np.linalg.lstsq(X, y)[0],
                               rtol=1e-10)
