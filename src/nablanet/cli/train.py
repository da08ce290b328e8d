"""``nablanet train``: load data, split, fit with a progress bar, write the run folder.

The MLP is trained one epoch at a time with ``partial_fit``; after each epoch
``metrics.json`` and then the model file (the checkpoint, which holds the
optimiser state and the estimator's random-generator state) are replaced
atomically.  ``--resume DIR`` reloads both and continues, so an interrupted run
ends with the same weights as an uninterrupted one.  Ctrl-C stops between
checkpoints: the last complete epoch stays on disk.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from nablanet.cli.progress import TrainingProgress, make_console, print_metrics_table
from nablanet.cli.runs import RunFolder, RunFolderError, default_run_dir, versions
from nablanet.data import BUNDLED, DataError, load_dataset, train_test_split

EXIT_INTERRUPTED = 130

# Options of the command line and the estimator parameter each one sets.
_MLP_PARAMS = {
    "hidden": "hidden_layer_sizes",
    "dropout": "dropout",
    "lr": "learning_rate",
    "batch_size": "batch_size",
    "solver": "optimizer",
    "epochs": "max_epochs",
}
_NEWTON_PARAMS = {"solver": "solver", "epochs": "max_iter"}
_SOLVERS = {"mlp": ("adam", "sgd", "newton-cg", "hessian-free"),
            "logistic": ("newton", "newton-cg", "gd"), "softmax": ("newton", "newton-cg", "gd")}
_DEFAULTS = {"data": "digits", "model": "mlp", "seed": 0, "test_size": 0.2}
_MLP_DEFAULT_EPOCHS = 20
# Small data sets give few optimiser steps per epoch: train at least this many steps.
_MLP_MIN_STEPS = 300
_OPTIONS = ("data", "target", "no_header", "model", "solver", "epochs", "batch_size", "lr",
            "hidden", "dropout", "seed", "test_size")
_MLP_ONLY = ("lr", "hidden", "dropout", "batch_size")
_SOLVER_NAMES = {"newton": "Newton iteration", "newton-cg": "Newton-CG iteration",
                 "gd": "gradient-descent iteration"}


# ---- configuration ------------------------------------------------------------------
def _config_from_args(args):
    config = {name: getattr(args, name, None) for name in _OPTIONS}
    config["no_header"] = bool(config["no_header"])
    for name, value in _DEFAULTS.items():
        if config[name] is None:
            config[name] = value
    choices = _SOLVERS[config["model"]]
    if config["solver"] is not None and config["solver"] not in choices:
        raise ValueError(
            f"--solver {config['solver']!r} is not available for --model {config['model']}; "
            f"choose one of {', '.join(choices)}"
        )
    if str(config["data"]) not in BUNDLED:
        config["data"] = _absolute_data_path(config["data"])
    if config["hidden"] is not None:
        config["hidden"] = list(config["hidden"])
    _report_ignored(config)
    return config


def _flag(name):
    return "--" + name.replace("_", "-")


def _report_ignored(config):
    """One note naming every option given that does not apply to this model or data."""
    ignored = []
    if config["model"] != "mlp":
        mlp_only = [_flag(name) for name in _MLP_ONLY if config[name] is not None]
        if mlp_only:
            ignored.append(f"{', '.join(mlp_only)} apply to --model mlp only")
    csv_only = [_flag(name) for name in ("target", "no_header") if config[name]]
    if csv_only and not str(config["data"]).lower().endswith(".csv"):
        ignored.append(f"{', '.join(csv_only)} apply to CSV data only")
    if ignored:
        _note("; ".join(ignored) + "; ignored")


def _absolute_data_path(text):
    """Existing paths become absolute, so that --resume works from any folder."""
    parts = [p.strip() for p in str(text).split(",")]
    if not all(os.path.exists(p) for p in parts):
        return str(text)  # left for load_dataset to name the problem
    return ",".join(os.path.abspath(p) for p in parts)


def _note(message, kind="note"):
    print(f"nablanet: {kind}: {message}", file=sys.stderr)


@contextlib.contextmanager
def _warnings_as_notes():
    """Show a solver's warnings (e.g. ConvergenceWarning) as one line each on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for message in {" ".join(str(w.message).split()) for w in caught}:
        _note(message, kind="warning")


