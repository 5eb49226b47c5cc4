"""The poster (overview.poster): links to every section page, cells coloured by the trace's values,
renders for tiny, mini and GPT-2's shapes, stays small, and is byte-identical on every render."""

from __future__ import annotations

import base64
import io
import posixpath
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import numpy as np
import pytest
from matplotlib.colors import TwoSlopeNorm
from PIL import Image

from figgen.context import Context
from figgen.figures import poster_layout, style
from figgen.legibility import MIN_TEXT_PX, text_size
from figgen.figures.registry import PAGES, SECTIONS, load_all
from figgen.figures.save import png_bytes, svg_bytes
from figgen.mkdocs_plugin import SITE_DIR, figure_html

from .figtools import GPT2, NASTY, render

ROOT = Path(__file__).resolve().parents[1]
SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}href"
PROMPT = "If today is Monday, tomorrow is"
MAX_BYTES = 2_000_000
# Every section the infographic has a page for (the poster itself and the later deep dives excluded).
DEEP_DIVES = {"logit-lens", "vocabulary", "day-circuit"}
PAGE_SECTIONS = [s for s in SECTIONS if s not in {"overview", *DEEP_DIVES}]


@pytest.fixture(scope="module")
def spec():
    return load_all()["overview.poster"]


@pytest.fixture(scope="module")
def mini_out(mini, spec):
    ctx = Context.from_model(mini, PROMPT)
    return ctx, render(spec, ctx)


def links(svg: str) -> list[ET.Element]:
    return [a for a in ET.fromstring(svg.encode()).iter(f"{SVG}a")]


def by_id(svg: str) -> dict[str, ET.Element]:
    return {e.get("id"): e for e in ET.fromstring(svg.encode()).iter() if e.get("id")}


def pixels(image: ET.Element) -> np.ndarray:
    """The RGBA bytes of an embedded <image> (a data: PNG)."""
    data = image.get(XLINK).split(",", 1)[1]
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGBA"))


def expected_colours(values: np.ndarray, scale: float, theme: str = "light") -> np.ndarray:
    """The theme's diverging ramp centred at 0, ±scale, on values rounded to 4 decimals."""
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-scale, vmax=scale)
    return style.cmap("diverging", theme)(norm(np.round(values.astype(np.float64), 4)), bytes=True)


def scale_of(block: np.ndarray, quantile: float = poster_layout.QUANTILE) -> float:
    """A block's colour scale, recomputed: that quantile of |value| over the block as drawn."""
    return max(round(float(np.quantile(np.abs(np.round(block.astype(np.float64), 4)), quantile)), 4), 1e-4)


# --- links ------------------------------------------------------------------------------------------


def test_every_section_has_an_existing_page():
    # Every infographic section has a page, and so does each deep dive built so far.
    assert set(PAGE_SECTIONS) <= set(PAGES) <= set(PAGE_SECTIONS) | DEEP_DIVES and len(PAGE_SECTIONS) == 20
    for section, url in PAGES.items():
        assert url.endswith("/") and (ROOT / "docs" / (url.rstrip("/") + ".md")).is_file(), section


def test_served_at_matches_the_plugin():
    assert poster_layout.SERVED_AT == f"{SITE_DIR}/figures/"


def test_poster_links_every_section_from_where_it_is_served(mini_out):
    _, out = mini_out
    for theme in ("light", "dark"):
        anchors = links(out[theme])
        assert anchors and all(a.get("target") == "_top" for a in anchors)
        pages = {posixpath.normpath(posixpath.join(poster_layout.SERVED_AT, a.get(XLINK))) + "/" for a in anchors}
        assert pages == set(PAGES.values()), pages ^ set(PAGES.values())
    assert out["figure"].data["links"] == {s: poster_layout.href(s) for s in PAGES}


def test_plugin_embeds_linked_figures_as_objects():
    entry = {"id": "overview.poster", "alt": "a <poster>", "title": "T", "caption": "C", "links": True,
             "files": ["figures/overview.poster.dark.svg", "figures/overview.poster.light.svg",
                       "figures/overview.poster.png"]}
    html = figure_html(entry, "")
    assert html.count("<object ") == 2 and 'data="figgen/figures/overview.poster.light.svg#only-light"' in html
    assert "a &lt;poster&gt;" in html and "<poster>" not in html
    plain = figure_html({**entry, "links": False}, "attention/qkv/")
    assert "<object" not in plain and 'src="../../figgen/figures/overview.poster.dark.svg#only-dark"' in plain


# --- cells carry the trace's values -------------------------------------------------------------------


