"""Every registered figure renders, in both themes, on a tiny random model and on mini, for a prompt
full of markup and a control character: alt text and data present, every SVG well-formed XML with
the prompt escaped, every Vega-Lite spec compiled to SVG."""

from __future__ import annotations

import pytest

from figgen.context import Context
from figgen.figures.registry import SECTIONS, load_all

from .figtools import NASTY, assert_well_formed, render


@pytest.mark.parametrize("which", ["tiny", "mini"])
def test_every_figure_renders(which, request):
    ctx = Context.from_model(request.getfixturevalue(which), NASTY)
    specs = load_all()
    for fid, spec in specs.items():
        if spec.section == "overview":  # the poster has its own, stricter tests (test_poster.py)
            continue
        out = render(spec, ctx)
        assert_well_formed(out, fid)
        if fid == "tokenizer.tokens":  # token strings drawn as text, escaped
            assert "&lt;" in out["light"]


def test_every_section_has_a_figure():
    sections = {spec.section for spec in load_all().values()}
    assert set(SECTIONS[:21]) <= sections, set(SECTIONS[:21]) - sections
