"""Command-line parsing and the error boundary of the program.

Every bad input (a missing or malformed file, bad labels, a corrupt model file,
an unwritable folder, a bad option value) ends as one line on standard error and
exit status 2; ``--debug`` shows the traceback as well.
"""

from __future__ import annotations

import argparse
import sys
import traceback

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class _OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, pointing at ``--help``."""

    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _non_negative_int(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _float_in(low, high, low_open=True, high_open=True):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        above = value > low if low_open else value >= low
        below = value < high if high_open else value <= high
        if not (above and below):
            left, right = "(" if low_open else "[", ")" if high_open else "]"
            raise argparse.ArgumentTypeError(
                f"expected a number in {left}{low}, {high}{right}, got {text!r}"
            )
        return value

    return parse


def _hidden_sizes(text):
    parts = [p for p in text.replace(" ", "").split(",") if p]
    try:
        sizes = tuple(int(p) for p in parts)
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(
            f"expected layer widths as positive integers separated by commas (e.g. 128,64), "
            f"got {text!r}"
        )
    return sizes


def _add_train(subparsers, common):
    train = subparsers.add_parser(
        "train",
        parents=[common],
        help="train a model and write a run folder",
        description="Train a classifier (default: the notes' network on bundled digits) and "
        "write model, metrics, config and plots to a run folder.",
    )
    add = train.add_argument
    add("--data", default=None, metavar="NAME|PATH",
        help="digits, breast_cancer, iris, wine, or a .csv / .npz / MNIST IDX path "
        "(default: digits)")
    add("--target", default=None,
        help="label column of a CSV file (default: the last column)")
    add("--no-header", action="store_true",
        help="the CSV file has no header row: columns are named x0, x1, ... (default: the "
        "first row names the columns; a first row of numbers is refused)")
    add("--model", choices=("mlp", "logistic", "softmax"), default=None,
        help="mlp: the notes' network; logistic / softmax: Newton-fitted regressions "
        "(default: mlp)")
    add("--solver", default=None,
        help="adam, sgd or newton-cg for mlp (default: adam); newton, newton-cg or gd for "
        "logistic and softmax (default: newton)")
    add("--epochs", type=_positive_int, default=None,
        help="epochs of mlp (default: 20, or enough for 300 optimiser steps on small data) or "
        "iteration limit of logistic / softmax (default: 100)")
    add("--batch-size", type=_positive_int, default=None,
        help="minibatch size, mlp only (default: 128)")
    add("--lr", type=_float_in(0.0, float("inf")), default=None,
        help="learning rate, mlp only (default: 0.001)")
    add("--hidden", type=_hidden_sizes, default=None, metavar="N[,N...]",
        help="hidden layer widths, mlp only, e.g. 256 or 128,64 (default: 256)")
    add("--dropout", type=_float_in(0.0, 1.0, low_open=False), default=None,
        help="drop probability, mlp only (default: 0.2)")
    add("--seed", type=_non_negative_int, default=None, help="random seed (default: 0)")
    add("--test-size", type=_float_in(0.0, 1.0), default=None,
        help="fraction held out for validation (default: 0.2)")
    add("--out", default=None, metavar="DIR",
        help="run folder; one that holds a run is refused unless --force "
        "(default: runs/<timestamp>)")
    add("--force", action="store_true",
        help="replace the run in --out (default: refuse to overwrite a run)")
    add("--resume", default=None, metavar="DIR",
        help="continue the interrupted run in DIR (its config.json decides; --epochs may "
        "extend it) (default: start a new run)")
    train.set_defaults(handler=_run_train)


def _add_verify(subparsers, common):
    verify = subparsers.add_parser(
        "verify",
        parents=[common],
        help="check every claim of the notes numerically",
        description="Run the claims C1-C7 of the notes (docs/claims.md) as numerical checks "
        "and print a table; exit status 1 if any check fails.",
    )
    verify.add_argument("--json", nargs="?", const="-", default=None, metavar="FILE",
                        help="also write the results as JSON to FILE, or alone print them to "
                        "standard output (default: the table only)")
    verify.add_argument("--quick", action="store_true",
                        help="smaller samples, faster (default: full samples)")
    verify.add_argument("--claims", default=None, metavar="C1[,C3...]",
                        help="check only these claims (default: all of C1-C7)")
    verify.set_defaults(handler=_run_verify)


def _add_predict(subparsers, common):
    predict = subparsers.add_parser(
        "predict",
        parents=[common],
        help="predict with a trained model and write CSV",
        description="Predict labels (or class probabilities) for new data with a run folder's "
        "model or a model file.",
    )
    predict.add_argument("model", metavar="RUN_DIR_OR_MODEL")
    predict.add_argument("--data", required=True, metavar="PATH",
                         help=".csv, .npz (array X), MNIST IDX images, or a bundled name "
                         "(required)")
    predict.add_argument("--target", default=None,
                         help="CSV column to leave out (default: the training target, if present)")
    predict.add_argument("--no-header", action="store_true",
                         help="the CSV file has no header row: columns are matched by position "
                         "(default: by the header's names)")
    predict.add_argument("--proba", action="store_true",
                         help="add class probabilities (default: labels only)")
    predict.add_argument("--output", default=None, metavar="FILE",
                         help="CSV file to write (default: standard output)")
    predict.set_defaults(handler=_run_predict)


def _add_curvature(subparsers, common):
    from nablanet.cli.curvature import add_arguments

    add_arguments(subparsers.add_parser(
        "curvature", parents=[common], help="Hessian / GGN spectrum of a trained network",
        description="Top eigenvalues, trace and spectral density of a trained network's loss "
        "Hessian (and GGN); writes curvature.json and spectrum.png."), _positive_int)


#: Each adds one subcommand (``add(subparsers, common_parent)``); a new command adds
#: its function here.
SUBCOMMANDS = [_add_train, _add_verify, _add_predict, _add_curvature]


def build_parser():
    """The argument parser of the ``nablanet`` program."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the traceback of errors (default: one line)")
    parser = _OneLineParser(
        prog="nablanet",
        description="Deep learning built from its derivations: train, verify, predict.",
    )
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of errors (default: one line)")
    parser.add_argument("--version", action="version", version=_version_text())
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND",
                                       parser_class=_OneLineParser)
    for add_command in SUBCOMMANDS:
        add_command(subparsers, common)
    return parser


def _version_text():
    import nablanet

    return f"nablanet {nablanet.__version__}"


def _run_train(args):
    from nablanet.cli.train import run_train

    return run_train(args)


def _run_verify(args):
    from nablanet.cli.verify import run_verify

    return run_verify(args)


def _run_predict(args):
    from nablanet.cli.predict import run_predict

    return run_predict(args)


def _one_line(error):
    text = str(error).strip() or type(error).__name__
    if isinstance(error, OSError) and error.filename and error.strerror:
        text = f"{error.strerror}: {error.filename}"
    return " ".join(text.split())


def main(argv=None):
    """Run the ``nablanet`` program; return the exit status.

    Parameters
    ----------
    argv : list of str, optional
        Arguments after the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 1 when ``verify`` finds a failing claim, 2 on bad input,
        130 when interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else EXIT_BAD_INPUT
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("nablanet: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, OSError) as error:
        if args.debug:
            traceback.print_exc()
        print(f"nablanet: error: {_one_line(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
