"""SoftmaxRegression: scikit-learn's multinomial optimum, the singular Hessian of C7."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from threadpoolctl import threadpool_limits

from nablanet.models import LogisticRegression, SoftmaxRegression


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    """NumPy's and SciPy's BLAS pools fight on 2 cores (DESIGN.md): keep the fits on one."""
    with threadpool_limits(1):
        yield


def penalised_objective(X, y, coef, intercept, C=1.0):
    """Summed multinomial log-loss + ||W||^2 / (2C): scikit-learn's objective over C."""
    Z = X @ coef.T + intercept
    loss = np.sum(np.logaddexp.reduce(Z, axis=1) - Z[np.arange(len(y)), y])
    return loss + 0.5 / C * np.sum(coef * coef)


@pytest.fixture(scope="module")
def digits():
    return load_digits(return_X_y=True)


@pytest.fixture(scope="module")
def digits_fit(digits):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return SoftmaxRegression(C=1.0).fit(X, y)


def test_same_optimum_as_sklearn_on_digits_in_fewer_iterations(digits, digits_fit):
    from sklearn.linear_model import LogisticRegression as SkLogistic

    X, y = digits
    ours = penalised_objective(X, y, digits_fit.coef_, digits_fit.intercept_)
    reference = SkLogistic(C=1.0, solver="newton-cholesky", tol=1e-10, max_iter=200).fit(X, y)
    theirs = penalised_objective(X, y, reference.coef_, reference.intercept_)
    assert abs(ours - theirs) <= 1e-8 * theirs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs stops at max_iter, far from the optimum
        lbfgs = SkLogistic(C=1.0, solver="lbfgs").fit(X, y)
    assert penalised_objective(X, y, lbfgs.coef_, lbfgs.intercept_) > ours * (1 + 1e-3)
    assert digits_fit.n_iter_ < lbfgs.n_iter_[0]
    assert digits_fit.objective_value_ == pytest.approx(ours, rel=1e-10)


def test_penalised_intercepts_are_centred(digits_fit):
    assert abs(digits_fit.intercept_.sum()) < 1e-8
    np.testing.assert_allclose(digits_fit.coef_.sum(axis=0), 0.0, atol=1e-8)


def _overlapping(seed=0, n=150):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1, 2], n // 3)
    X = rng.standard_normal((n, 2)) + y[:, None]
    return X, y


def test_unpenalised_fit_handles_the_singular_hessian():
    X, y = _overlapping()
    model = SoftmaxRegression(penalty=None).fit(X, y)
    assert model.stop_reason_ in ("gradient", "decrement", "step_size", "roundoff")
    np.testing.assert_allclose(model.coef_.sum(axis=0), 0.0, atol=1e-10)
    assert abs(model.intercept_.sum()) < 1e-10
    # at the optimum the gradient of the plain loss vanishes: sum_n (p_n - y_n) x~_n = 0
    P = model.predict_proba(X)
    residual = P - np.eye(3)[y]
    np.testing.assert_allclose(residual.T @ X, 0.0, atol=1e-6)
    np.testing.assert_allclose(residual.sum(axis=0), 0.0, atol=1e-6)


def test_two_classes_agree_with_logistic_regression():
    # at the optimum W = (-beta/2, beta/2), so the softmax penalty ||W||^2 / (2C) is
    # ||beta||^2 / (4C): logistic regression with 2C
    X, y3 = _overlapping()
    X, y = X[y3 < 2], y3[y3 < 2]
    softmax = SoftmaxRegression(C=0.5).fit(X, y)
    logistic = LogisticRegression(C=1.0).fit(X, y)
    np.testing.assert_allclose(softmax.decision_function(X), logistic.decision_function(X),
                               rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(softmax.predict_proba(X), logistic.predict_proba(X), atol=1e-9)


@pytest.mark.parametrize("solver", ["newton-cg", "gd"])
def test_other_solvers_reach_the_newton_optimum(solver):
    X, y = _overlapping(1)
    newton = SoftmaxRegression().fit(X, y)
    other = SoftmaxRegression(solver=solver, tol=1e-6, max_iter=20000).fit(X, y)
    assert other.objective_value_ == pytest.approx(newton.objective_value_, rel=1e-9)
    np.testing.assert_allclose(other.predict_proba(X), newton.predict_proba(X), atol=1e-5)


def test_callback_receives_every_iteration():
    X, y = _overlapping(2)
    seen = []
    model = SoftmaxRegression(callback=seen.append).fit(X, y)
    assert [s["iteration"] for s in seen] == list(range(1, model.n_iter_ + 1))


def test_sample_weight_equals_repetition():
    X, y = _overlapping(3, n=60)
    weights = np.random.default_rng(3).integers(0, 3, len(y))
    weighted = SoftmaxRegression().fit(X, y, sample_weight=weights)
    repeated = SoftmaxRegression().fit(np.repeat(X, weights, 0), np.repeat(y, weights))
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-7, atol=1e-10)


def test_one_class_is_a_clear_error():
    with pytest.raises(ValueError, match="at least 2 classes"):
        SoftmaxRegression().fit([[0.0], [1.0]], [1, 1])
