"""``MLPClassifier``: the notes' network (claim C3) with a scikit-learn face.

Linear -> [BatchNorm1d] -> LeakyReLU(0.1) -> Dropout(0.2) (or Gaussian dropout,
claim C5) -> Linear, trained on softmax cross-entropy.  Everything random (the
initial weights, the shuffling, the dropout masks) comes from one
``numpy.random.Generator`` seeded from ``random_state``; its state is part of a
saved model, so training resumes bit for bit after ``nablanet.load``.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.validation import validate_data

from nablanet.models import _mlp_state
from nablanet.models._base import (
    DivergenceError,
    NablanetEstimator,
    check_choice,
    check_positive,
    check_squares_fit,
    encode_labels,
    notify,
)
from nablanet.models._predict import ClassifierPredictionsMixin

_OPTIMIZERS = ("adam", "sgd", "newton-cg", "hessian-free")
#: scikit-learn's parameter names and the defaults of the nablanet names they stand for.
_SKLEARN_ALIASES = {"max_iter": 50, "learning_rate_init": 1e-3}
_DTYPES = {"float32": np.float32, "float64": np.float64}


class MLPClassifier(ClassifierPredictionsMixin, ClassifierMixin, NablanetEstimator):
    """Multilayer perceptron classifier; by default the network of the notes.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (256,)
    activation : {'leaky_relu', 'relu', 'tanh', 'sigmoid'}, default 'leaky_relu'
    negative_slope : float, default 0.1
        Slope of the leaky ReLU for negative inputs.
    batch_norm : bool, default True
        BatchNorm1d after each hidden Linear (PyTorch's momentum 0.1, eps 1e-5).
    dropout : float, default 0.2
        Inverted-dropout probability after each hidden activation (0: none).
    gaussian_dropout : float, optional
        If given, multiplicative ``Normal(1, sigma2)`` noise with this ``sigma2``
        replaces binary dropout (``sigma2 = p / (1 - p)`` matches its variance).
    optimizer : {'adam', 'sgd', 'newton-cg', 'hessian-free'}, default 'adam'
        'newton-cg' trains full-batch by truncated Newton on Hessian-vector
        products, one Newton step per epoch, with dropout off (a line search needs
        a deterministic objective).  'hessian-free' is Martens' Gauss-Newton-CG on
        GGN products with adaptive damping, one step per epoch, dropout off.
    learning_rate : float, default 1e-3
        Step size of Adam or SGD (SGD uses momentum 0.9).
    batch_size : int, default 128
    max_epochs : int, default 50
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the data (stratified), stop when its
        accuracy has not improved for ``n_iter_no_change`` epochs, and keep the
        weights of the best epoch.
    validation_fraction : float, default 0.1
    n_iter_no_change : int, default 10
        Patience of early stopping, in epochs.
    standardize : bool, default True
        Centre and scale each feature by its training mean and standard deviation
        (computed at ``fit`` or the first ``partial_fit``, stored as ``mean_`` and
        ``scale_``, and saved with the model).  Unscaled features (pixel counts,
        millimetres) otherwise stall a first-order optimiser for many epochs.
    random_state : int or None, default None
        Seed of the initial weights, the shuffling and the dropout masks.
    dtype : {'float32', 'float64'}, default 'float32'
        Precision of training; prediction runs on a float64 copy of the network,
        made once per training state and reused until the network changes.
    verbose : bool, default False
        Print one line per epoch.
    callback : callable, optional
        Called after each epoch with ``{"epoch", "loss", "val_loss", "val_accuracy"}``
        (validation entries None without early stopping).
    max_iter : int, optional
        scikit-learn's name for ``max_epochs`` (epochs, as in its MLPClassifier); when
        given it is used instead (giving both, different, is an error).
    learning_rate_init : float, optional
        scikit-learn's name for ``learning_rate``, with the same rule.

    Raises
    ------
    DivergenceError
        (a ValueError) from ``fit`` / ``partial_fit`` when training produced non-finite
        weights or a non-finite loss, as scikit-learn's "non-finite parameter weights".

    Attributes
    ----------
    classes_ : ndarray
    n_features_in_ : int
    n_iter_ : int
        Epochs trained.
    loss_curve_ : list of float
        Mean training loss of each epoch.
    validation_scores_ : list of float
        Validation accuracy of each epoch (empty without early stopping).
    network_ : nablanet.nn.Module
        The trained network (logits out).

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((100, 2)); y = (X[:, 0] > 0).astype(int)
    >>> clf = nb.MLPClassifier(hidden_layer_sizes=(16,), max_epochs=30, learning_rate=1e-2,
    ...                        batch_size=16, random_state=0)
    >>> bool(clf.fit(X, y).score(X, y) > 0.9)
    True
    """

    def __init__(
        self,
        hidden_layer_sizes=(256,),
        activation="leaky_relu",
        negative_slope=0.1,
        batch_norm=True,
        dropout=0.2,
        gaussian_dropout=None,
        optimizer="adam",
        learning_rate=1e-3,
        batch_size=128,
        max_epochs=50,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        standardize=True,
        random_state=None,
        dtype="float32",
        verbose=False,
        callback=None,
        max_iter=None,
        learning_rate_init=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.negative_slope = negative_slope
        self.batch_norm = batch_norm
        self.dropout = dropout
        self.gaussian_dropout = gaussian_dropout
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.standardize = standardize
        self.random_state = random_state
        self.dtype = dtype
        self.verbose = verbose
        self.callback = callback
        self.max_iter = max_iter
        self.learning_rate_init = learning_rate_init

    # -- fitting -------------------------------------------------------------------
    def fit(self, X, y):
        """Train from scratch for ``max_epochs`` epochs (fewer with early stopping).

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
        y : array_like of shape (n_samples,)

        Returns
        -------
        self
        """
        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float64)
        classes, y_index = encode_labels(y, name="MLPClassifier")
        self._start(X.shape[1], classes)
        self._fit_scaler(X)
        X = self._scale(X).astype(self._dtype(), copy=False)
        X_val = y_val = None
        if self.early_stopping:
            X, X_val, y_index, y_val = self._validation_split(X, y_index)
        best = None
        for _ in range(self._epochs()):
            self._run_epoch(X, y_index, X_val, y_val)
            self._check_finite()
            if self.early_stopping:
                best = self._track_best(best)
                if best["stalled"] >= self.n_iter_no_change:
                    break
        if best is not None:
            self.network_.load_state_dict(best["state"])
            self._network_changed()
        return self

    def partial_fit(self, X, y, classes=None):
        """Run exactly one epoch over ``(X, y)``, continuing any previous training.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
        y : array_like of shape (n_samples,)
        classes : array_like, optional
            All the classes; needed at the first call when ``y`` may not show
            them all (default: the classes found in ``y``).

        Returns
        -------
        self
        """
        first = not hasattr(self, "network_")
        if first:
            self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float64, reset=first)
        if first:
            all_classes = encode_labels(y if classes is None else np.asarray(classes))[0]
            self._start(X.shape[1], all_classes)
            self._fit_scaler(X)
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(
                f"classes {np.unique(classes).tolist()} differ from the classes of the first "
                f"partial_fit call {self.classes_.tolist()}"
            )
        y_index = self._encode_known(y)
        self._run_epoch(self._scale(X).astype(self._dtype(), copy=False), y_index, None, None)
        self._check_finite()
        return self

    def _check_finite(self):
        """DivergenceError when the last epoch left a non-finite loss or weight."""
        if np.isfinite(self.loss_curve_[-1]) and all(
                np.all(np.isfinite(p.data)) for p in self.network_.parameters()):
            return
        raise DivergenceError(
            f"Solver produced non-finite parameter weights (epoch {self.n_iter_}, loss "
            f"{self.loss_curve_[-1]}): training diverged; use a smaller learning_rate (now "
            f"{self._learning_rate()}) or standardize=True")

    def _epochs(self):
        return self.max_epochs if self.max_iter is None else self.max_iter

    def _learning_rate(self):
        return self.learning_rate if self.learning_rate_init is None else self.learning_rate_init

    # -- prediction (decision_function, predict_proba, ...: ClassifierPredictionsMixin) --
    def _scores(self, X):
        X = self._validate_predict_data(X)
        return self._eval_logits(self._scale(X))

    def _eval_logits(self, X):
        """Logits in evaluation mode (running statistics, no dropout), in float64.

        Prediction runs on a float64 copy of the network: float32 matrix products
        round differently for different batch shapes, and a row's prediction
        should not depend on which other rows come with it.  The copy is made
        once per training state and reused (``_mlp_state.EvalCopy``).
        """
        import nablanet as nb

        cache = getattr(self, "_eval_copy", None) or _mlp_state.EvalCopy()  # none: no reuse
        net = cache.get(self.network_, (self.n_iter_, getattr(self, "_state_version", 0)))
        with nb.no_grad():
            out = net(np.asarray(X, dtype=np.float64))
        return np.asarray(getattr(out, "data", out), dtype=np.float64)

    # -- one epoch -----------------------------------------------------------------
    def _run_epoch(self, X, y_index, X_val, y_val):
        if self.optimizer == "newton-cg":
            from nablanet.models._mlp_newton import newton_cg_epoch

            loss = newton_cg_epoch(self, X, y_index)
        elif self.optimizer == "hessian-free":
            from nablanet.models._mlp_hessian_free import hessian_free_epoch

            loss = hessian_free_epoch(self, X, y_index)
        else:
            loss = self._first_order_epoch(X, y_index)
        self.n_iter_ += 1
        self._network_changed()
        self.loss_curve_.append(loss)
        val_loss = val_accuracy = None
        if X_val is not None:
            val_loss, val_accuracy = self._validation_scores(X_val, y_val)
            self.validation_scores_.append(val_accuracy)
        if self.verbose:
            extra = ""
            if X_val is not None:
                extra = f"  val_loss {val_loss:.5f}  val_acc {val_accuracy:.4f}"
            print(f"epoch {self.n_iter_:4d}  loss {loss:.5f}{extra}")
        notify(self.callback, {"epoch": self.n_iter_, "loss": loss, "val_loss": val_loss,
                               "val_accuracy": val_accuracy})

    def _first_order_epoch(self, X, y_index):
        self.network_.train()
        step = self._train_step()
        total = 0.0
        for idx in self._batches(len(X)):
            total += float(step(X[idx], y_index[idx]).data) * len(idx)
        return total / len(X)

    def _train_step(self):
        """The network's training step: recorded twice, then replayed (``optim.TrainStep``)."""
        from nablanet.nn.functional import cross_entropy
        from nablanet.optim import TrainStep

        step = self.__dict__.get("_step")
        if step is None or step.model is not self.network_ or step.optimizer is not (
                self.optimizer_):
            # class indices take the fused softmax cross-entropy path (dL/dz = p - y)
            step = self._step = TrainStep(self.network_, cross_entropy, self.optimizer_)
        return step

    def _batches(self, n):
        """Shuffled index batches; a trailing batch of one row joins the previous one,
        since batch normalisation cannot train on a single row."""
        order = self._rng.permutation(n)
        starts = list(range(0, n, self.batch_size))
        if self.batch_norm and len(starts) > 1 and n - starts[-1] == 1:
            starts.pop()
        if self.batch_norm and n == 1:
            raise ValueError(
                "MLPClassifier with batch_norm=True needs at least 2 samples per batch, got "
                "1 sample; pass more data or batch_norm=False"
            )
        ends = starts[1:] + [n]
        return [order[a:b] for a, b in zip(starts, ends)]

    def _validation_scores(self, X_val, y_val):
        from nablanet.nn.functional import cross_entropy

        logits = self._eval_logits(X_val)
        loss = float(cross_entropy(logits, y_val))
        return loss, float(np.mean(np.argmax(logits, axis=1) == y_val))

    def _validation_split(self, X, y_index):
        from nablanet.data import train_test_split

        n_val = max(int(np.ceil(self.validation_fraction * len(X))), len(self.classes_))
        if len(X) - n_val < 2:
            raise ValueError(
                f"early_stopping needs at least {n_val + 2} samples to hold out "
                f"validation_fraction={self.validation_fraction}, got {len(X)}"
            )
        counts = np.bincount(y_index, minlength=len(self.classes_))
        stratify = bool(counts.min() >= 2)
        X_tr, X_val, y_tr, y_val = train_test_split(X, y_index, n_val, self._rng, stratify)
        return X_tr, X_val, y_tr, y_val

    def _track_best(self, best):
        score = self.validation_scores_[-1]
        if best is None or score > best["score"]:
            return {"score": score, "state": self.network_.state_dict(), "stalled": 0}
        best["stalled"] += 1
        return best

    # -- construction ----------------------------------------------------------------
    def _check_params(self):
        check_choice("optimizer", self.optimizer, _OPTIMIZERS)
        check_choice("dtype", self.dtype, tuple(_DTYPES))
        check_choice("activation", self.activation, ("leaky_relu", "relu", "tanh", "sigmoid"))
        sizes = self.hidden_layer_sizes
        sizes = (sizes,) if np.ndim(sizes) == 0 else tuple(sizes)
        if not sizes or any(not isinstance(s, (int, np.integer)) or s < 1 for s in sizes):
            raise ValueError(
                f"hidden_layer_sizes must be positive integers, got {self.hidden_layer_sizes!r}"
            )
        check_positive("learning_rate", self.learning_rate)
        check_positive("batch_size", self.batch_size, integer=True)
        check_positive("max_epochs", self.max_epochs, integer=True)
        for alias, name in (("max_iter", "max_epochs"), ("learning_rate_init", "learning_rate")):
            value, default = getattr(self, alias), _SKLEARN_ALIASES[alias]
            if value is None:
                continue
            check_positive(alias, value, integer=alias == "max_iter")
            if getattr(self, name) not in (default, value):
                raise ValueError(f"{alias}={value!r} and {name}={getattr(self, name)!r} "
                                 f"disagree: give one ({alias} is scikit-learn's name for "
                                 f"{name})")
        check_positive("n_iter_no_change", self.n_iter_no_change, integer=True)
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout!r}")
        if self.gaussian_dropout is not None:
            check_positive("gaussian_dropout", self.gaussian_dropout, allow_zero=True)
        if not 0.0 < self.validation_fraction < 1.0:
            raise ValueError(
                f"validation_fraction must lie in (0, 1), got {self.validation_fraction!r}"
            )

    def _dtype(self):
        return _DTYPES[self.dtype]

    def _start(self, n_features, classes):
        """Fresh generator, network and optimiser; empty history."""
        self.classes_ = classes
        self._rng = np.random.default_rng(self.random_state)
        self.network_ = _mlp_state.build_network(self, n_features, len(classes), self._rng)
        self.optimizer_ = _mlp_state.build_optimizer(self, self.network_)
        self.n_iter_ = 0
        self.loss_curve_ = []
        self.validation_scores_ = []
        self._eval_copy = _mlp_state.EvalCopy()
        self._network_changed()

    def _network_changed(self):
        """Note that the weights or buffers of ``network_`` changed: the cached
        evaluation copy is stale.  Every code path that alters them calls this."""
        self._state_version = getattr(self, "_state_version", 0) + 1

    def _fit_scaler(self, X):
        """Training mean and standard deviation (1 where a feature is constant)."""
        check_squares_fit(X, "MLPClassifier", "rescale those columns before fitting",
                          getattr(self, "feature_names_in_", None))
        if self.standardize:
            self.mean_ = X.mean(axis=0)
            scale = X.std(axis=0)
            self.scale_ = np.where(scale > 0, scale, 1.0)
        else:
            self.mean_ = np.zeros(X.shape[1])
            self.scale_ = np.ones(X.shape[1])

    def _scale(self, X):
        return (X - self.mean_) / self.scale_

    def _encode_known(self, y):
        index = np.searchsorted(self.classes_, y)
        index = np.clip(index, 0, len(self.classes_) - 1)
        unknown = self.classes_[index] != y
        if np.any(unknown):
            raise ValueError(
                f"y contains labels {np.unique(y[unknown])[:5].tolist()} not in classes_ "
                f"{self.classes_.tolist()}"
            )
        return index.astype(np.intp)

    # -- files ---------------------------------------------------------------------
    def _fitted_state(self):
        return _mlp_state.fitted_state(self)

    def _restore_state(self, arrays, scalars):
        _mlp_state.restore_state(self, arrays, scalars)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
