"""The MLP estimator's network, optimiser and saved state (kept apart from the estimator).

A saved MLP holds everything needed to continue training bit for bit: the
parameters and BatchNorm buffers (``state_dict``), the optimiser's moments and
step counts, the Generator's ``bit_generator.state`` and the epoch count.
"""

from __future__ import annotations

import numpy as np

from nablanet.models._base import portable_labels

_ACTIVATION_TYPES = ("LeakyReLU", "ReLU", "Tanh", "Sigmoid")


def build_network(est, n_features, n_classes, rng):
    """The notes' network for ``est``'s parameters; ``rng`` draws weights and masks."""
    from nablanet import nn

    sizes = est.hidden_layer_sizes
    sizes = [int(sizes)] if np.ndim(sizes) == 0 else [int(s) for s in sizes]
    gaussian = est.gaussian_dropout is not None
    net = nn.MLP(
        n_features, sizes, n_classes, activation=est.activation,
        negative_slope=est.negative_slope, batch_norm=est.batch_norm,
        dropout=0.0 if gaussian else est.dropout, generator=rng, dtype=est._dtype(),
    )
    if not gaussian:
        return net
    layers = []
    for layer in list(net)[:-1]:
        layers.append(layer)
        if type(layer).__name__ in _ACTIVATION_TYPES:
            layers.append(nn.GaussianDropout(sigma2=est.gaussian_dropout, generator=rng))
    layers.append(list(net)[-1])
    return nn.Sequential(*layers)


def build_optimizer(est, net):
    """Adam, SGD with momentum 0.9, or None for Newton-CG (which needs no state)."""
    from nablanet.optim import SGD, Adam

    if est.optimizer == "adam":
        return Adam(net.parameters(), lr=est._learning_rate())
    if est.optimizer == "sgd":
        return SGD(net.parameters(), lr=est._learning_rate(), momentum=0.9)
    return None


def fitted_state(est):
    """``(arrays, scalars)`` describing a trained MLP, for :mod:`nablanet.models.io`."""
    arrays = {f"net.{k}": v for k, v in est.network_.state_dict().items()}
    arrays["classes"] = portable_labels(est.classes_)
    arrays["feature_mean"] = np.asarray(est.mean_, dtype=np.float64)
    arrays["feature_scale"] = np.asarray(est.scale_, dtype=np.float64)
    arrays["loss_curve"] = np.asarray(est.loss_curve_, dtype=np.float64)
    arrays["validation_scores"] = np.asarray(est.validation_scores_, dtype=np.float64)
    scalars = {
        "n_iter": est.n_iter_,
        "n_features_in": est.n_features_in_,
        "rng_state": est._rng.bit_generator.state,
        "optimizer": None,
    }
    if est.optimizer_ is not None:
        opt_arrays, scalars["optimizer"] = _split_optimizer_state(est.optimizer_.state_dict())
        arrays.update(opt_arrays)
    return arrays, scalars


def restore_state(est, arrays, scalars):
    """Rebuild network, optimiser and generator from :func:`fitted_state`'s output."""
    est._check_params()
    est.classes_ = arrays["classes"]
    est.n_features_in_ = int(scalars["n_features_in"])
    est.mean_ = arrays["feature_mean"]
    est.scale_ = arrays["feature_scale"]
    est._rng = np.random.default_rng()
    est.network_ = build_network(est, est.n_features_in_, len(est.classes_), est._rng)
    net_state = {k[len("net."):]: v for k, v in arrays.items() if k.startswith("net.")}
    est.network_.load_state_dict(net_state)
    est.optimizer_ = build_optimizer(est, est.network_)
    if est.optimizer_ is not None and scalars.get("optimizer") is not None:
        est.optimizer_.load_state_dict(_join_optimizer_state(arrays, scalars["optimizer"]))
    # set last: building the network drew from the generator
    est._rng.bit_generator.state = scalars["rng_state"]
    est.n_iter_ = int(scalars["n_iter"])
    est._eval_copy = EvalCopy()
    est._network_changed()
    est.loss_curve_ = arrays["loss_curve"].tolist()
    est.validation_scores_ = arrays["validation_scores"].tolist()


def _split_optimizer_state(state_dict):
    """Arrays (for the NPZ) and everything else (for the JSON) of an optimiser state."""
    arrays, per_param = {}, {}
    for index, entry in state_dict["state"].items():
        scalars = {}
        for key, value in entry.items():
            if isinstance(value, np.ndarray):
                arrays[f"optim.{index}.{key}"] = value
            else:
                scalars[key] = value.item() if isinstance(value, np.generic) else value
        per_param[str(index)] = scalars
    return arrays, {"state": per_param, "param_groups": state_dict["param_groups"]}


def _join_optimizer_state(arrays, saved):
    state = {int(i): dict(scalars) for i, scalars in saved["state"].items()}
    for name, value in arrays.items():
        if name.startswith("optim."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = np.array(value)
    groups = [dict(group) for group in saved["param_groups"]]
    return {"state": state, "param_groups": groups}


def eval_network(network):
    """A float64 copy of ``network`` in evaluation mode (the original is untouched)."""
    import copy

    return copy.deepcopy(network).astype(np.float64).eval()


class EvalCopy:
    """The float64 evaluation copy of an MLP's network, rebuilt only when the key changes.

    The key is ``(n_iter_, state version)``; the estimator bumps the version
    whenever its network changes (an epoch, early stopping's restoring of the best
    weights, a fresh start, loading a file).  The object stays in the estimator's
    ``__dict__`` while its content changes, so predicting does not alter the
    estimator's attributes; pickling drops the copy (it is rebuilt on demand).
    Editing ``network_`` by hand bypasses the key: call ``_network_changed()``.
    """

    __slots__ = ("key", "network")

    def __init__(self):
        self.key = self.network = None

    def get(self, network, key):
        """The cached copy of ``network`` if it was made under ``key``, else a fresh one."""
        if self.network is None or self.key != key:
            self.network, self.key = eval_network(network), key
        return self.network

    def __reduce__(self):
        return (EvalCopy, ())