def _estimator_class(model):
    from nablanet import models

    return {"mlp": models.MLPClassifier, "logistic": models.LogisticRegression,
            "softmax": models.SoftmaxRegression}[model]


def build_estimator(config, callback=None):
    """The estimator a training config asks for (defaults where an option is unset)."""
    cls = _estimator_class(config["model"])
    mapping = _MLP_PARAMS if config["model"] == "mlp" else _NEWTON_PARAMS
    accepted = cls().get_params(deep=False)
    params = {"random_state": config["seed"]} if "random_state" in accepted else {}
    for option, param in mapping.items():
        if config.get(option) is not None:
            value = config[option]
            params[param] = tuple(value) if option == "hidden" else value
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(f"{cls.__name__} has no parameter {unknown[0]!r}")
    if callback is not None and "callback" in accepted:
        params["callback"] = callback
    return cls(**params)


# ---- data ---------------------------------------------------------------------------
def _split_rng(seed):
    # A stream of its own, so the split and the estimator's generator never share draws.
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))


def _prepare_data(config):
    header = False if config.get("no_header") else None
    data = load_dataset(config["data"], config["target"], header=header)
    n_classes = np.unique(data.y).size
    if config["model"] == "logistic" and n_classes > 2:
        raise DataError(
            f"--model logistic is binary but the labels hold {n_classes} classes; "
            "use --model softmax or --model mlp"
        )
    parts = train_test_split(data.X, data.y, config["test_size"], _split_rng(config["seed"]))
    return data, parts


def _log_loss(model, X, y):
    proba = model.predict_proba(X)
    columns = np.searchsorted(model.classes_, y)
    picked = proba[np.arange(y.size), columns]
    return float(-np.mean(np.log(np.clip(picked, 1e-300, None))))


def _accuracy(model, X, y):
    return float(np.mean(model.predict(X) == y))


# ---- the run ------------------------------------------------------------------------
def _open_run(args):
    """(config, folder or None, checkpointed model or None) of a new or resumed run."""
    if args.resume is None:
        return _config_from_args(args), None, None
    folder = RunFolder.open_existing(args.resume)  # locked from here on
    try:
        return _resume_config(args, folder)
    except BaseException:
        folder.close()
        raise


def _resume_config(args, folder):
    from nablanet import load

    config = folder.read_config()
    if config.get("model") != "mlp":
        raise RunFolderError(
            f"{folder.path} holds a {config.get('model')} run: only mlp runs are resumable "
            "(a Newton fit takes seconds: start it again)"
        )
    given = [_flag(name) for name in _OPTIONS
             if name != "epochs" and getattr(args, name, None) not in (None, False)]
    given += [flag for flag, value in (("--out", args.out), ("--force", args.force)) if value]
    if given:
        _note(f"resuming {folder.path}: its config.json decides; {', '.join(given)} ignored")
    model = load(folder.model_path)
    done, planned = int(model.n_iter_), int(config["epochs"])
    wanted = args.epochs if args.epochs is not None else planned
    if wanted < done:
        raise RunFolderError(
            f"{folder.path} has already trained {done} epochs, more than --epochs {wanted}; "
            "nothing done (a run cannot be shortened)"
        )
    config["epochs"] = wanted
    if wanted != planned:
        folder.write_config(config)
    previous = {"model": model, "done": done, "planned": planned,
                "metrics": folder.read_metrics()}
    return config, folder, previous


def _resume_message(folder, done, wanted, planned):
    if done == wanted:
        return f"{folder.path} has trained all {done} epochs: nothing to do"
    extended = f" (--epochs {wanted} extends the planned {planned})" if wanted > planned else ""
    return f"resuming {folder.path} after epoch {done}: {wanted - done} more to {wanted}{extended}"


def _record(config, folder, data, parts, status, history, stop_reason, timings, final=None):
    metrics = {
        "status": status,
        "model": config["model"],
        "data": data.name,
        "n_train": int(parts[0].shape[0]),
        "n_validation": int(parts[1].shape[0]),
        "n_features": int(data.n_features),
        "final": final or {},
        "stop_reason": stop_reason,
        "history": history,
        "timings": timings,
        "seed": config["seed"],
        "versions": versions(),
    }
    folder.write_metrics(metrics)
    return metrics


