"""Newton fits of logistic and softmax regression on Dask arrays: chunks in, small arrays out.

Each iteration builds one task per row block of ``X`` (its ``X_c^T r_c`` and
``X_c^T diag(w_c) X_c``), sums the results in a tree of tasks on the workers, and
brings only the (d' K) x (d' K) total to the client, where `_newton` solves for the step.
Whatever scheduler is active runs the graph: a ``dask.distributed.Client`` if one is
open, otherwise Dask's default (threads for arrays).
"""

from __future__ import annotations

import numpy as np

from nablanet.data.validation import DataError
from nablanet.distributed import _chunk
from nablanet.distributed._newton import Penalty, newton_minimize

FAN_IN = 8  # partial sums added per reduction task


def _is_dask(array):
    return type(array).__module__.startswith("dask")


def check_row_blocks(X, y):
    """Return ``(X, y)`` as dask arrays with matching row blocks, or raise `DataError`."""
    import dask.array as da

    if not _is_dask(X):
        raise TypeError(f"X must be a dask array, got {type(X).__name__}")
    if X.ndim != 2:
        raise DataError(f"X must be 2-D (n_samples, n_features), got {X.ndim}-D shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise DataError(f"X must be numeric, got values of dtype {X.dtype}")
    if any(np.isnan(size) for size in X.chunks[0]):
        raise DataError(
            "X has unknown chunk sizes (it came from a dask DataFrame?); call "
            "X.compute_chunk_sizes() or use to_dask_array(lengths=True)")
    if not _is_dask(y):
        y = da.from_array(np.asarray(y), chunks=(X.chunks[0],) + np.asarray(y).shape[1:])
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"y must be 1-D (n_samples,), got shape {y.shape}")
    if any(np.isnan(size) for size in y.chunks[0]):
        raise DataError("y has unknown chunk sizes; call y.compute_chunk_sizes()")
    if y.shape[0] != X.shape[0]:
        raise DataError(f"X and y must have the same number of rows, got {X.shape[0]} and "
                        f"{y.shape[0]}")
    if tuple(y.chunks[0]) != tuple(X.chunks[0]):
        raise DataError(
            "X and y must be chunked alike along the rows (each task reads one block of "
            f"each), got X row chunks {_short(X.chunks[0])} and y row chunks "
            f"{_short(y.chunks[0])}; fix with y = y.rechunk({{0: X.chunks[0]}})")
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})  # one block per row range: every feature in each task
    return X, y


def _short(sizes, shown=4):
    sizes = tuple(int(s) for s in sizes)
    if len(sizes) <= shown:
        return sizes
    return f"({', '.join(map(str, sizes[:shown]))}, ... {len(sizes)} blocks)"


# ------------------------------------------------------------------ work done on the workers

def _encode_block(X_block, y_block, classes, block, row_start):
    """Check one block (finite features, known labels) and return class indices."""
    if X_block.dtype.kind in "fc" and not np.all(np.isfinite(X_block)):
        bad = np.argwhere(~np.isfinite(X_block))[0]
        count = int(np.count_nonzero(~np.isfinite(X_block)))
        raise DataError(
            f"X must hold finite numbers: block {block} (rows {row_start} to "
            f"{row_start + len(X_block) - 1}) holds {count} NaN/inf value(s), first at row "
            f"{row_start + int(bad[0])}, column {int(bad[1])}; drop or impute them")
    indices = np.searchsorted(classes, y_block)
    indices = np.clip(indices, 0, len(classes) - 1)
    if not np.array_equal(classes[indices], y_block):
        unknown = np.setdiff1d(y_block, classes)[:3]
        raise DataError(f"y block {block} holds labels {list(unknown)} outside the classes "
                        f"{list(classes)} found when the fit started (did y change?)")
    return indices