@pytest.mark.parametrize("hook, head, pos, width, theme", [
    ("blocks.0.attn.hook_q", 1, 3, "d_head", "light"),
    ("blocks.0.attn.hook_z", 3, 7, "d_head", "dark"),
    ("blocks.0.attn.hook_result", 2, 5, "result", "light"),
    ("blocks.0.hook_resid_mid", None, 4, "d_model", "dark"),
    ("blocks.0.mlp.hook_pre", None, 6, "d_mlp", "light"),
    ("hook_embed", None, 0, "d_model", "dark"),
])
def test_cells_are_coloured_by_the_traced_values(mini_out, hook, head, pos, width, theme):
    ctx, out = mini_out
    t, d = ctx.trace, ctx.dims
    # A head's row shows fewer components than a stream strip (it holds six blocks side by side).
    k = {"d_head": min(d.d_head, poster_layout.HEAD_SHOWN), "result": min(d.d_model, poster_layout.RESULT_SHOWN),
         "d_model": min(d.d_model, 128), "d_mlp": min(d.d_mlp, 128)}[width]
    block = t[hook][:, :, :k] if head is not None else t[hook][:, :k]
    scale = scale_of(block)
    assert out["figure"].data["scales"][hook] == pytest.approx(scale, abs=1e-4)
    values = t[hook][pos, head, :k] if head is not None else t[hook][pos, :k]
    image = by_id(out[theme])[poster_layout.strip_id(hook, pos, head)]
    got = pixels(image)
    assert got.shape == (1, k, 4)
    assert np.array_equal(got[0], expected_colours(values, scale, theme))
    assert "pixelated" in image.get("style")  # cells stay sharp when zoomed


def test_dark_strips_have_a_dark_midpoint(mini_out):
    """Values near 0 look like the page in dark mode (no white slabs): the ramp's middle is the page's tone."""
    ctx, out = mini_out
    hook = "blocks.0.hook_resid_pre"
    got = pixels(by_id(out["dark"])[poster_layout.strip_id(hook, 3)])[0, :, :3].astype(float)
    values = ctx.trace[hook][3, : got.shape[0]]
    near_zero = np.abs(values) < 0.1 * out["figure"].data["scales"][hook]
    assert near_zero.any()
    assert all(style.contrast(tuple(c / 255), style.background("dark")) < 1.5 for c in got[near_zero])


def test_final_stream_and_logits_are_clipped_harder(mini_out):
    """The stream after the last layer: its CLIP_QUANTILE (not QUANTILE), so its few huge positions do not wash
    out the rest; the logits strip: the logits minus their mean over the vocabulary, clipped the same way."""
    ctx, out = mini_out
    t, d = ctx.trace, ctx.dims
    hook = f"blocks.{d.n_layers - 1}.hook_resid_post"
    clip = poster_layout.CLIP_QUANTILE
    scale = scale_of(t[hook][:, :128], clip)
    assert out["figure"].data["scales"][hook] == pytest.approx(scale, abs=1e-4)
    assert scale < scale_of(t[hook][:, :128])  # on mini, clipping changes the scale
    logits = t["logits"][-1].astype(np.float64)
    centred = (logits - logits.mean())[:128]
    scale = scale_of(centred, clip)
    assert out["figure"].data["scales"]["logits"] == pytest.approx(scale, abs=1e-4)
    got = pixels(by_id(out["light"])[poster_layout.strip_id("logits", len(t.tokens) - 1)])
    assert np.array_equal(got[0], expected_colours(centred, scale))


def test_tokens_are_shown_as_the_site_shows_them(mini_out):
    ctx, out = mini_out
    for theme in ("light", "dark"):
        svg = out[theme]
        assert "Ġ" not in svg and "␣today" in svg and "␣Tuesday" in svg


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_legible_in_the_column(mini_out, theme):
    _, out = mini_out
    size = text_size(out[theme].encode())
    assert size.natural_px <= 691 and size.smallest_px >= MIN_TEXT_PX, size


def test_pattern_cells_and_causal_mask(mini_out):
    ctx, out = mini_out
    hook, h = "blocks.0.attn.hook_pattern", 2
    pattern = ctx.trace[hook][h]  # (query, key)
    got = pixels(by_id(out["dark"])[poster_layout.strip_id(hook, head=h)])
    n = len(pattern)
    assert got.shape == (n, n, 4)
    below = np.tril(np.ones((n, n), bool))
    # The "attention" ramp, as every attention pattern on the site.
    want = style.cmap("attention", "dark")(np.round(pattern.astype(np.float64), 4), bytes=True)
    assert np.array_equal(got[below], want[below])
    assert (got[~below][:, 3] == 0).all()  # masked (future) keys are transparent (and hatched)


def test_decoding_table_is_the_real_distribution(mini_out):
    ctx, out = mini_out
    logits = ctx.trace["logits"][-1].astype(np.float64)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    data = out["figure"].data
    best = np.argsort(-probs, kind="stable")[: poster_layout.TOP_K]
    assert [r["id"] for r in data["top"]] == best.tolist()
    assert [r["prob"] for r in data["top"]] == pytest.approx(probs[best], abs=1e-4)
    assert data["predicted"] == ctx.token_str(best[0]) == "␣Tuesday"  # mini learned days of the week
    assert data["n_heads"] == ctx.dims.n_heads and data["n_tokens"] == 8


