"""Helpers for figure tests: run a figure as the build does, a hostile prompt, GPT-2 124M's sizes."""

from __future__ import annotations

import matplotlib

from figgen.figures import style
from figgen.figures.save import svg_bytes, vegalite_spec, vegalite_svg
from figgen.weights import Dims

GPT2 = Dims(n_layers=12, n_heads=12, d_model=768, d_head=64, d_mlp=3072, d_vocab=50257, n_ctx=1024)
# Markup, an entity, math delimiters and a control character: every writer must escape these.
NASTY = 'Transformer tokens <b>&amp; "$x$" \x18'


def render(spec, ctx) -> dict:
    """Run a figure as the build does (both themes) and return its outputs as text."""
    out = {}
    for theme in style.THEMES:
        ctx.theme = theme
        with matplotlib.rc_context(style.rc(theme)):
            fig = spec.func(ctx)
            if fig.mpl is not None:
                out[theme] = svg_bytes(fig.mpl).decode()
    if fig.chart is not None:
        vl = vegalite_spec(fig.chart)
        out["vl"] = vl
        out["vl.svg"] = vegalite_svg(vl, "light").decode()
    return {"figure": fig, **out}


def assert_well_formed(out: dict, fid: str) -> None:
    """A rendered figure (from `render`, NASTY prompt) has alt text and data, and every SVG it made
    parses as XML with the prompt's markup escaped and its control character made visible."""
    import xml.etree.ElementTree as ET

    fig = out["figure"]
    assert fig.alt.strip() and fig.data, fid
    assert "light" in out or "vl" in out, fid
    for key in ("light", "dark", "vl.svg"):
        if key in out:
            ET.fromstring(out[key].encode())
            assert "\x18" not in out[key] and "<b>" not in out[key], fid


def specs_of(ids: set[str]) -> dict:
    """The registered specs of these figure ids (all must exist), in id order."""
    from figgen.figures.registry import load_all

    specs = load_all()
    assert ids <= set(specs), ids - set(specs)
    return {i: specs[i] for i in sorted(ids)}
