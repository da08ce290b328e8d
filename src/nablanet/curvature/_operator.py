"""``CurvatureOperator``: a Hessian, GGN or Fisher of a network as a SciPy LinearOperator."""

from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import LinearOperator

from nablanet.curvature import _spectral
from nablanet.curvature._functional import ModelFunction
from nablanet.curvature._products import (
    FisherBlock,
    GGNBlock,
    HessianBlock,
    OutputCurvature,
)

KINDS = ("hessian", "ggn", "fisher", "empirical_fisher")
#: to_dense() and the exact diagonal refuse above this many parameters (a 4096^2
#: float64 matrix is 128 MiB, and 4096 products).
DENSE_LIMIT = 4096
#: Graphs of all batches are kept between products when X takes at most this many bytes.
CACHE_BYTES = 2 ** 27
#: Elements of one batched cotangent of the widest tensor per backward pass.
_BLOCK_ELEMENTS = 2 ** 23


class CurvatureOperator(LinearOperator):
    """A curvature matrix of ``loss(model(X), y)`` in the model's parameters.

    Build it with :func:`nablanet.curvature.operator`.  It is the matrix at the
    parameters the model had when the operator was made (later changes to the model
    are not seen); the model's parameters and train/eval modes are restored after
    every product.

    Attributes
    ----------
    kind : str
        'hessian', 'ggn', 'fisher' or 'empirical_fisher'.
    shape : tuple
        ``(P, P)``, ``P`` the number of parameters.
    names, shapes : list
        Parameter names and shapes, in ``named_parameters()`` order (the order of the
        flat vector).
    theta : ndarray
        The parameters the operator is evaluated at, flattened.
    n_products : int
        Matrix-vector products computed so far (a block of k counts k).
    """

    def __init__(self, model, loss_fn, X, y, kind="hessian", batch_size=None,
                 random_state=None, batch_norm="eval", mc_samples=1, dtype=np.float64,
                 cache=None):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if not isinstance(mc_samples, (int, np.integer)) or mc_samples < 1:
            raise ValueError(f"mc_samples must be a positive int, got {mc_samples!r}")
        self._fn = ModelFunction(model, loss_fn, X, y, batch_size, batch_norm, dtype)
        self.kind = kind
        self.mc_samples = int(mc_samples)
        self.random_state = random_state
        self._fisher_rng = np.random.default_rng(random_state)
        self._fisher_targets = {}
        self._output_curvature = OutputCurvature(self._fn)
        if kind == "fisher":
            self._output_curvature.check_sampling()
        self.theta = self._fn.flat()
        if kind in ("ggn", "fisher"):
            # these kinds never evaluate the loss at the data's targets: one pass through
            # it lets the loss refuse targets it would refuse (labels out of range, ...)
            self._fn.loss_at(self.theta)
        self.names, self.shapes = list(self._fn.names), list(self._fn.shapes)
        self.cache = (self._fn.X.nbytes <= CACHE_BYTES) if cache is None else bool(cache)
        self._blocks = {}
        self.n_products = 0
        n = self._fn.n_params
        super().__init__(dtype=self._fn.dtype, shape=(n, n))

    # -- products -----------------------------------------------------------------------------
    def _make_block(self, batch):
        fn = self._fn
        if self.kind == "hessian":
            return HessianBlock(fn, self.theta, batch)
        if self.kind == "ggn":
            return GGNBlock(fn, self.theta, batch, self._output_curvature)
        return FisherBlock(fn, self.theta, batch, self._output_curvature,
                           self._targets_for(batch))

    def _targets_for(self, batch):
        """The targets the Fisher uses on ``batch``: the data's, or draws fixed at first use."""
        if self.kind == "empirical_fisher":
            return [self._fn.y[batch]]
        if batch.start not in self._fisher_targets:
            values = _forward_values(self._fn, self.theta, batch)
            oc = self._output_curvature
            self._fisher_targets[batch.start] = [
                oc.sample_targets(values, batch, self._fisher_rng)
                for _ in range(self.mc_samples)]
        return self._fisher_targets[batch.start]

    def _block(self, batch):
        if not self.cache:
            return self._make_block(batch)
        if batch.start not in self._blocks:
            self._blocks[batch.start] = self._make_block(batch)
        return self._blocks[batch.start]

    def _matmat(self, V):
        V = np.asarray(V, dtype=self.dtype)
        if V.ndim == 1:
            V = V[:, None]
        result = np.zeros((V.shape[1], V.shape[0]), dtype=self.dtype)
        rows = V.T
        for batch in self._fn.batches:
            block = self._block(batch)
            step = self._columns_per_pass(batch)
            for start in range(0, rows.shape[0], step):
                chunk = np.ascontiguousarray(rows[start:start + step])
                result[start:start + step] += block.products(chunk)
        self.n_products += V.shape[1]
        return result.T

    def _matvec(self, v):
        return self._matmat(np.asarray(v).reshape(-1, 1)).reshape(-1)

    def _rmatvec(self, v):
        return self._matvec(v)  # symmetric

    def _adjoint(self):
        return self

    def _columns_per_pass(self, batch):
        n_b = batch.stop - batch.start
        width = max([int(np.prod(self._fn.X.shape[1:]))] + [s[0] for s in self.shapes if s])
        return max(1, _BLOCK_ELEMENTS // max(1, n_b * width))

    def loss_and_gradient(self):
        """The data set's loss and its gradient at :attr:`theta` (by the same batches).

        GGN and Fisher kinds reuse their recorded forward passes: the gradient is
        ``J^T dL/df``, one first-order backward pass per batch.
        """
        loss, grad = 0.0, np.zeros(self.shape[0], dtype=self.dtype)
        for batch in self._fn.batches:
            block = self._block(batch)
            if self.kind == "hessian":
                loss += block.loss
                grad += block.gradient()
                continue
            value, dout = self._output_curvature.loss_and_output_gradient(
                block.jacobian.values, batch)
            loss += value
            grad += block.jacobian.vjp(dout[None])[0]
        return loss, grad

    def loss_at(self, theta):
        """The data set's loss with ``theta`` (P,) as the parameters (no graph recorded)."""
        return self._fn.loss_at(theta)

    def clear_cache(self):
        """Forget the recorded graphs (they are rebuilt on the next product)."""
        self._blocks.clear()

    # -- dense forms --------------------------------------------------------------------------
    def _check_dense(self, what, limit):
        limit = DENSE_LIMIT if limit is None else int(limit)
        if self.shape[0] > limit:
            raise ValueError(
                f"{what}: the model has {self.shape[0]} parameters, above the limit of {limit} "
                f"(a dense {self.shape[0]}x{self.shape[0]} matrix costs "
                f"{self.shape[0] ** 2 * 8 / 2 ** 20:.0f} MiB and {self.shape[0]} products). "
                f"Use matvec, eigenvalues(), trace() or diagonal(method='hutchinson'), or raise "
                f"the limit with max_params="
            )

    def to_dense(self, max_params=None):
        """The matrix itself, ``(P, P)``, from products with the identity's columns.

        Raises
        ------
        ValueError
            When ``P`` exceeds ``max_params`` (default :data:`DENSE_LIMIT`).
        """
        self._check_dense("to_dense", max_params)
        return self._matmat(np.eye(self.shape[0], dtype=self.dtype))

    def diagonal(self, method="auto", probes=100, random_state=None, max_params=None):
        """The diagonal: exact (identity columns) or Hutchinson's ``mean(z * A z)``.

        Parameters
        ----------
        method : {'auto', 'exact', 'hutchinson'}, default 'auto'
            'auto' is exact up to ``max_params`` parameters, Hutchinson above.
        probes : int, default 100
            Rademacher probes for Hutchinson (its variance per entry is
            ``sum_{j != i} A_ij^2 / probes``).
        """
        if method not in ("auto", "exact", "hutchinson"):
            raise ValueError(f"method must be 'auto', 'exact' or 'hutchinson', got {method!r}")
        limit = DENSE_LIMIT if max_params is None else int(max_params)
        if method == "exact" or (method == "auto" and self.shape[0] <= limit):
            self._check_dense("diagonal(method='exact')", limit)
            n, diag = self.shape[0], np.empty(self.shape[0])
            for start in range(0, n, 256):
                cols = np.eye(n, min(256, n - start), -start, dtype=self.dtype)
                diag[start:start + cols.shape[1]] = np.einsum(
                    "ij,ij->j", cols, self._matmat(cols))
            return diag
        rng = self._rng(random_state)
        Z = _spectral.probes_of(rng, self.shape[0], int(probes), self.dtype)
        return np.mean(Z * self._matmat(Z), axis=1)

    # -- spectra ------------------------------------------------------------------------------
    def _rng(self, random_state):
        return np.random.default_rng(self.random_state if random_state is None else random_state)

    def trace(self, probes=99, method="hutch++", random_state=None):
        """The trace, estimated from ``probes`` products, with its standard error.

        Parameters
        ----------
        probes : int, default 99
        method : {'hutch++', 'hutchinson', 'exact'}, default 'hutch++'
            'exact' sums the exact diagonal (``P`` products).

        Returns
        -------
        Estimate
            ``value``, ``std_error`` (0 for 'exact'), ``method``, ``n_products``.
        """
        if method == "exact":
            return _spectral.Estimate(float(self.diagonal("exact").sum()), 0.0, "exact",
                                      self.shape[0])
        if not isinstance(probes, (int, np.integer)) or probes < 2:
            raise ValueError(f"probes must be an int >= 2, got {probes!r}")
        rng = self._rng(random_state)
        if method == "hutch++":
            return _spectral.hutch_plus_plus(self._matmat, self.shape[0], int(probes), rng)
        if method == "hutchinson":
            return _spectral.hutchinson(self._matmat, self.shape[0], int(probes), rng)
        raise ValueError(f"method must be 'hutch++', 'hutchinson' or 'exact', got {method!r}")

    def eigenvalues(self, k=1, which="largest", method="lanczos", tol=1e-8, max_steps=None,
                    return_vectors=False, random_state=None):
        """The ``k`` largest or smallest eigenvalues.

        Parameters
        ----------
        k : int, default 1
        which : {'largest', 'smallest', 'magnitude'}, default 'largest'
            Algebraically largest, smallest, or largest in absolute value.
        method : {'lanczos', 'eigsh'}, default 'lanczos'
            Lanczos with full reorthogonalisation, or ``scipy.sparse.linalg.eigsh``
            (implicitly restarted Lanczos, ARPACK).
        tol : float, default 1e-8
            Relative accuracy: Lanczos stops when every wanted eigenvalue's error bound
            ``min(r, r^2 / gap)`` (``r = |A x - theta x|``, ``gap`` to the nearest other
            Ritz value) is below ``tol`` times the largest |Ritz value|; with
            ``return_vectors`` the bound is ``r``, so the vectors are accurate too.
        max_steps : int, optional
            Lanczos steps at most (default ``min(P, max(20 k, 200))``).
        return_vectors : bool, default False

        Returns
        -------
        values : ndarray (k,)
            Sorted from the wanted end: decreasing for 'largest', increasing for 'smallest'.
        vectors : ndarray (P, k), with ``return_vectors``
        """
        if which not in ("largest", "smallest", "magnitude"):
            raise ValueError(f"which must be 'largest', 'smallest' or 'magnitude', got {which!r}")
        n = self.shape[0]
        if not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
            raise ValueError(f"k must be an int in [1, {n}], got {k!r}")
        rng = self._rng(random_state)
        if method == "eigsh":
            values, vectors = self._eigsh(k, which, tol, rng)
        elif method == "lanczos":
            steps = min(n, max(20 * k, 200)) if max_steps is None else int(max_steps)
            values, vectors, _, _ = _spectral.lanczos_eigenvalues(
                self._matvec, n, k, which, tol, steps, rng, vectors_wanted=return_vectors)
        else:
            raise ValueError(f"method must be 'lanczos' or 'eigsh', got {method!r}")
        return (values, vectors) if return_vectors else values

    def _eigsh(self, k, which, tol, rng):
        from scipy.sparse.linalg import eigsh

        n = self.shape[0]
        if k >= n:
            values, vectors = np.linalg.eigh(self.to_dense())
        else:
            code = {"largest": "LA", "smallest": "SA", "magnitude": "LM"}[which]
            values, vectors = eigsh(self, k=k, which=code, tol=tol, v0=rng.standard_normal(n))
        order = {"largest": np.argsort(-values), "smallest": np.argsort(values),
                 "magnitude": np.argsort(-np.abs(values))}[which][:k]
        return values[order], vectors[:, order]

    def spectral_density(self, probes=5, steps=80, grid_size=1000, sigma=None,
                         random_state=None):
        """The eigenvalue density by stochastic Lanczos quadrature (Ghorbani et al. 2019).

        Parameters
        ----------
        probes : int, default 5
            Random start vectors (each one Lanczos run).
        steps : int, default 80
            Lanczos steps per probe (the quadrature's nodes).
        grid_size : int, default 1000
        sigma : float, optional
            Gaussian smoothing width; default 1% of the Ritz values' range.

        Returns
        -------
        SpectralDensity
            ``grid``, ``density`` (integrating to 1 on the grid), the raw ``nodes`` and
            ``weights``, and ``sigma``.
        """
        rng = self._rng(random_state)
        return _spectral.slq_density(self._matvec, self.shape[0], int(probes), int(steps), rng,
                                     grid_size, sigma)

    def kfac(self):
        """Kronecker factors of each Linear layer's block (GGN and Fisher kinds).

        Returns
        -------
        list of KFACFactor
            One per Linear layer, in ``named_modules()`` order; ``factor.to_dense()`` is
            the block ``~ kron(G, A)`` in the parameters' order.
        """
        from nablanet.curvature._kfac import kfac_factors

        if self.kind == "hessian":
            raise ValueError(
                "kfac: Kronecker factors approximate the GGN or a Fisher (PSD, layer-wise "
                "outer products), not the Hessian; build the operator with kind='ggn'"
            )
        return kfac_factors(self)

    def __repr__(self):
        return (f"<CurvatureOperator kind={self.kind!r} shape={self.shape} "
                f"batches={len(self._fn.batches)} dtype={self.dtype}>")


def _forward_values(fn, theta, batch):
    from nablanet.autodiff import mode

    with mode.no_grad():
        out = fn.outputs(fn.leaf(theta), batch)
    return np.asarray(getattr(out, "data", out))