# --- renders anywhere, small, deterministic --------------------------------------------------------


@pytest.mark.parametrize("which", ["tiny", "mini"])
def test_renders_with_a_hostile_prompt(which, request, spec):
    model = request.getfixturevalue(which)
    ctx = Context.from_model(model, NASTY)
    out = render(spec, ctx)
    n_heads = model.weights.dims.n_heads
    for theme in ("light", "dark"):
        svg = out[theme]
        ET.fromstring(svg.encode())  # well-formed: strings escaped, no control characters
        assert "\x18" not in svg and "&lt;b&gt;&amp;amp;" in svg
        assert len(svg.encode()) <= MAX_BYTES
        ids = by_id(svg)
        assert all(f"blocks.0.attn.hook_q/h{h}/p{len(ctx.trace.tokens) - 1}" in ids for h in range(n_heads))
    assert out["figure"].alt.strip()


def test_two_renders_are_byte_identical(mini_out, spec):
    ctx, first = mini_out
    svgs, pngs = [], []
    for _ in range(2):  # the light theme, as the build renders it: SVG, then the social-image PNG
        ctx.theme = "light"
        with matplotlib.rc_context(style.rc("light")):
            fig = spec.func(ctx).mpl
            svgs.append(svg_bytes(fig).decode())
            pngs.append(png_bytes(fig, style.background("light")))
    assert svgs[0] == svgs[1] == first["light"]
    assert pngs[0] == pngs[1] and pngs[0].startswith(b"\x89PNG") and b"Software" not in pngs[0]


class _FakeTrace(dict):
    """Random vectors with a GPT-2 124M trace's shapes, made on demand (no 500 MB model needed)."""

    def __init__(self, dims, n: int):
        super().__init__()
        self.d, self.n = dims, n
        self.tokens = np.arange(n) * 997 % dims.d_vocab
        self.display_tokens = [f"Ġtok{i}" for i in self.tokens]
        self.prompt = PROMPT
        self.rng = np.random.default_rng(0)

    def __missing__(self, name: str) -> np.ndarray:
        d, n = self.d, self.n
        if name.endswith(("hook_q", "hook_k", "hook_v", "hook_z")):
            shape = (n, d.n_heads, d.d_head)
        elif name.endswith("hook_result"):
            shape = (n, d.n_heads, d.d_model)
        elif name.endswith(("hook_pre", "hook_post")):
            shape = (n, d.d_mlp)
        elif name == "logits":
            shape = (n, d.d_vocab)
        elif name.endswith("hook_pattern"):
            scores = np.where(np.tril(np.ones((n, n), bool)), self.rng.normal(size=(d.n_heads, n, n)), -np.inf)
            self[name] = (np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)).astype(np.float32)
            return self[name]
        else:
            shape = (n, d.d_model)
        self[name] = self.rng.normal(size=shape).astype(np.float32)
        return self[name]


def test_gpt2_shapes_stack_twelve_heads_under_the_size_limit(spec):
    W_E = np.random.default_rng(1).normal(size=(64, GPT2.d_model)).astype(np.float32)
    ctx = SimpleNamespace(
        trace=_FakeTrace(GPT2, 8), dims=GPT2, theme="light", model_info={"name": "gpt2"},
        weights={"W_E": W_E, "W_U": W_E.T}, token_str=lambda i: f"␣t{int(i)}",
        token_strs=lambda ids: [f"␣t{int(i)}" for i in ids])
    out = render(spec, ctx)
    svg = out["light"]
    assert len(svg.encode()) <= MAX_BYTES
    ids = by_id(svg)
    assert sum(bool(re.fullmatch(r"blocks\.0\.attn\.hook_pattern/h\d+", i)) for i in ids) == 12
    assert pixels(ids["blocks.0.hook_resid_pre/p7"]).shape == (1, 128, 4)  # first 128 of 768 components
    assert pixels(ids["blocks.0.attn.hook_v/h11/p0"]).shape == (1, 32, 4)  # first 32 of d_head
    assert pixels(ids["blocks.0.attn.hook_result/h11/p0"]).shape == (1, 64, 4)  # first 64 of d_model
    assert pixels(ids["blocks.0.mlp.hook_post/p3"]).shape == (1, 128, 4)  # first 128 of d_mlp
    assert "blocks.11.hook_resid_post/p0" in ids and "logits/p7" in ids
    assert "Layers 1–11 elided" in svg and "128 of 3,072" in svg and "ids 0–127 of 50,257" in svg
    data = out["figure"].data
    assert (data["components_shown"], data["head_components_shown"], data["result_components_shown"]) == (128, 32, 64)
    for theme in ("light", "dark"):  # twelve stacked heads still fit the column, every text legible
        size = text_size(out[theme].encode())
        assert size.natural_px <= 691 and size.smallest_px >= MIN_TEXT_PX, size
    assert "Ġ" not in svg and "␣t" in svg
