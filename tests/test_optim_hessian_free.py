"""Hessian-free optimisation: CG, damping, backtracking, rejection, and MLP training."""

import numpy as np
import pytest

from nablanet.optim import HessianFree
from nablanet.optim.hessian_free import _backtrack, _conjugate_gradient


def _quadratic(seed=0, n=20, condition=100.0):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = Q @ np.diag(np.geomspace(1, condition, n)) @ Q.T
    b = rng.standard_normal(n)
    return A, b, (lambda x: 0.5 * x @ A @ x - b @ x)


def test_cg_solves_the_damped_system_and_keeps_geometric_iterates():
    A, b, _ = _quadratic()
    iterates, count, stop = _conjugate_gradient(lambda v: A @ v, -b, None, 200, 1e-12)
    x = iterates[-1][1]
    assert stop == "residual" and count <= 40
    assert np.linalg.norm(A @ x - b) < 1e-8 * np.linalg.norm(b)
    kept = [i for i, _ in iterates]
    assert kept[:5] == [1, 2, 3, 4, 5] and kept == sorted(set(kept))


def test_martens_progress_test_stops_cg_early_on_an_ill_conditioned_system():
    A, b, _ = _quadratic(condition=1e3, n=300)
    iterates, count, stop = _conjugate_gradient(lambda v: A @ v, -b, None, 500, 5e-4)
    assert stop == "progress" and count < 100
    x = iterates[-1][1]
    optimum = -0.5 * b @ np.linalg.solve(A, b)
    phi = 0.5 * x @ A @ x - b @ x
    assert (phi - optimum) / abs(optimum) < 1e-2  # the quadratic is nearly minimised


def test_on_a_quadratic_with_exact_curvature_steps_converge_and_damping_falls():
    A, b, f = _quadratic()
    hf, x = HessianFree(damping=1.0), np.zeros(len(b))
    losses = [f(x)]
    for _ in range(15):
        step = hf.step(x, f, A @ x - b, lambda v: A @ v)
        x = step.x
        losses.append(f(x))
        # exact model: rho ~ 1 until the predicted decrease reaches rounding level (NaN)
        assert np.isnan(step.rho) or 0.9 < step.rho < 1.1
    assert np.all(np.diff(losses) <= 1e-15)
    assert hf.damping < 1.0 * (2 / 3) ** 7
    assert np.linalg.norm(x - np.linalg.solve(A, b)) < 1e-6


def test_warm_start_reuses_the_previous_direction():
    A, b, f = _quadratic()
    hf, x = HessianFree(damping=1e-6, warm_start_decay=1.0), np.zeros(len(b))
    first = hf.step(x, f, A @ x - b, lambda v: A @ v)
    assert np.array_equal(hf.previous_direction, first.x - x)
    # the same point again with one CG iteration: from the previous solution it stays good
    hf.max_cg_iter = 1
    warm = hf.step(x, f, A @ x - b, lambda v: A @ v)
    cold = HessianFree(damping=1e-6, max_cg_iter=1).step(x, f, A @ x - b, lambda v: A @ v)
    solution = np.linalg.solve(A, b)
    assert np.linalg.norm(warm.x - solution) < 0.1 * np.linalg.norm(cold.x - solution)


def test_bad_model_raises_damping_and_a_useless_step_is_rejected():
    def f(x):  # the curvature we report is far too small: steps overshoot wildly
        return float(np.sum(np.abs(x - 1.0) ** 3) + 1e3 * np.sum((x - 1.0) ** 4))

    x = np.zeros(3)
    g = -3.0 * np.ones(3) - 4e3 * np.ones(3)
    hf = HessianFree(damping=1e-6, max_cg_iter=5)
    step = hf.step(x, f, g, lambda v: 1e-6 * v)
    assert step.rho < 0.25 and step.damping > 1e-6
    assert step.loss_after <= step.loss_before
    never = HessianFree(damping=1.0)
    rejected = never.step(x, lambda z: float(np.sum(z**2) + 1.0 + 10 * np.any(z != 0)),
                          np.ones(3), lambda v: v)
    assert not rejected.accepted and np.array_equal(rejected.x, x)
    assert rejected.step_length == 0 and never.previous_direction is None
    assert never.damping > 1.0


def test_backtracking_takes_an_earlier_iterate_when_the_loss_prefers_it():
    iterates = [(1, np.array([0.5])), (2, np.array([1.0])), (3, np.array([2.0]))]
    p, value, taken = _backtrack(iterates, np.zeros(1), lambda x: float((x[0] - 0.9) ** 2))
    assert taken == 2 and value == pytest.approx(0.01) and p[0] == 1.0


def test_bad_arguments_and_non_finite_points_are_refused():
    with pytest.raises(ValueError, match="damping"):
        HessianFree(damping=0)
    with pytest.raises(ValueError, match="max_cg_iter"):
        HessianFree(max_cg_iter=0)
    with pytest.raises(ValueError, match="warm_start_decay"):
        HessianFree(warm_start_decay=2)
    with pytest.raises(FloatingPointError, match="not finite"):
        HessianFree().step(np.zeros(2), lambda x: np.nan, np.zeros(2), lambda v: v)


def test_mlp_hessian_free_learns_digits_in_few_epochs():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    import nablanet as nb

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0,
                                                        stratify=y)
    clf = nb.MLPClassifier(hidden_layer_sizes=(32,), batch_norm=False, optimizer="hessian-free",
                           max_epochs=8, random_state=0)
    clf.fit(X_train, y_train)
    assert clf.n_iter_ == 8
    assert np.all(np.diff(clf.loss_curve_) < 0)
    assert clf.score(X_test, y_test) >= 0.95
    assert clf.network_[0].weight.data.dtype == np.float32


def test_mlp_hessian_free_with_batch_norm_keeps_running_statistics_of_the_full_batch():
    import nablanet as nb

    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 5))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    clf = nb.MLPClassifier(hidden_layer_sizes=(8,), optimizer="hessian-free", max_epochs=3,
                           random_state=0, dtype="float64")
    clf.fit(X, y)
    bn = clf.network_[1]
    hidden = clf.network_[0](clf._scale(X)).data
    assert np.allclose(bn.running_mean.data, hidden.mean(axis=0))
    assert clf.score(X, y) > 0.9
