"""Support for the claim checks: the result row, data, library look-up, numeric helpers.

The claim checks must exercise the library's real rules, so functions are
looked up in nablanet's own modules (``nn.functional``, ``ops``, ``optim``);
only where a piece is absent does a check fall back to the same formula
written with the engine's elementary ops, and its description says so.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import asdict, dataclass

import numpy as np

#: Where library functions are looked up, first match wins.
_LIBRARY_MODULES = (
    "nablanet.nn.functional",
    "nablanet.ops",
    "nablanet.ops.activations",
    "nablanet.ops.losses",
    "nablanet.ops.normalization",
    "nablanet.ops.stochastic",
    "nablanet.optim",
    "nablanet.optim.roots",
    "nablanet.optim.newton",
)


@dataclass(frozen=True)
class ClaimCheck:
    """One numerical check of a claim in ``docs/claims.md``.

    Attributes
    ----------
    claim : str
        Claim id, ``'C1'`` ... ``'C7'``.
    check : str
        What was checked, in words.
    measured : float or str
        The measured value (an error, eigenvalue, fitted order, z-score...).
    tolerance : str
        The pass condition, e.g. ``'<= 1e-10'``.
    passed : bool
    correction : str
        Where the claims page corrects the notes, what the correction says.
    """

    claim: str
    check: str
    measured: float | str
    tolerance: str
    passed: bool
    correction: str = ""

    def __post_init__(self):
        # Checks often compute ``passed`` with NumPy; keep the row plain Python for JSON.
        object.__setattr__(self, "passed", bool(self.passed))
        if not isinstance(self.measured, str):
            object.__setattr__(self, "measured", float(self.measured))

    def as_dict(self):
        """A JSON-ready dict (non-finite numbers become strings)."""
        row = asdict(self)
        value = row["measured"]
        if isinstance(value, float) and not math.isfinite(value):
            row["measured"] = str(value)
        return row


def at_most(claim, check, measured, tol, correction=""):
    """A row that passes when ``measured <= tol`` (and is finite)."""
    value = float(measured)
    passed = math.isfinite(value) and value <= tol
    return ClaimCheck(claim, check, value, f"<= {tol:.1e}", passed, correction)


def at_least(claim, check, measured, bound, correction=""):
    """A row that passes when ``measured >= bound`` (and is finite)."""
    value = float(measured)
    passed = math.isfinite(value) and value >= bound
    return ClaimCheck(claim, check, value, f">= {bound:.3g}", passed, correction)


def near(claim, check, measured, target, tol, correction=""):
    """A row that passes when ``|measured - target| <= tol``."""
    value = float(measured)
    passed = math.isfinite(value) and abs(value - target) <= tol
    return ClaimCheck(claim, check, value, f"{target:.4g} +- {tol:.2g}", passed, correction)


def holds(claim, check, condition, measured, expectation, correction=""):
    """A row for a yes/no fact; ``measured`` says what was seen."""
    return ClaimCheck(claim, check, measured, expectation, bool(condition), correction)


def failed_row(claim, err):
    """The row reported when a claim's checks raise instead of finishing."""
    message = f"{type(err).__name__}: {err}"
    return ClaimCheck(claim, "checks ran to completion", message[:200], "no exception", False)


def relative_error(actual, expected):
    """``max|actual - expected| / max(max|expected|, 1e-300)``; inf when not finite."""
    a = np.asarray(getattr(actual, "data", actual), dtype=np.float64)
    e = np.asarray(getattr(expected, "data", expected), dtype=np.float64)
    if a.shape != e.shape:
        a = a.reshape(e.shape)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(e))):
        return float("inf")
    scale = max(float(np.max(np.abs(e), initial=0.0)), 1e-300)
    return float(np.max(np.abs(a - e), initial=0.0) / scale)


def central_difference_gradient(fun, x, eps=1e-6):
    """Gradient of scalar ``fun`` at ``x`` by central differences, one coordinate at a time."""
    x = np.asarray(x, dtype=np.float64)
    flat = x.reshape(-1)
    out = np.empty_like(flat)
    for i in range(flat.size):
        step = np.zeros_like(flat)
        step[i] = eps
        up = float(np.asarray(value_of(fun((flat + step).reshape(x.shape)))))
        down = float(np.asarray(value_of(fun((flat - step).reshape(x.shape)))))
        out[i] = (up - down) / (2 * eps)
    return out.reshape(x.shape)


def value_of(x):
    """The NumPy array behind a Tensor or array."""
    return np.asarray(getattr(x, "data", x))


def library_function(name):
    """nablanet's own function ``name``, or None when no module defines it yet."""
    for module_name in _LIBRARY_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        found = getattr(module, name, None)
        if callable(found):
            return found
    return None


def breast_cancer(columns=None):
    """Breast-cancer features standardised to mean 0, std 1, and 0/1 labels."""
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    if columns is not None:
        X = X[:, list(columns)]
    return X, y.astype(np.float64)


def digits():
    """Digits features scaled to [0, 1] and integer labels 0..9."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def with_intercept(X):
    """``[X, 1]``: the augmented rows xt_n = (x_n, 1) of claim C1."""
    return np.hstack([X, np.ones((X.shape[0], 1))])


def linearly_separable(X, y):
    """Whether a hyperplane strictly separates the 0/1 labels (an LP feasibility test)."""
    from scipy.optimize import linprog

    signs = 2.0 * np.asarray(y) - 1.0
    Xt = with_intercept(np.asarray(X, dtype=np.float64))
    result = linprog(
        np.zeros(Xt.shape[1]),
        A_ub=-(signs[:, None] * Xt),
        b_ub=-np.ones(Xt.shape[0]),
        bounds=[(None, None)] * Xt.shape[1],
        method="highs",
    )
    return result.status == 0, (result.x if result.status == 0 else None)
