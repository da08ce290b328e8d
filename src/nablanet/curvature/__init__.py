"""Curvature of networks: Hessian, GGN and Fisher operators over a model's parameters.

:func:`operator` returns a ``scipy.sparse.linalg.LinearOperator`` (SciPy loads on
first use) with exact products and, on top of them, the dense matrix, the diagonal,
the trace, extreme eigenvalues, the spectral density and K-FAC factors.

Examples
--------
>>> import numpy as np
>>> from nablanet import nn, curvature
>>> rng = np.random.default_rng(0)
>>> net = nn.MLP(4, 8, 3, dropout=0.0, generator=rng)
>>> X, y = rng.standard_normal((32, 4)), rng.integers(0, 3, 32)
>>> G = curvature.operator(net, nn.CrossEntropyLoss(), X, y, kind="ggn")
>>> G.shape
(67, 67)
>>> bool(G.eigenvalues(k=1, which="smallest")[0] > -1e-10)  # PSD (claim C7)
True
"""

from __future__ import annotations

import numpy as np


def operator(model, loss_fn, X, y, kind="hessian", batch_size=None, random_state=None,
             batch_norm="eval", mc_samples=1, dtype=np.float64, cache=None):
    """A curvature matrix of ``loss_fn(model(X), y)`` in ``model``'s parameters.

    The parameters are flattened in ``model.named_parameters()`` order.  The loss is
    the data set's: ``loss_fn`` on each batch, weighted by ``n_b / N`` when it
    averages (``reduction='mean'``, the default of losses and of plain functions) or
    summed (``reduction='sum'``), so the result does not depend on ``batch_size``.

    Parameters
    ----------
    model : nablanet.nn.Module
    loss_fn : callable
        ``loss_fn(outputs, targets) -> scalar``: ``nn.CrossEntropyLoss``,
        ``nn.MSELoss``, ``nn.BCEWithLogitsLoss`` (closed-form output curvature) or any
        differentiable function of the outputs.
    X, y : array_like
        Inputs and targets, one row per sample.
    kind : {'hessian', 'ggn', 'fisher', 'empirical_fisher'}, default 'hessian'
        * 'hessian': the exact Hessian (reverse over reverse Hessian-vector products).
        * 'ggn': the generalised Gauss-Newton ``J^T H_out J`` with ``H_out`` the loss's
          Hessian in the outputs (``diag(p) - p p^T`` for softmax cross-entropy: PSD by
          claim C7, so the GGN is PSD wherever the loss is convex in the outputs).
        * 'fisher': the Monte-Carlo Fisher, ``J^T (g g^T) J`` with ``g`` the outputs'
          gradient at targets drawn from the model (``mc_samples`` per sample, drawn once
          from ``random_state``, so the operator is one fixed matrix); its expectation is
          the GGN.
        * 'empirical_fisher': the same with the data's targets, i.e.
          ``(1/N) sum_i grad l_i grad l_i^T`` for a mean (``sum_i`` for a sum) of
          per-sample gradients.
    batch_size : int, optional
        Samples per forward pass (default all).
    random_state : int or numpy.random.Generator, optional
        Seeds the MC Fisher's targets and the default of every stochastic method.
    batch_norm : {'eval', 'train'}, default 'eval'
        'eval': batch norm uses its running statistics, so samples are independent and
        the matrix is the sum of per-sample terms.  'train': each batch is normalised
        with its own statistics, coupling its samples (the loss training minimises on
        that batch; then the result depends on ``batch_size``); running statistics are
        never updated.  Dropout is always off: the operator must be deterministic.
    mc_samples : int, default 1
        Draws per sample for ``kind='fisher'``.
    dtype : numpy dtype, default float64
        Precision of the products (the model's parameters are not changed).
    cache : bool, optional
        Keep every batch's recorded graph between products (one backward pass per
        product instead of a forward and two); default when ``X`` takes at most 128 MiB.

    Returns
    -------
    CurvatureOperator
        A ``scipy.sparse.linalg.LinearOperator`` of shape ``(P, P)`` with
        ``to_dense``, ``diagonal``, ``trace``, ``eigenvalues``, ``spectral_density``
        and ``kfac``.  The model's parameters and train/eval modes are the same after
        every call as before it.
    """
    from nablanet.curvature._operator import CurvatureOperator

    return CurvatureOperator(model, loss_fn, X, y, kind=kind, batch_size=batch_size,
                             random_state=random_state, batch_norm=batch_norm,
                             mc_samples=mc_samples, dtype=dtype, cache=cache)


def __getattr__(name):
    if name in ("CurvatureOperator", "DENSE_LIMIT"):
        from nablanet.curvature import _operator

        return getattr(_operator, name)
    if name in ("Estimate", "SpectralDensity"):
        from nablanet.curvature import _spectral

        return getattr(_spectral, name)
    if name == "KFACFactor":
        from nablanet.curvature._kfac import KFACFactor

        return KFACFactor
    raise AttributeError(f"module 'nablanet.curvature' has no attribute {name!r}")


__all__ = ["operator"]