def run_train(args, console=None):
    """Run ``nablanet train`` with parsed ``args``; return the exit status."""
    console = console or make_console()
    started = time.perf_counter()
    config, folder, previous = _open_run(args)
    try:
        return _run(args, console, started, config, folder, previous)
    finally:
        if folder is not None:
            folder.close()


def _run(args, console, started, config, folder, previous):
    if previous is not None:
        done = previous["done"]
        console.print(_resume_message(folder, done, config["epochs"], previous["planned"]),
                      markup=False, soft_wrap=True)
        if done == config["epochs"] and previous["metrics"].get("status") == "completed":
            return 0
    data, parts = _prepare_data(config)
    if config["model"] == "mlp" and config["epochs"] is None:
        config["epochs"] = _default_mlp_epochs(parts[0].shape[0], config["batch_size"])
    if folder is None:  # a new run: the folder is made once the data are known to be good
        folder = RunFolder.create(args.out if args.out is not None else default_run_dir(),
                                  force=args.force)
        config["target_column"] = data.target  # predict leaves this CSV column out
        config["feature_names"] = data.feature_names if data.named_columns else None
        folder.write_config(config)
    try:
        return _train(config, folder, data, parts, previous, console, started)
    finally:
        folder.close()


def _train(config, folder, data, parts, previous, console, started):
    load_seconds = time.perf_counter() - started
    console.print(
        f"nablanet train: {config['model']} on {data.name} "
        f"({parts[0].shape[0]} train / {parts[1].shape[0]} validation samples, "
        f"{data.n_features} features, {np.unique(data.y).size} classes) -> {folder.path}",
        markup=False, soft_wrap=True,
    )
    trainer = _train_mlp if config["model"] == "mlp" else _train_newton
    return trainer(config, folder, data, parts, previous, console, load_seconds, started)


