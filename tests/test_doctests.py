"""Run the examples in the public docstrings, so none can rot."""

import doctest
import importlib
import pkgutil

import pytest

import nablanet

SKIP_PREFIXES = ("nablanet.cli", "nablanet.distributed")


def _modules():
    names = []
    for info in pkgutil.walk_packages(nablanet.__path__, "nablanet."):
        if not info.name.startswith(SKIP_PREFIXES):
            names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name):
    module = importlib.import_module(name)
    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    failures, _ = doctest.testmod(module, optionflags=flags, verbose=False)
    assert failures == 0, f"{failures} docstring example(s) failed in {name}"