def _block_statistics(X_block, y_block, theta, step, lengths, *, model, classes,
                      fit_intercept, block, row_start):
    """Flat vector for one block: [loss, misfits, grad, hess] (step None) or losses along
    the step."""
    X_block = np.asarray(X_block, dtype=np.float64)
    labels = _encode_block(X_block, np.asarray(y_block), classes, block, row_start)
    if model == "binary":
        targets = labels.astype(np.float64)
        if step is not None:
            return _chunk.binary_losses_along(X_block, targets, theta, step, lengths,
                                              fit_intercept)
        stats = _chunk.binary_loss_grad_hess(X_block, targets, theta, fit_intercept)
    else:
        if step is not None:
            return _chunk.softmax_losses_along(X_block, labels, theta, step, lengths,
                                               fit_intercept)
        stats = _chunk.softmax_loss_grad_hess(X_block, labels, theta, fit_intercept)
    loss, grad, hess, misfits = stats
    return np.concatenate([[loss, misfits], grad.ravel(), hess.ravel()])


def _add(*parts):
    total = parts[0].copy()
    for part in parts[1:]:
        total += part
    return total


# ------------------------------------------------------------------ the client side

class _Passes:
    """Builds and runs one pass over the row blocks per call; only sums come back."""

    def __init__(self, X, y, model, classes, fit_intercept):
        self.X_blocks = X.to_delayed().ravel()
        self.y_blocks = y.to_delayed().ravel()
        self.starts = np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]]).astype(int)
        self.options = dict(model=model, classes=classes, fit_intercept=fit_intercept)
        self.n_classes = 1 if model == "binary" else len(classes)
        self.n_rows = X.shape[1] + int(fit_intercept)
        self.n_passes = 0

    def _run(self, theta, step, lengths):
        import dask
        from dask import delayed

        task = delayed(_block_statistics, pure=False)
        parts = [task(xb, yb, theta, step, lengths, block=i, row_start=int(start),
                      **self.options)
                 for i, (xb, yb, start) in enumerate(zip(self.X_blocks, self.y_blocks,
                                                         self.starts, strict=True))]
        while len(parts) > 1:
            parts = [delayed(_add, pure=False)(*parts[i:i + FAN_IN])
                     for i in range(0, len(parts), FAN_IN)]
        self.n_passes += 1
        (total,) = dask.compute(parts[0])
        return total

    def evaluate(self, theta_flat):
        """Loss, gradient, Hessian of the unpenalised objective and the number of samples
        not strictly on their class's side (0: theta separates the data): one fused pass."""
        theta = theta_flat.reshape(self.n_rows, self.n_classes)
        total = self._run(theta, None, None)
        size = theta.size
        hess = total[2 + size:].reshape(size, size)
        return float(total[0]), total[2:2 + size], hess, int(total[1])

    def losses_along(self, theta_flat, step_flat, lengths):
        """Unpenalised losses at theta + t step for each t: one value-only pass."""
        shape = (self.n_rows, self.n_classes)
        return self._run(theta_flat.reshape(shape), step_flat.reshape(shape), lengths)


def _flat_directions(n_rows, n_classes, free_rows):
    """Orthonormal directions along which softmax is flat: row j of theta shifted by a
    constant over classes (C7: H 1 = 0), for every unpenalised row j."""
    basis = np.zeros((n_rows * n_classes, len(free_rows)))
    for column, row in enumerate(free_rows):
        basis[row * n_classes:(row + 1) * n_classes, column] = 1.0 / np.sqrt(n_classes)
    return basis


