"""MkDocs hook: typeset the pages' LaTeX as MathML when the site is built.

``pymdownx.arithmatex`` (generic mode) marks ``$...$`` and ``$$...$$`` in the
Markdown; this hook replaces each marked formula with MathML from
``latex2mathml``, which every current browser renders natively.  The built site
needs no script, no font download and no network to show the mathematics.
A formula latex2mathml cannot read fails the build, naming the page.
"""

from __future__ import annotations

import html
import re

from latex2mathml.converter import convert

_INLINE = re.compile(r'<span class="arithmatex">\\\((.*?)\\\)</span>', re.S)
_BLOCK = re.compile(r'<div class="arithmatex">\\\[(.*?)\\\]</div>', re.S)


def _mathml(latex, display, page):
    source = html.unescape(latex).strip()
    try:
        return convert(source, display=display)
    except Exception as error:  # latex2mathml raises many kinds; name the formula
        raise ValueError(f"{page}: cannot typeset ${source}$: {error}") from error


def typeset(text, page="page"):
    """Replace arithmatex's marked formulas in ``text`` (HTML) with MathML."""
    text = _BLOCK.sub(
        lambda m: f'<div class="maths">{_mathml(m.group(1), "block", page)}</div>', text)
    return _INLINE.sub(lambda m: _mathml(m.group(1), "inline", page), text)


def on_page_content(html_text, page, **kwargs):
    """MkDocs event: the page body after Markdown, before the theme wraps it."""
    return typeset(html_text, page.file.src_uri)


def on_pre_build(config, **kwargs):
    """MkDocs event: with ``NABLANET_DOCS_FIGURES=1``, rerun the examples first.

    They write docs/figures/ (PNG and printed output, about a minute); without
    the variable the build quotes the files as ``docs/gen_figures.py`` last wrote them.
    """
    import os
    import runpy
    from pathlib import Path

    if os.environ.get("NABLANET_DOCS_FIGURES") == "1":
        script = Path(config["docs_dir"]) / "gen_figures.py"
        runpy.run_path(str(script))["main"]([])
