"""The program's face: --version, every default in --help, the subcommand table."""

import argparse
import subprocess
import sys

import pytest

import nablanet
from nablanet.cli.main import SUBCOMMANDS, build_parser


def _run(*argv):
    return subprocess.run([sys.executable, "-m", "nablanet", *argv], capture_output=True,
                          text=True, timeout=120)


def test_version():
    done = _run("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"nablanet {nablanet.__version__}"


def _subparsers(parser):
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


def test_every_option_of_every_command_states_its_default():
    parser = build_parser()
    commands = _subparsers(parser)
    assert set(commands) >= {"train", "verify", "predict"}
    assert len(commands) == len(SUBCOMMANDS)
    missing = []
    for name, command in commands.items():
        for action in command._actions:
            if not action.option_strings or action.help == argparse.SUPPRESS:
                continue
            if "-h" in action.option_strings:
                continue
            if "(default:" not in action.help and "(required)" not in action.help:
                missing.append(f"{name} {action.option_strings[-1]}")
    assert not missing, f"options whose --help states no default: {missing}"


@pytest.mark.parametrize("command", ["train", "predict", "verify"])
def test_help_prints_the_defaults(command):
    done = _run(command, "--help")
    assert done.returncode == 0 and done.stdout.count("(default:") >= 2


def test_mlp_defaults_in_help_are_the_estimators():
    from nablanet.models import MLPClassifier

    text = " ".join(build_parser().format_help().split())
    train = " ".join(_subparsers(build_parser())["train"].format_help().split())
    params = MLPClassifier().get_params()
    assert f"(default: {params['batch_size']})" in train
    assert f"(default: {params['learning_rate']:g})" in train
    assert f"(default: {params['dropout']:g})" in train
    assert f"(default: {params['hidden_layer_sizes'][0]})" in train
    assert "--version" in text
