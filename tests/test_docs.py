"""The documentation: the site builds in strict mode, and every public name has a docstring."""

import importlib
import inspect
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PUBLIC_MODULES = ["nablanet", "nablanet.nn", "nablanet.optim", "nablanet.models", "nablanet.checks"]


def _public_names(module):
    names = list(getattr(module, "__all__", []))
    names += list(getattr(module, "_LAZY_NAMES", {}))  # nablanet's lazily loaded estimators
    return sorted(set(names))


def _own_docstring(obj):
    """The object's own docstring: for an instance, not just the one of its class."""
    if isinstance(obj, (type, types.FunctionType, types.BuiltinFunctionType, types.ModuleType,
                        types.MethodType)):
        return inspect.getdoc(obj)
    doc = getattr(obj, "__doc__", None)
    return None if doc == type(obj).__doc__ else doc


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_name_has_a_docstring(module_name):
    module = importlib.import_module(module_name)
    assert module.__doc__, f"{module_name} has no module docstring"
    names = _public_names(module)
    assert names, f"{module_name} exports nothing (__all__ is empty)"
    missing = []
    for name in names:
        obj = getattr(module, name)
        if not callable(obj) and not isinstance(obj, types.ModuleType):
            continue  # constants are documented by '#:' comments where they are defined
        doc = _own_docstring(obj)
        if not doc or not doc.strip():
            missing.append(name)
    assert not missing, f"public names of {module_name} without a docstring: {missing}"


def test_public_classes_document_their_public_methods():
    missing = []
    for module_name in PUBLIC_MODULES[1:]:
        module = importlib.import_module(module_name)
        for name in _public_names(module):
            cls = getattr(module, name)
            if not isinstance(cls, type):
                continue
            for attr, member in vars(cls).items():
                if attr.startswith("_") or not inspect.isfunction(member):
                    continue
                if not inspect.getdoc(member):
                    missing.append(f"{module_name}.{name}.{attr}")
    assert not missing, f"public methods without a docstring: {missing}"


def test_api_pages_cover_the_public_modules():
    pages = "\n".join(p.read_text() for p in (ROOT / "docs" / "api").glob("*.md"))
    for module_name in PUBLIC_MODULES[1:] + ["nablanet.autodiff", "nablanet.ops"]:
        assert f"::: {module_name}\n" in pages, f"no API page renders {module_name}"


def test_examples_page_shows_every_example_and_its_figure():
    page = (ROOT / "docs" / "examples.md").read_text()
    for script in sorted((ROOT / "examples").glob("q[0-9]_*.py")):
        assert f"figures/{script.stem}.png" in page, f"{script.name} missing from examples.md"
        figure = ROOT / "docs" / "figures" / f"{script.stem}.png"
        assert figure.is_file(), f"run python docs/gen_figures.py: {figure} is missing"


def test_claims_page_covers_every_claim_checked_by_verify():
    from nablanet.checks.claims import CLAIMS

    page = (ROOT / "docs" / "claims.md").read_text()
    for claim_id, check in CLAIMS.items():
        assert f"\n## {claim_id} " in page, f"docs/claims.md has no section for {claim_id}"
        section = page.split(f"\n## {claim_id} ")[1].split("\n## ")[0]
        assert "**Derivation.**" in section and "**Checks.**" in section, claim_id
        assert check.__doc__, f"{check.__name__} has no docstring"


def test_site_builds_in_strict_mode(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    pytest.importorskip("material")
    completed = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
         "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(tmp_path / "site")],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert completed.returncode == 0, f"mkdocs build --strict failed:\n{completed.stderr}"
    assert (tmp_path / "site" / "index.html").is_file()
    api = (tmp_path / "site" / "api" / "nn" / "index.html").read_text()
    assert "BatchNorm1d" in api and "momentum" in api  # the docstrings were rendered
