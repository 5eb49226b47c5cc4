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


def test_chart_fallback_bytes_do_not_depend_on_what_rendered_before():
    """Vega numbers gradient ids per process: the same chart rendered twice must still give the same SVG."""
    import altair as alt

    from figgen.figures.save import vegalite_svg

    data = alt.Data(values=[{"x": i, "v": i / 3} for i in range(4)])
    spec = alt.Chart(data).mark_rect().encode(x="x:O", color=alt.Color("v:Q")).to_dict()
    first, second = vegalite_svg(spec, "light"), vegalite_svg(spec, "light")
    assert b"gradient_0" in first and first == second
