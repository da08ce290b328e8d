"""What the linear estimators check around a fit: column scales, identifiability, separation.

- :func:`column_scales`: each column's power of two, so the solver works on columns of
  largest magnitude in [1, 2) and undoes the scaling exactly (no rounding) afterwards.
- :func:`identified_covariance`: the inverse Hessian on the identified coefficients, NaN
  on the others, with a stated rank tolerance (as statsmodels reports NaN and warns).
- :func:`separating_direction`: Konis's linear program for (quasi-)complete separation:
  a direction beta with (2y - 1) x~ beta >= 0 on every sample and > 0 on some.
"""

from __future__ import annotations

import warnings

import numpy as np

#: Columns are rescaled when the largest |x| of some column lies outside [2^-4, 2^5).
SCALE_EXPONENT_LIMIT = 4
#: An eigenvalue of the Jacobi-scaled Hessian D^-1/2 H D^-1/2 (unit diagonal) at most
#: this times its largest counts as zero: that direction of the coefficients is not
#: identified by the data.
RANK_RTOL = 1e-10
#: A coefficient is unidentified when the null space holds more than this share of its
#: unit vector's squared norm (a component above 1e-8: rounding leaves ~1e-14).
NULL_SHARE = 1e-16
#: The separation linear program is solved only below this many constraint entries.
SEPARATION_LP_MAX_ENTRIES = 20_000_000


class RankDeficiencyWarning(UserWarning):
    """The Hessian at the fit is singular: some coefficients are not identified."""


#: Rows read to choose the column scales of a large X (a strided sample: a full pass
#: over 10^6 x 20 costs a fifth of a fit).
SCALE_SAMPLE_ROWS = 4096