def _default_mlp_epochs(n_train, batch_size):
    """20 epochs, or more when an epoch is only a few optimiser steps (iris, wine)."""
    steps_per_epoch = max(1, -(-n_train // (batch_size or 128)))
    return max(_MLP_DEFAULT_EPOCHS, -(-_MLP_MIN_STEPS // steps_per_epoch))


def _save_model(model, folder, config):
    from nablanet.models.io import save

    save(model, folder.model_path, feature_names=config.get("feature_names"))


def _subject(config, data):
    """What a plot title says the run is, e.g. ``softmax (newton-cg) on wine``."""
    solver = config.get("solver") or _SOLVERS[config["model"]][0]
    return f"{config['model']} ({solver}) on {data.name}"


@contextlib.contextmanager
def _failures_recorded(config, folder, data, parts, history, timings):
    """A training that raises leaves its run marked ``failed`` with the reason, never completed."""
    try:
        yield
    except Exception as error:  # recorded, then raised on: the CLI reports it
        reason = "failed: " + (" ".join(str(error).split()) or type(error).__name__)
        _record(config, folder, data, parts, "failed", history, reason, timings)
        raise


def _train_mlp(config, folder, data, parts, previous, console, load_seconds, started):
    X_train, X_val, y_train, y_val = parts
    if previous is not None:
        model = previous["model"]
        history = list(previous["metrics"].get("history", []))[: model.n_iter_]
    else:
        model, history = build_estimator(config), []
    classes = np.unique(data.y)
    epochs = config["epochs"]
    status, stop_reason = "completed", f"trained the requested {epochs} epochs"
    timings = {"load_seconds": load_seconds}
    done = getattr(model, "n_iter_", 0)  # the checkpoint, not the history, counts epochs
    progress = TrainingProgress(epochs, "epoch", console, completed=done, line_interval=0)
    failures = _failures_recorded(config, folder, data, parts, history, timings)
    with progress as bar, failures:
        try:
            for epoch in range(done + 1, epochs + 1):
                tick = time.perf_counter()
                with _warnings_as_notes():
                    model.partial_fit(X_train, y_train, classes=classes)
                history.append({
                    "epoch": epoch,
                    "loss": float(model.loss_curve_[-1]),
                    "val_loss": _log_loss(model, X_val, y_val),
                    "val_accuracy": _accuracy(model, X_val, y_val),
                    "seconds": time.perf_counter() - tick,
                })
                timings["fit_seconds"] = sum(row["seconds"] for row in history)
                # metrics first, then the checkpoint: a resume trims history to the model
                _record(config, folder, data, parts, "running", history,
                        f"in progress: {epoch} of {epochs} epochs", timings)
                _save_model(model, folder, config)
                bar.update(epoch, loss=history[-1]["loss"],
                           val_acc=history[-1]["val_accuracy"])
        except KeyboardInterrupt:
            return _interrupted(config, folder, data, parts, history, timings, console)
    final = _final_metrics(model, parts, history[-1]["loss"] if history else None)
    final["epochs"] = int(model.n_iter_)
    timings["total_seconds"] = time.perf_counter() - started
    _record(config, folder, data, parts, status, history, stop_reason, timings, final)
    _write_plots(folder, history, "epoch", model, parts, data, _subject(config, data))
    return _finish(console, folder, final, stop_reason)


def _interrupted(config, folder, data, parts, history, timings, console):
    from nablanet import load

    saved = load(folder.model_path).n_iter_ if folder.model_path.exists() else 0
    history = history[:saved]
    reason = (f"interrupted by the user after {saved} complete epochs; continue with "
              f"nablanet train --resume {folder.path}")
    if saved == 0:
        reason = "interrupted by the user before the first epoch ended; nothing to resume"
    _record(config, folder, data, parts, "interrupted", history, reason, timings)
    console.print(reason, style="yellow", markup=False, soft_wrap=True)
    return EXIT_INTERRUPTED


def _train_newton(config, folder, data, parts, previous, console, load_seconds, started):
    X_train, X_val, y_train, y_val = parts
    limit = config["epochs"] or 100
    step_name = _SOLVER_NAMES[config.get("solver") or "newton"]
    failures = _failures_recorded(config, folder, data, parts, [], {"load_seconds": load_seconds})
    with TrainingProgress(limit, step_name, console) as bar, failures:
        def show(info):
            bar.update(info["iteration"], loss=info.get("loss"), grad=info.get("grad_norm"))

        model = build_estimator(config, callback=show)
        tick = time.perf_counter()
        with _warnings_as_notes():
            model.fit(X_train, y_train)
        fit_seconds = time.perf_counter() - tick
        bar.finish(model.n_iter_)
    model.set_params(callback=None)
    history = [dict(row, iteration=k) for k, row in enumerate(model.history_, start=1)]
    # train_loss is the mean log-loss, comparable with val_loss; the solver's objective
    # (summed log-loss plus penalty, as in claim C1) is reported beside it
    final = _final_metrics(model, parts, _log_loss(model, X_train, y_train))
    if history:
        final["objective"] = float(history[-1]["loss"])
    final["iterations"] = int(model.n_iter_)
    timings = {"load_seconds": load_seconds, "fit_seconds": fit_seconds,
               "total_seconds": time.perf_counter() - started}
    stop_reason = str(model.stop_reason_)
    _save_model(model, folder, config)
    _record(config, folder, data, parts, "completed", history, stop_reason, timings, final)
    _write_plots(folder, history, step_name, model, parts, data, _subject(config, data),
                 objective=True)
    return _finish(console, folder, final, stop_reason)


def _final_metrics(model, parts, train_loss):
    X_train, X_val, y_train, y_val = parts
    return {
        "train_loss": None if train_loss is None else float(train_loss),
        "train_accuracy": _accuracy(model, X_train, y_train),
        "val_loss": _log_loss(model, X_val, y_val),
        "val_accuracy": _accuracy(model, X_val, y_val),
    }


def _write_plots(folder, history, step_name, model, parts, data, subject, objective=False):
    """Loss (and, for a solver's fit, convergence) and confusion plots; ``objective``: the
    history's loss is the solver's objective (summed log-loss plus penalty)."""
    from nablanet.cli import plots

    plots.plot_loss(folder.file("loss.png"), history, step_name, subject, objective=objective)
    if objective:
        plots.plot_convergence(folder.file("convergence.png"), history, step_name, subject)
    X_val, y_val = parts[1], parts[3]
    names = data.target_names if data.target_names else None
    if names is not None and len(names) != len(model.classes_):
        names = None
    plots.plot_confusion(folder.file("confusion.png"), y_val, model.predict(X_val),
                         model.classes_, names, subject)


def _finish(console, folder, final, stop_reason):
    print_metrics_table(console, final)
    console.print(f"stopped: {stop_reason}", markup=False, soft_wrap=True)
    console.print(f"run folder: {Path(folder.path)}", markup=False, soft_wrap=True)
    return 0
