"""The prediction methods the classifiers share, all computed from one score matrix.

A classifier defines ``_scores(X)``: the validated input (see
``NablanetEstimator._validate_predict_data``) turned into float64 scores of
shape ``(n_samples, 1)`` (the log-odds of ``classes_[1]``, for a binary model
with one score) or ``(n_samples, n_classes)`` (logits, any common shift
allowed).  :class:`ClassifierPredictionsMixin` turns them into
``decision_function``, ``predict_proba``, ``predict_log_proba`` and ``predict``;
``score`` is scikit-learn's ``ClassifierMixin.score`` on ``predict``.
"""

from __future__ import annotations

import numpy as np

from nablanet.ops import softmax


def is_dask(X):
    """True for dask collections, without importing dask."""
    return type(X).__module__.startswith("dask")


class ClassifierPredictionsMixin:
    """``decision_function``, ``predict_proba``, ``predict_log_proba``, ``predict`` from
    ``self._scores(X)``.

    With ``_lazy_dask = True`` a dask array ``X`` gives a lazy dask result mapped
    over its row blocks (:func:`nablanet.distributed.estimators.predict_lazily`).
    """

    _lazy_dask = False

    def _scores(self, X):
        """Validated ``X`` -> float64 scores, shape (n_samples, 1) or (n_samples, n_classes)."""
        raise NotImplementedError

    def _logits(self, X):
        """Scores with one column per class (a single log-odds column gains a zero column)."""
        scores = self._scores(X)
        if scores.shape[1] == 1:
            scores = np.hstack([np.zeros_like(scores), scores])
        return scores

    def _is_lazy(self, X):
        return self._lazy_dask and is_dask(X)

    def _predict_lazily(self, method, X):
        from nablanet.distributed.estimators import predict_lazily

        return predict_lazily(self, method, X)

    def decision_function(self, X):
        """Scores: for two classes the log-odds of ``classes_[1]``, else the logits.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        if self._is_lazy(X):
            return self._predict_lazily("decision_function", X)
        scores = self._scores(X)
        if scores.shape[1] == 1:
            return scores[:, 0]
        if scores.shape[1] == 2:
            return scores[:, 1] - scores[:, 0]
        return scores

    def predict_proba(self, X):
        """Class probabilities (columns in the order of ``classes_``), computed in float64.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        if self._is_lazy(X):
            return self._predict_lazily("predict_proba", X)
        return softmax(self._logits(X), axis=1)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, computed stably (finite where it is).

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        if self._is_lazy(X):
            return self._predict_lazily("predict_log_proba", X)
        logits = self._logits(X)
        return logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)

    def predict(self, X):
        """Most probable class of each row.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        if self._is_lazy(X):
            return self._predict_lazily("predict", X)
        scores = self._scores(X)
        if scores.shape[1] == 1:
            return self.classes_[(scores[:, 0] > 0).astype(int)]
        return self.classes_[np.argmax(scores, axis=1)]