def fit_newton(X, y, *, multinomial, C=1.0, fit_intercept=True, tol=1e-8, max_iter=100,
               callback=None, classes=None):
    """Fit binary logistic or multinomial softmax regression on dask arrays by Newton.

    The objective is the sum of log-losses plus ``0.5 * ||W||^2 / C`` (intercept not
    penalised; ``C=None`` or ``inf`` for no penalty), as in the in-memory estimators.

    Parameters
    ----------
    X : dask.array.Array, shape (n_samples, n_features)
        Features, chunked along rows (column chunks are merged).
    y : dask.array.Array or array_like, shape (n_samples,)
        Labels, chunked like the rows of ``X``.
    multinomial : bool
        False: binary logistic (exactly two classes); True: softmax over K classes.
    C : float or None, default 1.0
        Inverse penalty strength.
    fit_intercept : bool, default True
    tol : float, default 1e-8
        Stop when the largest gradient entry is at most ``tol``.
    max_iter : int, default 100
    callback : callable or None
        Called after each iteration with ``{"iteration", "loss", "grad_norm"}``.
    classes : array_like or None
        Sorted class labels if already known (saves one pass over ``y``).

    Returns
    -------
    dict
        ``coef`` (K', d), ``intercept`` (K',), ``classes``, ``n_iter``, ``stop_reason``,
        ``converged``, ``message``, ``loss`` (penalised objective), ``hessian`` (of the
        penalised objective at the solution, augmented layout), ``scaled_hessian`` and
        ``undo`` (the Hessian in the solver's column-scaled coordinates, and the factor
        per entry that maps those coordinates back), ``trace`` (dict of
        per-iteration arrays as in :class:`nablanet.optim.NewtonResult`) and ``n_passes``
        (passes over the data); K' = 1 for the binary model.
    """
    from nablanet.models._stats import SCALE_SAMPLE_ROWS, scales_from_largest
    from nablanet.optim.newton import HessianError

    X, y = check_row_blocks(X, y)
    if classes is None:
        classes = np.unique(y.map_blocks(np.unique, dtype=y.dtype).compute())
    classes = np.asarray(classes)
    _check_classes(classes, multinomial)
    model = "softmax" if multinomial else "binary"
    # as in memory: solve on columns of largest |x| in [1, 2) (exact powers of two),
    # undone in the coefficients afterwards; the maxima come from the first rows (no
    # extra pass over the data), and from all of them if values those rows did not show
    # overflow the first attempt
    sample = X[:SCALE_SAMPLE_ROWS]
    for attempt in (sample, X):
        scales = scales_from_largest(abs(attempt).max(axis=0).compute())
        try:
            result, passes = _fit_scaled(X, y, model, classes, fit_intercept, scales, C,
                                         multinomial, tol, max_iter, callback)
            break
        except HessianError:
            if attempt is X or X.shape[0] <= SCALE_SAMPLE_ROWS:
                raise
    n_rows, n_classes, n_features = passes.n_rows, passes.n_classes, X.shape[1]
    theta = result.x.reshape(n_rows, n_classes).copy()
    undo = np.ones(n_rows)
    if scales is not None:
        undo[:n_features] = 1.0 / scales
    theta *= undo[:, None]
    intercept = theta[n_features] if fit_intercept else np.zeros(n_classes)
    per_entry = np.repeat(undo, n_classes)  # index j * K + k
    with np.errstate(over="ignore", invalid="ignore"):
        hessian = result.hessian / per_entry[:, None] / per_entry[None, :]
    return {"coef": theta[:n_features].T.copy(), "intercept": np.array(intercept, copy=True),
            "classes": classes, "n_iter": result.n_iter, "stop_reason": result.stop_reason,
            "converged": result.converged, "message": result.message, "loss": result.fun,
            "hessian": hessian, "scaled_hessian": result.hessian, "undo": per_entry,
            "trace": result.trace, "n_passes": passes.n_passes}


def _fit_scaled(X, y, model, classes, fit_intercept, scales, C, multinomial, tol, max_iter,
                callback):
    """:func:`newton_minimize` on the columns of X divided by ``scales`` (None: as they are),
    the penalty divided by scales^2 to stay on the user's coefficients."""
    passes = _Passes(X if scales is None else X / scales, y, model, classes, fit_intercept)
    n_rows, n_classes, n_features = passes.n_rows, passes.n_classes, X.shape[1]
    mask = np.zeros((n_rows, n_classes))
    mask[:n_features] = 1.0 if scales is None else 1.0 / scales[:, None] ** 2
    alpha = 0.0 if C is None or np.isinf(C) else 1.0 / C
    free_rows = [] if not multinomial else (
        list(range(n_rows)) if alpha == 0.0 else list(range(n_features, n_rows)))
    result = newton_minimize(
        passes.evaluate, passes.losses_along, np.zeros(n_rows * n_classes),
        Penalty(alpha, mask.ravel()), _flat_directions(n_rows, n_classes, free_rows),
        tol=tol, max_iter=max_iter, callback=callback)
    return result, passes


def _check_classes(classes, multinomial):
    if len(classes) < 2:
        raise DataError(f"the data must hold at least 2 classes, got {list(classes)}")
    if not multinomial and len(classes) > 2:
        raise DataError(f"binary logistic regression needs exactly 2 classes, got "
                        f"{len(classes)}; use SoftmaxRegression")
