"""``nablanet curvature RUN_DIR``: the loss curvature of a trained network, as JSON and a plot.

Writes into the run folder (or ``--out``)::

    curvature.json   top Hessian eigenvalues, the smallest one, the trace (Hutch++ with its
                     standard error), a condition estimate, the GGN's top eigenvalue and
                     trace beside the Hessian's, and the settings used
    spectrum.png     the Hessian's spectral density (stochastic Lanczos quadrature) on a
                     symmetric log scale, the top eigenvalues marked

The loss is the mean cross-entropy of the run's training split (or of ``--data``) on at
most ``--samples`` samples, with batch norm on its running statistics and dropout off.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from nablanet.cli.progress import TrainingProgress, make_console, print_metrics_table
from nablanet.cli.runs import (
    CONFIG_FILE,
    MODEL_FILE,
    RunFolderError,
    read_json,
    write_json_atomic,
)

CURVATURE_FILE = "curvature.json"
SPECTRUM_FILE = "spectrum.png"
_STEPS = ("Hessian top eigenvalues", "Hessian smallest eigenvalue", "GGN top eigenvalue",
          "Hessian trace", "GGN trace", "spectral density")


def add_arguments(parser, positive_int):
    """The options of ``nablanet curvature`` (``positive_int``: the CLI's argument type)."""
    parser.add_argument("run", metavar="RUN_DIR")
    parser.add_argument("--data", default=None, metavar="NAME|PATH",
                        help="data to measure on (default: the run's training split)")
    parser.add_argument("--samples", type=positive_int, default=1024,
                        help="at most this many samples, drawn with --seed (default: 1024)")
    parser.add_argument("--top", type=positive_int, default=5,
                        help="top Hessian eigenvalues to compute (default: 5)")
    parser.add_argument("--probes", type=positive_int, default=30,
                        help="Hutch++ products for each trace (default: 30)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="folder for curvature.json and spectrum.png (default: RUN_DIR)")
    parser.set_defaults(handler=run_curvature)


def _load_run(run_dir):
    from nablanet import load

    folder = Path(run_dir)
    if not folder.is_dir():
        raise RunFolderError(f"run folder not found: {folder}")
    if not (folder / MODEL_FILE).is_file():
        raise RunFolderError(f"{folder} has no {MODEL_FILE}: not a nablanet run folder")
    config = read_json(folder / CONFIG_FILE) if (folder / CONFIG_FILE).is_file() else {}
    model = load(folder / MODEL_FILE)
    if not hasattr(model, "network_"):
        raise ValueError(
            f"nablanet curvature needs a network (a run trained with --model mlp); "
            f"{folder} holds a {type(model).__name__}, whose Hessian is X^T diag(c) X in "
            f"closed form (see nablanet.optim.LogisticObjective / SoftmaxObjective)"
        )
    return folder, config, model


def _data(config, model, data, samples, seed):
    """Scaled features and class indices: the run's training split, or ``--data``."""
    from nablanet.data import load_dataset, validate_n_features

    if data is None:
        if "data" not in config:
            raise RunFolderError("the run folder has no config.json naming its data; pass --data")
        from nablanet.cli.train import _prepare_data

        _, (X, _, y, _) = _prepare_data(config)
    else:
        loaded = load_dataset(data, config.get("target"))
        X, y = loaded.X, loaded.y
    X = validate_n_features(np.asarray(X, dtype=np.float64), int(model.n_features_in_))
    y_index = model._encode_known(np.asarray(y))
    if len(X) > samples:
        keep = np.sort(np.random.default_rng(seed).choice(len(X), samples, replace=False))
        X, y_index = X[keep], y_index[keep]
    return model._scale(X), y_index


def curvature_report(model, X, y, top=5, probes=30, density_steps=60, seed=0, on_step=None):
    """The curvature summary of ``model``'s mean cross-entropy on ``(X, y)``.

    Returns
    -------
    report : dict
        JSON-ready figures (see the module docstring).
    density : SpectralDensity
        The Hessian's density, for the plot.
    """
    from nablanet import curvature
    from nablanet.nn import CrossEntropyLoss

    net, loss = model.network_, CrossEntropyLoss()
    hessian = curvature.operator(net, loss, X, y, kind="hessian", random_state=seed)
    ggn = curvature.operator(net, loss, X, y, kind="ggn", random_state=seed)
    done, timings = [], {}

    def step(name, compute):
        started = time.perf_counter()
        value = compute()
        timings[name] = time.perf_counter() - started
        done.append(name)
        if on_step is not None:
            on_step(len(done), name)
        return value

    k = min(top, hessian.shape[0])
    top_values = step(_STEPS[0], lambda: hessian.eigenvalues(k=k, which="largest"))
    lowest = float(step(_STEPS[1], lambda: hessian.eigenvalues(k=1, which="smallest"))[0])
    ggn_top = float(step(_STEPS[2], lambda: ggn.eigenvalues(k=1, which="largest"))[0])
    trace = step(_STEPS[3], lambda: hessian.trace(probes=probes))
    ggn_trace = step(_STEPS[4], lambda: ggn.trace(probes=probes))
    density = step(_STEPS[5], lambda: hessian.spectral_density(
        probes=3, steps=min(density_steps, hessian.shape[0])))
    largest = float(top_values[0])
    report = {
        "n_parameters": int(hessian.shape[0]),
        "n_samples": int(len(X)),
        "loss": float(hessian.loss_and_gradient()[0]),
        "hessian_top_eigenvalues": [float(v) for v in top_values],
        "hessian_min_eigenvalue": lowest,
        "hessian_trace": {"value": trace.value, "std_error": trace.std_error,
                          "method": trace.method, "probes": trace.n_products},
        # kappa = lambda_max / lambda_min exists only where the Hessian is positive definite
        "condition_estimate": largest / lowest if lowest > 0 else None,
        "indefinite": lowest < 0,
        "max_over_min_magnitude": largest / abs(lowest) if lowest != 0 else None,
        "ggn_top_eigenvalue": ggn_top,
        "ggn_trace": {"value": ggn_trace.value, "std_error": ggn_trace.std_error},
        "ggn_over_hessian_top": ggn_top / largest if largest != 0 else None,
        "settings": {"batch_norm": "eval (running statistics)", "dropout": "off",
                     "loss": "mean cross-entropy", "seed": seed, "trace_probes": probes,
                     "density_probes": 3, "density_steps": int(density.nodes.shape[1])},
        "seconds": timings,
    }
    return report, density


def plot_spectrum(path, density, top_values):
    """The density on a symmetric log x axis, the top eigenvalues as vertical lines."""
    from nablanet.cli.plots import _new_figure, _save

    figure = _new_figure()
    axes = figure.add_subplot(1, 1, 1)
    axes.plot(density.grid, np.maximum(density.density, 1e-12), color="tab:blue", lw=1.2,
              label="density (SLQ)")
    for i, value in enumerate(top_values):
        axes.axvline(value, color="tab:red", lw=0.8, ls="--",
                     label="top eigenvalues" if i == 0 else None)
    scale = max(float(np.max(np.abs(density.grid))), 1e-12)
    axes.set_xscale("symlog", linthresh=max(scale * 1e-4, 1e-12))
    axes.set_yscale("log")
    axes.set_xlabel("eigenvalue of the loss Hessian (symmetric log scale)")
    axes.set_ylabel("density")
    axes.set_title("Hessian spectral density")
    axes.legend(loc="upper left", fontsize=8)
    return _save(figure, path)


def run_curvature(args, console=None):
    """Run ``nablanet curvature`` with parsed ``args``; return the exit status."""
    console = make_console() if console is None else console
    folder, config, model = _load_run(args.run)
    out = Path(args.out) if args.out is not None else folder
    if not out.is_dir():
        raise RunFolderError(f"output folder {out} does not exist")
    X, y = _data(config, model, args.data, args.samples, args.seed)
    with TrainingProgress(len(_STEPS), "curvature", console) as progress:
        report, density = curvature_report(
            model, X, y, top=args.top, probes=args.probes, seed=args.seed,
            on_step=lambda i, name: progress.update(i, done=name))
    write_json_atomic(out / CURVATURE_FILE, report)
    plot_spectrum(out / SPECTRUM_FILE, density, report["hessian_top_eigenvalues"])
    print_metrics_table(console, {
        "parameters": report["n_parameters"], "samples": report["n_samples"],
        "Hessian top eigenvalue": report["hessian_top_eigenvalues"][0],
        "Hessian min eigenvalue": report["hessian_min_eigenvalue"],
        "Hessian trace": report["hessian_trace"]["value"],
        "GGN top eigenvalue": report["ggn_top_eigenvalue"],
        "condition estimate": report["condition_estimate"],
    }, title="curvature")
    console.print(f"wrote {out / CURVATURE_FILE} and {out / SPECTRUM_FILE}")
    return 0
