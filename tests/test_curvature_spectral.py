"""Eigenvalues, trace, diagonal and spectral density of curvature operators vs dense NumPy."""

import numpy as np
import pytest

from nablanet import curvature, nn
from nablanet.curvature import _spectral


@pytest.fixture(scope="module")
def hessian():
    rng = np.random.default_rng(0)
    net = nn.MLP(5, (9, 7), 4, activation="tanh", dropout=0.0, generator=rng)
    X, y = rng.standard_normal((40, 5)), rng.integers(0, 4, 40)
    op = curvature.operator(net, nn.CrossEntropyLoss(), X, y, random_state=0)
    return op, op.to_dense()


@pytest.mark.parametrize("method", ["lanczos", "eigsh"])
@pytest.mark.parametrize("which", ["largest", "smallest", "magnitude"])
def test_eigenvalues_match_eigvalsh(hessian, method, which):
    op, D = hessian
    exact = np.linalg.eigvalsh(D)
    expected = {"largest": exact[::-1], "smallest": exact,
                "magnitude": exact[np.argsort(-np.abs(exact))]}[which][:3]
    values, vectors = op.eigenvalues(k=3, which=which, method=method, return_vectors=True)
    scale = np.abs(exact).max()
    assert np.abs(values - expected).max() < 1e-8 * scale
    residual = np.linalg.norm(D @ vectors - vectors * values, axis=0)
    assert residual.max() < 1e-4 * scale


def test_lanczos_stops_exactly_on_an_invariant_subspace():
    A = np.diag([5.0, 2.0, 2.0, 2.0, -1.0])
    values, _, residuals, steps = _spectral.lanczos_eigenvalues(
        lambda v: A @ v, 5, 2, "largest", 1e-14, 5, np.random.default_rng(0))
    assert steps == 3 and np.allclose(values, [5.0, 2.0], atol=1e-12)


def test_eigenvalue_arguments_are_checked(hessian):
    op, _ = hessian
    with pytest.raises(ValueError, match="which"):
        op.eigenvalues(which="top")
    with pytest.raises(ValueError, match="k must be"):
        op.eigenvalues(k=0)
    with pytest.raises(ValueError, match="method"):
        op.eigenvalues(method="power")


def test_exact_trace_and_diagonal(hessian):
    op, D = hessian
    assert np.abs(op.diagonal() - np.diag(D)).max() < 1e-12
    estimate = op.trace(method="exact")
    assert abs(estimate.value - np.trace(D)) < 1e-12 and estimate.std_error == 0


@pytest.mark.parametrize("method", ["hutch++", "hutchinson"])
def test_trace_estimates_lie_within_their_stated_error(hessian, method):
    op, D = hessian
    exact = np.trace(D)
    misses = 0
    for seed in range(20):
        estimate = op.trace(probes=30, method=method, random_state=seed)
        assert estimate.std_error > 0 and estimate.n_products == 30
        misses += abs(estimate.value - exact) > 3 * estimate.std_error
    assert misses <= 2  # 3 standard errors: about 0.3% each for a normal estimate


def test_hutch_plus_plus_beats_hutchinson_on_a_low_rank_matrix():
    rng = np.random.default_rng(0)
    U = rng.standard_normal((200, 5))
    A = U @ np.diag([100.0, 50, 20, 10, 5]) @ U.T + 0.01 * np.eye(200)
    errors = {m: [] for m in ("hutch++", "hutchinson")}
    for seed in range(10):
        errors["hutch++"].append(abs(_spectral.hutch_plus_plus(
            lambda V: A @ V, 200, 30, np.random.default_rng(seed)).value - np.trace(A)))
        errors["hutchinson"].append(abs(_spectral.hutchinson(
            lambda V: A @ V, 200, 30, np.random.default_rng(seed)).value - np.trace(A)))
    assert np.median(errors["hutch++"]) < 0.1 * np.median(errors["hutchinson"])


def test_trace_arguments_are_checked(hessian):
    op, _ = hessian
    with pytest.raises(ValueError, match="probes"):
        op.trace(probes=1)
    with pytest.raises(ValueError, match="at least 3"):
        op.trace(probes=2)
    with pytest.raises(ValueError, match="method"):
        op.trace(method="girard")


def test_hutchinson_diagonal_is_unbiased_within_its_variance(hessian):
    op, D = hessian
    probes = 400
    estimate = op.diagonal(method="hutchinson", probes=probes, random_state=3)
    off = (D**2).sum(axis=1) - np.diag(D) ** 2
    z = (estimate - np.diag(D)) / np.sqrt(off / probes)
    assert np.abs(z).max() < 5 and abs(z.mean()) < 0.5


def test_spectral_density_integrates_to_one_and_puts_its_mass_on_the_spectrum(hessian):
    op, D = hessian
    exact = np.linalg.eigvalsh(D)
    density = op.spectral_density(probes=4, steps=op.shape[0], grid_size=2000, random_state=0)
    assert abs(np.trapezoid(density.density, density.grid) - 1) < 1e-12
    assert np.all(density.density >= 0)
    # with as many steps as parameters, every probe's nodes are the eigenvalues
    nodes = density.nodes[0][np.isfinite(density.nodes[0])]
    assert np.abs(np.sort(nodes)[[0, -1]] - exact[[0, -1]]).max() < 1e-8
    assert np.allclose(density.weights.sum(axis=1), 1)
    # the measure's mean is tr(H) / P
    mean = (np.nan_to_num(density.nodes) * density.weights).sum(axis=1).mean()
    assert abs(mean - exact.mean()) < 4 * exact.std() / np.sqrt(op.shape[0])


def test_spectral_density_with_few_steps_brackets_the_extremes(hessian):
    op, D = hessian
    exact = np.linalg.eigvalsh(D)
    density = op.spectral_density(probes=3, steps=30, random_state=1)
    assert density.grid[0] < exact[0] + 0.1 * np.ptp(exact)
    assert density.grid[-1] > exact[-1] - 0.05 * np.ptp(exact)
    assert density.sigma > 0


@pytest.mark.parametrize("tol", [1e-3, 1e-6])
def test_eigenvalue_stopping_bound_holds_and_saves_steps_over_the_vector_bound(tol):
    rng = np.random.default_rng(3)
    Q, _ = np.linalg.qr(rng.standard_normal((300, 300)))
    spectrum = np.concatenate([[10.0, 9.0, 8.5], rng.uniform(-1, 5, 297)])
    A = (Q * spectrum) @ Q.T
    values, _, _, steps = _spectral.lanczos_eigenvalues(
        lambda v: A @ v, 300, 2, "largest", tol, 300, np.random.default_rng(0))
    _, _, residuals, vector_steps = _spectral.lanczos_eigenvalues(
        lambda v: A @ v, 300, 2, "largest", tol, 300, np.random.default_rng(0), True)
    assert np.abs(values - [10.0, 9.0]).max() <= tol * 10.0
    assert steps < vector_steps and residuals.max() <= tol * 10.0
