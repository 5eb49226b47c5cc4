"""Notebook pages without JupyterLab's Blueprint CSS: only `.bp3-…` rules go, the rest is untouched."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from figgen.notebook_css import _BLUEPRINT, drop_rules, drop_unused_notebook_css


@pytest.mark.parametrize("css, expected", [
    (".bp3-x{color:red}.y{color:blue}", ".y{color:blue}"),
    (".a,.bp3-b , .c:not(.bp3-d){x:1}", ".a,.c:not(.bp3-d){x:1}"),  # :not(.bp3-…) is not a Blueprint rule
    ("@media (min-width:1px){.bp3-a{x:1}.b{y:2}}", "@media (min-width:1px){.b{y:2}}"),
    ('.a{content:"}{.bp3-"}.bp3-z{q:1}', '.a{content:"}{.bp3-"}'),  # braces in strings
    ("/* .bp3-x{ } */.a{b:c}", "/* .bp3-x{ } */.a{b:c}"),  # and in comments
    ('@charset "UTF-8";.bp3-a{}', '@charset "UTF-8";'),
    ("@keyframes k{0%{a:1}}.jp-Cell{b:2}", "@keyframes k{0%{a:1}}.jp-Cell{b:2}"),
])
def test_drop_rules(css, expected):
    assert drop_rules(css, _BLUEPRINT) == expected


def test_mkdocs_jupyter_css_keeps_everything_but_blueprint():
    mkdocs_jupyter = pytest.importorskip("mkdocs_jupyter")
    path = Path(mkdocs_jupyter.__file__).parent / "templates" / "mkdocs_html" / "assets" / "index.css"
    css = path.read_text(encoding="utf-8")
    assert drop_rules(css, re.compile(r"(?!)")) == css  # nothing to drop: byte for byte
    slim = drop_rules(css, _BLUEPRINT)
    assert "bp3-" not in slim and len(slim) < len(css) * 0.6
    assert ".jp-OutputArea" in slim and ".jp-InputArea" in slim and "--jp-" in slim


def test_only_style_elements_change():
    html = '<p class="bp3-x">.bp3-a{}</p><style type="text/css">.bp3-a{x:1}.b{y:2}</style>'
    assert drop_unused_notebook_css(html) == '<p class="bp3-x">.bp3-a{}</p><style type="text/css">.b{y:2}</style>'