def column_scales(X, exact=False):
    """Powers of two s_j with max_i |x_ij| / s_j in [1, 2), or None when every column is
    already within 2^+-SCALE_EXPONENT_LIMIT of that (no copy is made then).

    Beyond ``SCALE_SAMPLE_ROWS`` rows the maxima come from an evenly strided sample
    unless ``exact``: the scaling only has to be right within a few powers of two for
    conditioning; a rare huge value the sample misses shows as a non-finite Hessian,
    and the caller then asks again with ``exact=True``.
    """
    if not X.size:
        return None
    step = 1 if exact else max(1, len(X) // SCALE_SAMPLE_ROWS)
    return scales_from_largest(np.max(np.abs(X[::step]), axis=0))


def scales_from_largest(largest):
    """:func:`column_scales` from each column's largest |x|."""
    largest = np.asarray(largest, dtype=float)
    _, exponents = np.frexp(largest)
    exponents = np.where(largest > 0, exponents - 1, 0)
    if not np.any(np.abs(exponents) > SCALE_EXPONENT_LIMIT):
        return None
    return np.ldexp(1.0, exponents)


def unscaled_standard_errors(covariance, unidentified, undo):
    """``(covariance, bse)`` in the user's units from the solver's (columns scaled by
    1 / undo): bse from the scaled diagonal first, so that neither underflows (a column
    near 1e200 has standard errors near 1e-200, whose squares do not exist in float64)."""
    bse = np.sqrt(np.clip(np.diag(covariance), 0.0, None)) * np.abs(undo)
    bse[unidentified] = np.nan
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        covariance = covariance * undo[:, None] * undo[None, :]
    return covariance, bse


def identified_covariance(hessian):
    """``(covariance, unidentified)``: H^-1 on the identified coefficients, NaN rows and
    columns on the others (boolean mask ``unidentified``).

    H is first scaled to unit diagonal (so the test does not depend on the units of the
    columns); eigenvalues at most ``RANK_RTOL`` times the largest span its null space,
    and a coefficient whose unit vector has more than ``NULL_SHARE`` of its squared norm
    there is not identified.  The rest get the pseudo-inverse, which on them equals the
    inverse of H restricted to the identified directions.
    """
    H = np.asarray(hessian, dtype=float)
    p = len(H)
    if not np.all(np.isfinite(H)):
        return np.full((p, p), np.nan), np.ones(p, dtype=bool)
    diag = np.diag(H).copy()
    zero = ~(diag > 0)
    root = np.sqrt(np.where(zero, 1.0, diag))
    scaled = H / root[:, None] / root[None, :]
    values, vectors = np.linalg.eigh(0.5 * (scaled + scaled.T))
    top = max(float(values[-1]), 0.0)
    null = values <= RANK_RTOL * top
    unidentified = zero | (np.sum(vectors[:, null] ** 2, axis=1) > NULL_SHARE)
    kept = vectors[:, ~null]
    inverse = (kept / values[~null]) @ kept.T
    covariance = inverse / root[:, None] / root[None, :]
    covariance[unidentified, :] = np.nan
    covariance[:, unidentified] = np.nan
    return covariance, unidentified


def warn_unidentified(names, unidentified, estimator):
    """A RankDeficiencyWarning naming the coefficients whose standard errors are NaN."""
    from nablanet.optim.stopping import user_stacklevel

    if not np.any(unidentified):
        return
    listed = ", ".join(repr(n) for n, bad in zip(names, unidentified) if bad)
    warnings.warn(
        f"{estimator}: the Hessian at the fit is singular (rank tolerance {RANK_RTOL:g} on "
        f"its unit-diagonal form): the coefficients {listed} are not identified by the data "
        "(collinear or constant columns), so their standard errors are NaN; drop or combine "
        "those columns", RankDeficiencyWarning, stacklevel=user_stacklevel())


def separating_direction(X, y, sample_weight=None, fit_intercept=True):
    """Konis's LP test for separation in binary logistic regression.

    Maximise sum_i m_i with m_i = (2 y_i - 1) x~_i beta >= 0 and -1 <= beta_j <= 1.  A
    positive optimum means (quasi-)complete separation: along beta the log-likelihood
    rises to its supremum without bound on ||beta||, so no finite MLE exists.

    Returns
    -------
    None, or (beta, perfectly_predicted)
        beta over ``(w, b)`` (b last with an intercept), and the mask of the samples with
        m_i > 0 (their fitted probabilities tend to 0 or 1).  None also when the LP is
        too large to solve (``SEPARATION_LP_MAX_ENTRIES``) or fails.
    """
    from scipy.optimize import linprog

    rows = np.ones(len(y), dtype=bool) if sample_weight is None else sample_weight > 0
    A = np.asarray(X, dtype=float)[rows]
    if fit_intercept:
        A = np.hstack([A, np.ones((len(A), 1))])
    if A.size > SEPARATION_LP_MAX_ENTRIES:
        return None
    A = A * (2.0 * np.asarray(y, dtype=float)[rows] - 1.0)[:, None]
    # columns of unit largest magnitude: the box |beta_j| <= 1 treats all alike
    scale = np.max(np.abs(A), axis=0)
    scale[scale == 0] = 1.0
    A = A / scale
    result = linprog(-A.sum(axis=0), A_ub=-A, b_ub=np.zeros(len(A)),
                     bounds=[(-1.0, 1.0)] * A.shape[1], method="highs")
    if result.status != 0:
        return None
    margins = A @ result.x
    if not -result.fun > 1e-7 * max(1.0, float(np.abs(A).sum(axis=1).max())):
        return None
    beta = result.x / scale
    predicted = np.zeros(len(y), dtype=bool)
    predicted[np.flatnonzero(rows)] = margins > 1e-9 * np.abs(A).sum(axis=1)
    return beta, predicted


def multinomial_separating_direction(X, Y, sample_weight=None, fit_intercept=True):
    """The multinomial form of :func:`separating_direction` for one-hot ``Y`` (n, K):
    maximise the sum of margins z_{i, y_i} - z_{i, k} >= 0 (k != y_i) over K x D rows W
    in the box |W| <= 1.  Returns None or ``(W (K, D), perfectly_predicted)``."""
    from scipy.optimize import linprog
    from scipy.sparse import csr_matrix

    rows = np.ones(len(Y), dtype=bool) if sample_weight is None else sample_weight > 0
    X = np.asarray(X, dtype=float)[rows]
    labels = np.argmax(Y[rows], axis=1)
    if fit_intercept:
        X = np.hstack([X, np.ones((len(X), 1))])
    n, D = X.shape
    K = Y.shape[1]
    if n * (K - 1) * 2 * D > SEPARATION_LP_MAX_ENTRIES:
        return None
    scale = np.max(np.abs(X), axis=0)
    scale[scale == 0] = 1.0
    X = X / scale
    # one row per (sample, rival class): x (W_own - W_rival) >= 0
    sample, rival = np.nonzero(np.arange(K)[None, :] != labels[:, None])
    own = labels[sample]
    cols = np.concatenate([own[:, None] * D + np.arange(D), rival[:, None] * D + np.arange(D)],
                          axis=1)
    data = np.concatenate([X[sample], -X[sample]], axis=1)
    A = csr_matrix((data.ravel(), (np.repeat(np.arange(len(sample)), 2 * D), cols.ravel())),
                   shape=(len(sample), K * D))
    objective = -np.asarray(A.sum(axis=0)).ravel()
    result = linprog(objective, A_ub=-A, b_ub=np.zeros(A.shape[0]),
                     bounds=[(-1.0, 1.0)] * (K * D), method="highs")
    if result.status != 0 or not -result.fun > 1e-7 * max(1.0, float(np.abs(X).sum(1).max())):
        return None
    margins = A @ result.x
    positive = np.ones(n, dtype=bool)  # every rival margin > 0: predicted perfectly
    np.logical_and.at(positive, sample, margins > 1e-9)
    predicted = np.zeros(len(Y), dtype=bool)
    predicted[np.flatnonzero(rows)] = positive
    W = result.x.reshape(K, D) / scale
    return W, predicted


def separation_message(estimator, names, beta, predicted, complete):
    """The warning text: which features separate, how many samples are predicted exactly."""
    weights = np.atleast_2d(beta)
    involved = np.any(np.abs(weights[:, : len(names)]) > 1e-9 * np.abs(weights).max(), axis=0)
    listed = ", ".join(repr(n) for n, used in zip(names, involved) if used) or "the intercept"
    if complete:
        kind = "complete separation (the classes are linearly separable)"
        count = f"all {len(predicted)} samples"
    else:
        kind = ("quasi-complete separation (the classes are linearly separable but for "
                "samples on the boundary)")
        count = f"at least {int(predicted.sum())} of {len(predicted)} samples"
    return (f"{estimator}: {kind}: the features {listed} predict {count} perfectly, so the "
            "unpenalised log-likelihood has no finite maximum (coefficients grow without "
            "bound); fit with penalty='l2' and a finite C, or drop those features")
