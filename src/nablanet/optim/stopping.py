"""Stopping rules that say which one fired, and the warning solvers raise.

The notes stop gradient descent when an update no longer changes the
parameters (step norm below a tolerance).  That alone can stop a slow solver
far from the optimum, so :class:`StoppingRule` also watches the gradient norm
and a loss plateau with patience, and records which criterion fired.
"""

from __future__ import annotations

import math

from sklearn.exceptions import ConvergenceWarning as _SklearnConvergenceWarning


class ConvergenceWarning(_SklearnConvergenceWarning):
    """A solver stopped without meeting its convergence criterion; the message says what to do.

    A subclass of scikit-learn's ``ConvergenceWarning`` (itself a ``UserWarning``), so
    ``warnings.filterwarnings(..., category=sklearn.exceptions.ConvergenceWarning)`` and
    scikit-learn's tooling catch it too.
    """


def user_stacklevel():
    """The ``stacklevel`` that makes a warning point at the first frame outside nablanet
    (the user's call), for a ``warnings.warn`` made by the caller of this function."""
    import sys

    frame, level = sys._getframe(2), 2
    while frame is not None and frame.f_globals.get("__name__", "").startswith("nablanet"):
        frame, level = frame.f_back, level + 1
    return level


class StoppingRule:
    """Decide when to stop an iterative method, and say why.

    Parameters
    ----------
    step_tol : float, optional
        Stop when ``||step|| <= step_tol * (1 + ||params||)`` (the notes' rule).
    grad_tol : float, optional
        Stop when the gradient norm is at most ``grad_tol``.
    loss_tol : float, optional
        A loss counts as an improvement when it beats the best so far by more
        than ``loss_tol * max(1, |best|)``.
    patience : int, default 10
        Stop after this many updates without improvement (only with ``loss_tol``).

    Attributes
    ----------
    reason : str or None
        ``'step_tol'``, ``'grad_tol'`` or ``'loss_plateau'`` once a rule fired.

    Examples
    --------
    >>> rule = StoppingRule(grad_tol=1e-3)
    >>> rule.update(grad_norm=0.5), rule.update(grad_norm=1e-4), rule.reason
    (False, True, 'grad_tol')
    """

    def __init__(self, step_tol=None, grad_tol=None, loss_tol=None, patience=10):
        if step_tol is None and grad_tol is None and loss_tol is None:
            raise ValueError("give at least one of step_tol, grad_tol, loss_tol")
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        self.step_tol, self.grad_tol, self.loss_tol = step_tol, grad_tol, loss_tol
        self.patience = patience
        self.reset()

    def reset(self):
        """Forget the history (best loss, stall count, reason)."""
        self.best_loss = math.inf
        self.stalled = 0
        self.reason = None

    def update(self, loss=None, step_norm=None, grad_norm=None, param_norm=0.0):
        """Record one iteration; return True when the caller should stop."""
        if self.step_tol is not None and step_norm is not None:
            if step_norm <= self.step_tol * (1.0 + param_norm):
                self.reason = "step_tol"
        if self.reason is None and self.grad_tol is not None and grad_norm is not None:
            if grad_norm <= self.grad_tol:
                self.reason = "grad_tol"
        if self.reason is None and self.loss_tol is not None and loss is not None:
            self._watch_loss(float(loss))
        return self.reason is not None

    def _watch_loss(self, loss):
        margin = self.loss_tol * max(1.0, abs(self.best_loss)) if self.best_loss < math.inf else 0
        if loss < self.best_loss - margin:
            self.best_loss = loss
            self.stalled = 0
            return
        self.best_loss = min(self.best_loss, loss)
        self.stalled += 1
        if self.stalled >= self.patience:
            self.reason = "loss_plateau"


class EarlyStopping(StoppingRule):
    """Stop when a (validation) loss has not improved for ``patience`` checks.

    Examples
    --------
    >>> stop = EarlyStopping(patience=2)
    >>> [stop.update(loss=v) for v in (3.0, 2.0, 2.5, 2.1)], stop.reason
    ([False, False, False, True], 'loss_plateau')
    """

    def __init__(self, patience=10, min_delta=0.0):
        super().__init__(loss_tol=min_delta, patience=patience)
