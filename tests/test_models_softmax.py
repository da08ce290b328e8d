"""SoftmaxRegression: scikit-learn's multinomial optimum, the singular Hessian of C7."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from threadpoolctl import threadpool_limits

from nablanet.models import LogisticRegression, SoftmaxRegression
from nablanet.optim import ConvergenceWarning


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


@pytest.fixture(scope="module")
def wine5():
    """Five wine features: three overlapping classes, a finite unpenalised optimum."""
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True)
    return X[:, :5], y


@pytest.fixture(scope="module")
def wine5_fit(wine5):
    X, y = wine5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return SoftmaxRegression(penalty=None, tol=1e-10).fit(X, y)


def test_standard_errors_match_statsmodels_mnlogit(wine5, wine5_fit):
    sm = pytest.importorskip("statsmodels.api")
    X, y = wine5
    reference = sm.MNLogit(y, sm.add_constant(X)).fit(method="newton", tol=1e-12, disp=0)
    table = wine5_fit.summary(reference_class=0)  # MNLogit's reference is the first class
    # MNLogit: one column per non-reference class, constant first; so is the summary
    for k in range(2):
        rows = slice(6 * k, 6 * (k + 1))
        np.testing.assert_allclose(table.coef[rows], reference.params[:, k], rtol=1e-6)
        np.testing.assert_allclose(table.std_err[rows], reference.bse[:, k], rtol=1e-6)
    assert table.names[0] == "1 vs 0: intercept" and table.names[-1] == "2 vs 0: x4"
    np.testing.assert_allclose(table.p_values[6:], reference.pvalues[:, 1], rtol=1e-5)


def _full_hessian(X, proba):
    """sum_n (diag(p_n) - p_n p_n^T) kron x~_n x~_n^T over all K classes (singular, C7)."""
    Xt = np.hstack([X, np.ones((len(X), 1))])
    K, D = proba.shape[1], Xt.shape[1]
    H = np.zeros((K * D, K * D))
    for x, p in zip(Xt, proba):
        H += np.kron(np.diag(p) - np.outer(p, p), np.outer(x, x))
    return H


def test_covariance_is_the_pseudo_inverse_of_the_singular_hessian(wine5, wine5_fit):
    X, _ = wine5
    H = _full_hessian(X, wine5_fit.predict_proba(X))
    assert np.linalg.matrix_rank(H) == H.shape[0] - 6  # null space: a common shift (C7)
    np.testing.assert_allclose(wine5_fit.covariance_, np.linalg.pinv(H, rcond=1e-12),
                               rtol=1e-5, atol=1e-9 * np.abs(wine5_fit.covariance_).max())
    np.testing.assert_allclose(wine5_fit.bse_ ** 2, np.diag(wine5_fit.covariance_).reshape(3, 6))
    table = wine5_fit.summary()  # the centred coefficients, as coef_ and intercept_
    np.testing.assert_allclose(table.coef.reshape(3, 6)[:, 1:], wine5_fit.coef_)
    np.testing.assert_allclose(table.coef.reshape(3, 6)[:, 0], wine5_fit.intercept_)
    np.testing.assert_allclose(table.std_err.reshape(3, 6),
                               wine5_fit.bse_[:, np.r_[5, 0:5]])


def test_contrasts_do_not_depend_on_the_reference(wine5_fit):
    # class 2 vs class 1 = (2 vs 0) - (1 vs 0): same estimate and standard error
    by_zero, by_one = wine5_fit.summary(reference_class=0), wine5_fit.summary(reference_class=1)
    np.testing.assert_allclose(by_one.coef[6:], by_zero.coef[6:] - by_zero.coef[:6],
                               rtol=1e-10, atol=1e-12)
    assert "2 vs 1: x4" in by_one.names
    with pytest.raises(ValueError, match="reference_class must be one of"):
        wine5_fit.summary(reference_class=7)
    with pytest.raises(ValueError, match="feature_names must hold 5 names, got 2"):
        wine5_fit.summary(feature_names=["alcohol", "malic acid"])


def test_standard_errors_need_an_unpenalised_fit(wine5):
    X, y = wine5
    model = SoftmaxRegression(C=1e10).fit(X, y)
    assert model.bse_ is None and model.covariance_ is None
    with pytest.raises(ValueError, match="penalty=None"):
        model.summary()


def test_standard_errors_survive_save_and_load(tmp_path, wine5_fit):
    import nablanet as nb

    wine5_fit.save(tmp_path / "softmax.npz")
    loaded = nb.load(tmp_path / "softmax.npz")
    np.testing.assert_array_equal(loaded.bse_, wine5_fit.bse_)
    assert str(loaded.summary()) == str(wine5_fit.summary())


def _three_separated_clusters(rng):
    X = np.vstack([rng.normal(c, 0.1, (20, 2)) for c in ([0, 0], [3, 0], [0, 3])])
    return X, np.repeat([0, 1, 2], 20)


def test_unpenalised_fit_on_separable_classes_stops_and_says_why():
    X, y = _three_separated_clusters(np.random.default_rng(0))
    with pytest.warns(UserWarning, match="separable"):
        model = SoftmaxRegression(penalty=None).fit(X, y)
    assert model.stop_reason_ == "separation"
    assert model.score(X, y) == 1.0
    # with the default L2 penalty a finite minimum exists and Newton converges
    penalised = SoftmaxRegression().fit(X, y)
    assert penalised.stop_reason_ in {"gradient", "decrement"}


def test_overlapping_classes_are_not_called_separable():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    X, y = X[y > 0], y[y > 0]  # versicolor and virginica overlap
    model = SoftmaxRegression(penalty=None, max_iter=100).fit(X, y)
    assert model.stop_reason_ != "separation" and model.converged_
    assert model.score(X, y) < 1.0


def test_iris_is_quasi_separated_by_setosa_and_the_warning_says_so():
    # setosa is linearly separable from the rest while the other two overlap: the
    # unpenalised multinomial likelihood has no finite maximum (quasi-complete separation)
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    with pytest.warns(ConvergenceWarning, match=r"quasi-complete separation.*at least \d+ of 150"):
        model = SoftmaxRegression(penalty=None, max_iter=100).fit(X, y)
    assert model.stop_reason_ == "separation" and not model.converged_
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        text = str(model.summary())
    assert "converged:" in text and "False" in text and "separation" in text


def test_soft_targets_skip_the_separation_test():
    from nablanet.optim.objectives import SoftmaxObjective

    X, y = _three_separated_clusters(np.random.default_rng(1))
    hard = SoftmaxObjective(X, y)
    theta = np.zeros(hard.n_params)
    theta[:3] = [10.0, 0.0, 0.0]
    assert hard.check(theta, None, None) is None  # class 0 vs the reference: not all right
    Y = np.eye(3)[y] * 0.9 + 0.1 / 3
    assert SoftmaxObjective(X, Y).check(np.zeros(hard.n_params), None, None) is None
