"""Lanczos (full reorthogonalisation), Hutchinson / Hutch++ traces, stochastic Lanczos quadrature.

All of them see the matrix only through ``matmat`` (``(n, k) -> (n, k)``), so they
work on any symmetric operator; nothing here knows about networks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Estimate:
    """A stochastic estimate with its standard error.

    Attributes
    ----------
    value : float
    std_error : float
        Standard error of ``value`` (0 when it is exact); the estimate is within
        about three standard errors of the truth with high probability.
    method : str
    n_products : int
        Matrix-vector products spent.
    """

    value: float
    std_error: float
    method: str
    n_products: int

    def __float__(self):
        return float(self.value)


@dataclass(frozen=True)
class SpectralDensity:
    """A smoothed eigenvalue density from stochastic Lanczos quadrature.

    Attributes
    ----------
    grid : ndarray
        Points at which the density is given, increasing.
    density : ndarray
        Density values; ``numpy.trapezoid(density, grid) == 1``.
    nodes, weights : ndarray
        Ritz values of every probe and their quadrature weights (each probe's sum to 1),
        shape ``(probes, steps)``: the unsmoothed spectral measure.
    sigma : float
        Width of the Gaussian kernel.
    """

    grid: np.ndarray
    density: np.ndarray
    nodes: np.ndarray
    weights: np.ndarray
    sigma: float


def lanczos(matvec, n, steps, rng=None, v0=None, tol=0.0):
    """Lanczos tridiagonalisation with full reorthogonalisation.

    Parameters
    ----------
    matvec : callable
        ``v -> A v`` for a symmetric ``A``.
    n : int
        Dimension.
    steps : int
        At most this many steps (capped at n).
    rng : numpy.random.Generator, optional
        Draws the start vector when ``v0`` is not given.
    v0 : ndarray, optional
    tol : float, default 0
        Stop early when the next Lanczos vector's norm falls below ``tol`` times the
        largest entry of T seen (an invariant subspace: T's eigenvalues are exact).

    Returns
    -------
    alpha, beta : ndarray
        Diagonal (m,) and off-diagonal (m - 1,) of ``T = Q^T A Q``.
    Q : ndarray
        The Lanczos basis, (n, m), orthonormal.
    residual_norm : float
        ``beta_m``, the norm of what is left outside the basis.
    """
    rng = np.random.default_rng() if rng is None else rng
    q = rng.standard_normal(n) if v0 is None else np.array(v0, dtype=float)
    q = q / np.linalg.norm(q)
    steps = min(int(steps), n)
    Q = np.zeros((n, steps))
    alpha, beta = [], []
    scale = 0.0
    previous, b = np.zeros(n), 0.0
    for j in range(steps):
        Q[:, j] = q
        w = np.asarray(matvec(q), dtype=float).reshape(n)
        a = float(q @ w)
        w -= a * q + b * previous
        for _ in range(2):  # twice is enough (Kahan, Parlett): orthogonal to working accuracy
            w -= Q[:, :j + 1] @ (Q[:, :j + 1].T @ w)
        alpha.append(a)
        b = float(np.linalg.norm(w))
        scale = max(scale, abs(a), b)
        if j == steps - 1 or b <= tol * max(scale, np.finfo(float).tiny):
            return np.array(alpha), np.array(beta), Q[:, :j + 1], b
        beta.append(b)
        previous, q = q, w / b
    raise AssertionError("unreachable")


def tridiagonal_eigh(alpha, beta):
    """Eigenvalues and eigenvectors of the symmetric tridiagonal matrix (alpha, beta)."""
    T = np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1)
    return np.linalg.eigh(T)


def lanczos_eigenvalues(matvec, n, k, which, tol, max_steps, rng, vectors_wanted=False):
    """The ``k`` extreme eigenvalues (and Ritz vectors) of a symmetric operator.

    Each wanted Ritz pair has the residual ``r = beta_m |s_mi|``.  Lanczos runs until,
    for every wanted pair, the error bound is below ``tol`` times the largest |Ritz
    value|, or ``max_steps``: the bound is ``r`` itself for the vectors
    (``vectors_wanted``), and ``min(r, r^2 / gap)`` for the eigenvalues alone, ``gap``
    being the distance to the nearest other Ritz value (Kato-Temple / Parlett: an
    eigenvalue converges like the square of its vector's residual).

    Returns
    -------
    values : ndarray (k,)
    vectors : ndarray (n, k)
    residuals : ndarray (k,)
        The residual bounds ``|A x - theta x|``.
    steps : int
    """
    k = min(k, n)
    q = rng.standard_normal(n)
    q /= np.linalg.norm(q)
    Q = np.zeros((n, min(n, max_steps)))
    alpha, beta = [], []
    previous, b = np.zeros(n), 0.0
    for j in range(Q.shape[1]):
        Q[:, j] = q
        w = np.asarray(matvec(q), dtype=float).reshape(n)
        a = float(q @ w)
        w -= a * q + b * previous
        for _ in range(2):
            w -= Q[:, :j + 1] @ (Q[:, :j + 1].T @ w)
        alpha.append(a)
        b = float(np.linalg.norm(w))
        if j + 1 >= k:
            theta, S = tridiagonal_eigh(np.array(alpha), np.array(beta))
            idx = _pick(theta, k, which)
            residuals = b * np.abs(S[-1, idx])
            size = max(np.abs(theta).max(), np.finfo(float).tiny)
            bounds = residuals if vectors_wanted else _eigenvalue_bounds(theta, idx, residuals)
            invariant = b <= 1e-12 * size
            if invariant or j + 1 == Q.shape[1] or np.all(bounds <= tol * size):
                vectors = Q[:, :j + 1] @ S[:, idx]
                return theta[idx], vectors, (0 * residuals if invariant else residuals), j + 1
        beta.append(b)
        previous, q = q, w / b
    raise AssertionError("unreachable")


def _eigenvalue_bounds(theta, idx, residuals):
    """``min(r, r^2 / gap)`` per wanted Ritz value; ``gap`` to its nearest other Ritz value."""
    if theta.size == 1:
        return residuals
    distances = np.abs(theta[idx][:, None] - theta[None, :])
    distances[np.arange(len(idx)), idx] = np.inf
    gap = np.maximum(distances.min(axis=1), np.finfo(float).tiny)
    return np.minimum(residuals, residuals**2 / gap)


def _pick(theta, k, which):
    order = np.argsort(theta)
    if which == "largest":
        return order[::-1][:k]
    if which == "smallest":
        return order[:k]
    return np.argsort(-np.abs(theta))[:k]  # "magnitude"


def probes_of(rng, n, m, dtype=float):
    """``m`` Rademacher probes (n, m): entries +-1, so ``E[z z^T] = I``."""
    return rng.choice(np.array([-1.0, 1.0], dtype=dtype), size=(n, m))


def hutchinson(matmat, n, probes, rng):
    """``tr A ~ mean_j z_j^T A z_j`` over Rademacher ``z_j``, with its standard error."""
    Z = probes_of(rng, n, probes)
    samples = np.einsum("ij,ij->j", Z, matmat(Z))
    error = samples.std(ddof=1) / np.sqrt(probes) if probes > 1 else np.inf
    return Estimate(float(samples.mean()), float(error), "hutchinson", probes)


def hutch_plus_plus(matmat, n, probes, rng):
    """Hutch++ (Meyer, Musco, Musco, Woodruff 2021): exact trace on a sketched range.

    A third of the products sketch ``Q = orth(A S)``; ``tr(Q^T A Q)`` is exact, and
    Hutchinson on ``(I - Q Q^T) A (I - Q Q^T)`` with the last third estimates the rest.
    The standard error is that of the Hutchinson part.
    """
    if probes < 3:
        raise ValueError(f"hutch++ needs at least 3 probes (a sketch and two), got {probes}")
    k = min(probes // 3, n)
    m = probes - 2 * k
    Q, _ = np.linalg.qr(matmat(probes_of(rng, n, k)))
    exact = float(np.trace(Q.T @ matmat(Q)))
    if Q.shape[1] >= n:
        return Estimate(exact, 0.0, "hutch++", 2 * k)
    Z = probes_of(rng, n, m)
    Z = Z - Q @ (Q.T @ Z)
    samples = np.einsum("ij,ij->j", Z, matmat(Z))
    error = samples.std(ddof=1) / np.sqrt(m) if m > 1 else np.inf
    return Estimate(exact + float(samples.mean()), float(error), "hutch++", 2 * k + m)


def slq_density(matvec, n, probes, steps, rng, grid_size, sigma):
    """Stochastic Lanczos quadrature: Gaussian-smoothed eigenvalue density.

    For each probe ``z`` (unit norm), ``z^T f(A) z ~ sum_i tau_i f(theta_i)`` with Ritz
    values ``theta_i`` and ``tau_i`` the squared first components of T's eigenvectors
    (Golub-Welsch); the average over probes is the spectral measure, smoothed with a
    Gaussian of width ``sigma`` (default: 1% of the spectrum's range).
    """
    nodes, weights = [], []
    for _ in range(probes):
        alpha, beta, _, _ = lanczos(matvec, n, steps, rng=rng, tol=1e-12)
        theta, S = tridiagonal_eigh(alpha, beta)
        full = np.zeros(min(steps, n))
        node = np.full(full.shape, np.nan)
        full[:theta.size], node[:theta.size] = S[0] ** 2, theta
        nodes.append(node)
        weights.append(full)
    nodes, weights = np.array(nodes), np.array(weights)
    finite = nodes[np.isfinite(nodes)]
    low, high = float(finite.min()), float(finite.max())
    width = high - low
    if sigma is None:
        sigma = 0.01 * width if width > 0 else max(abs(high), 1.0) * 1e-3
    grid = np.linspace(low - 5 * sigma, high + 5 * sigma, int(grid_size))
    valid = np.isfinite(nodes)
    x = (grid[:, None] - np.where(valid, nodes, 0.0).ravel()[None, :]) / sigma
    kernel = np.exp(-0.5 * x**2) / (sigma * np.sqrt(2 * np.pi))
    density = kernel @ (np.where(valid, weights, 0.0).ravel() / probes)
    density /= np.trapezoid(density, grid)  # the grid spans 5 sigma past the nodes: ~1 already
    return SpectralDensity(grid, density, nodes, weights, float(sigma))
