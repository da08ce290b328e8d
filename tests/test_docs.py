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


def test_figure_text_is_generated_by_the_script():
    """docs/figures/*.txt come from docs/gen_figures.py, one per example, never by hand."""
    import nablanet

    texts = sorted((ROOT / "docs" / "figures").glob("*.txt"))
    scripts = sorted((ROOT / "examples").glob("q[0-9]_*.py"))
    assert [t.stem for t in texts] == [s.stem for s in scripts]
    for text, script in zip(texts, scripts):
        first = text.read_text().splitlines()[0]
        assert first.startswith(f"# printed by examples/{script.name} (nablanet "), (
            f"{text.name} was not written by docs/gen_figures.py: run it")
        assert f"(nablanet {nablanet.__version__})" in first, f"{text.name} is stale: rerun it"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The documentation site, built once in strict mode."""
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    pytest.importorskip("material")
    pytest.importorskip("latex2mathml")
    out = tmp_path_factory.mktemp("docs") / "site"
    completed = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
         "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert completed.returncode == 0, f"mkdocs build --strict failed:\n{completed.stderr}"
    return out


def test_site_builds_in_strict_mode(site):
    assert (site / "index.html").is_file()
    api = (site / "api" / "nn" / "index.html").read_text()
    assert "BatchNorm1d" in api and "momentum" in api  # the docstrings were rendered
    assert (site / "sitemap.xml").read_text().count("<loc>https://") >= 10  # site_url is set


def _pages(site):
    return {p.relative_to(site).as_posix(): p.read_text(encoding="utf-8")
            for p in site.rglob("*.html")}


def _prose(page):
    """The page's text outside code, MathML and the theme's scripts."""
    import re

    body = page.split('<article class="md-content__inner', 1)[-1].split("</article>", 1)[0]
    for tag in ("pre", "code", "math", "script", "style"):
        body = re.sub(rf"<{tag}\b.*?</{tag}>", " ", body, flags=re.S)
    return body


def test_the_maths_is_typeset_as_mathml(site):
    import re

    pages = _pages(site)
    claims = pages["claims/index.html"]
    assert claims.count("<math") >= 60
    for name, page in pages.items():
        prose = _prose(page)
        assert 'class="arithmatex"' not in page, f"{name}: a formula was left for a script"
        # the API pages quote docstrings, which keep ASCII formulas for help(); the
        # written pages must not show LaTeX source
        pattern = r"\$[^$\n]{1,60}\$" if name.startswith("api/") else (
            r"\$[^$\n]{1,60}\$|\\(?:frac|hat|sum|partial|sigma)\b|[_^]\{")
        leaked = re.findall(pattern, prose)
        assert not leaked, f"{name}: raw LaTeX in the page: {leaked[:3]}"
    # claim C6: x* keeps its star (Markdown once took the stars for emphasis)
    c6 = claims.split('id="c6-newtons-method-question-6"')[1].split('id="c7')[0]
    derivation = c6.split("<strong>Derivation.</strong>")[1].split("<strong>Corrections")[0]
    assert "<em>" not in derivation
    assert derivation.count("<mo>&#x0002A;</mo>") >= 3  # x^* in f'(x^*), f''(x^*), e_k = x_k - x^*
    assert "<mfrac>" in derivation


def test_no_page_pulls_anything_from_the_network(site):
    import re

    for name, page in _pages(site).items():
        for tag in re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", page):
            source = re.search(r'(?:src|href)="([^"]*)"', tag)
            if source is None or 'rel="canonical"' in tag:
                continue
            assert not re.match(r"(https?:)?//", source.group(1)), f"{name}: {tag}"
        assert "fonts.googleapis" not in page and "cdn.jsdelivr" not in page, name


def test_the_hook_typesets_and_refuses_what_it_cannot_read():
    pytest.importorskip("latex2mathml")
    sys.path.insert(0, str(ROOT / "docs" / "hooks"))
    try:
        import maths
    finally:
        sys.path.pop(0)
    html = maths.typeset('<p><span class="arithmatex">\\(x^* &lt; 1\\)</span></p>')
    assert html.startswith("<p><math") and "<msup>" in html and "&#x0003C;" in html
    block = maths.typeset('<div class="arithmatex">\\[\\frac{a}{b}\\]</div>')
    assert 'display="block"' in block and "<mfrac>" in block
