"""The attention sections (attention-head, qkv, causal-attention, attention-pattern, result-vectors):
their analyses on hand-built arrays, their figures on real traces, and the checks they compute."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from matplotlib.figure import Figure as MplFigure

from figgen.analysis import attention
from figgen.context import Context
from figgen.figures import heads, style
from figgen.figures.save import vegalite_svg

from .figtools import NASTY, assert_well_formed, render, specs_of

SITE_PROMPT = "If today is Monday, tomorrow is"
SECTION_FIGURES = {
    "attention-head.layer", "qkv.weights", "qkv.vectors", "causal-attention.scores",
    "attention-pattern.explorer", "attention-pattern.all-heads", "attention-pattern.bos",
    "result-vectors.weighted-sum", "result-vectors.strips",
}


# --- analyses on hand-built arrays ------------------------------------------------------------------


def test_project_scores_softmax_known_answer():
    x = np.array([[1.0, 0.0], [0.0, 2.0]])  # (pos 2, d_model 2)
    W = np.array([[[1.0], [1.0]], [[2.0], [0.0]]])  # (head 2, d_model 2, d_head 1)
    b = np.array([[0.5], [0.0]])  # (head 2, d_head 1)
    q = attention.project(x, W, b)
    assert q.shape == (2, 2, 1)
    assert q[:, :, 0].tolist() == [[1.5, 2.0], [2.5, 0.0]]
    s = attention.scores(q, q, scale=0.5)  # (head, query, key)
    assert s[0, 0, 0] == 1.5 * 1.5 * 0.5 and s[0, 1, 0] == 2.5 * 1.5 * 0.5
    assert np.isneginf(s[:, 0, 1]).all() and np.isfinite(s[:, 1, :]).all()
    p = attention.softmax(s)
    assert p[0, 0].tolist() == [1.0, 0.0]
    e = np.exp([2.5 * 1.5 * 0.5, 2.5 * 2.5 * 0.5])
    assert np.allclose(p[0, 1], e / e.sum())
    assert attention.row_sum_deviation(p) < 1e-12 and attention.above_diagonal_max(p) == 0.0


def test_weighted_values_and_value_range():
    v = np.arange(12, dtype=float).reshape(3, 2, 2)  # (pos 3, head 2, d_head 2)
    eye = np.broadcast_to(np.eye(3), (2, 3, 3))
    assert np.array_equal(attention.weighted_values(eye, v), v)  # attend to yourself: z = v
    uniform = np.tril(np.ones((3, 3))) / np.arange(1, 4)[:, None]
    z = attention.weighted_values(np.broadcast_to(uniform, (2, 3, 3)), v)
    assert np.allclose(z[2], v.mean(0)) and np.allclose(z[1], v[:2].mean(0))
    assert attention.inside_value_range(np.broadcast_to(uniform, (2, 3, 3)), v, z) == 1.0
    z_bad = z.copy()
    z_bad[2, 0, 0] = 100.0  # outside every value: not an average
    assert attention.inside_value_range(np.broadcast_to(uniform, (2, 3, 3)), v, z_bad) == pytest.approx(1 - 1 / 12)


def test_bos_share_and_max_off_first():
    p = np.array([[1.0, 0.0, 0.0], [0.25, 0.75, 0.0], [0.5, 0.2, 0.3]])  # (query, key)
    assert attention.bos_share(p) == pytest.approx((0.25 + 0.5) / 2)  # query 0 is left out
    assert attention.max_off_first(p) == pytest.approx(0.75)
    stacked = np.stack([p, np.tril(np.ones((3, 3))) / np.arange(1, 4)[:, None]])  # (head 2, 3, 3)
    assert np.allclose(attention.bos_share(stacked), [0.375, (1 / 2 + 1 / 3) / 2])
    assert attention.row_sum_deviation(np.array([[1.0, 0.0], [0.6, 0.3]])) == pytest.approx(0.1)


def test_focus_head_skips_first_and_self():
    n = 4
    base = np.tril(np.ones((n, n))) / np.arange(1, n + 1)[:, None]
    patterns = np.broadcast_to(base, (2, 3, n, n)).copy()  # (layer, head, query, key)
    patterns[0, 1, -1] = [0.0, 0.0, 0.0, 1.0]  # all on itself: not moving information
    patterns[0, 2, -1] = [0.95, 0.05, 0.0, 0.0]  # all on the first token
    patterns[1, 2, -1] = [0.1, 0.0, 0.85, 0.05]  # on key 2: the one
    f = attention.focus_head(patterns)
    assert (f.layer, f.head, f.key) == (1, 2, 2) and f.weight == pytest.approx(0.85)
    # Two tokens: no earlier non-first token; any key counts.
    short = np.broadcast_to(np.array([[1.0, 0.0], [0.3, 0.7]]), (1, 2, 2, 2))
    assert attention.focus_head(short).key == 1


def test_summarize_shapes():
    rng = np.random.default_rng(0)
    p = rng.random((3, 2, 5, 5)) * np.tri(5)
    p /= p.sum(-1, keepdims=True)
    z = rng.standard_normal((3, 5, 2, 4))  # (layer, pos, head, d_head)
    s = attention.summarize(p, z)
    assert s.bos_share.shape == s.max_off_first.shape == s.mean_z_norm.shape == (3, 2)
    assert np.allclose(s.mean_z_norm[1, 0], np.linalg.norm(z[1, :, 0], axis=-1).mean())


def test_packed_rows_and_flat_pattern():
    p = np.tril(np.ones((1, 2, 3, 3)))
    flat = heads.flat_pattern(p, 3)
    rows = heads.packed_rows({"pattern": flat, "extra": np.full((1, 2, 2), 0.123456)}, 3)
    assert [r["label"] for r in rows] == ["L0H0", "L0H1"]
    v = rows[1]["v"]
    assert len(v) == 9 + 2 and v[1] is None and v[3] == 1.0 and v[-1] == 0.1235
    f = heads.flat_pattern(np.ones((1, 1, 5, 5)), 2)  # the first 2 × 2 cells only
    assert f.shape == (1, 1, 4) and np.isnan(f[0, 0, 1]) and f[0, 0, [0, 2, 3]].tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("n", [1, 2, 5])
@pytest.mark.parametrize("origin", [(0, 0), (12, 6)])
def test_hatch_covers_exactly_the_masked_cells(n, origin):
    fig = MplFigure()
    ax = fig.add_subplot()
    heads.hatch_future(ax, n, "light", origin=origin)
    if n < 2:
        return
    path = ax.patches[0].get_path()
    centres = [(k + origin[0], q + origin[1]) for q in range(n) for k in range(n)]  # imshow: x = key, y = query
    inside = path.contains_points(centres).reshape(n, n)
    assert np.array_equal(inside, ~attention.causal_mask(n))


def test_annotation_colour_follows_the_cell():
    colours = {}
    for theme in ("light", "dark"):
        ax = MplFigure().add_subplot()
        heads.annotate_cells(ax, np.array([[0.0, 1.0]]), ".1f", heads.WEIGHT_NORM, heads.weight_cmap(theme))
        colours[theme] = [t.get_color() for t in ax.texts]
    # Light theme: weight 0 is near white → black text, weight 1 dark green → white text; the dark theme's ramp
    # runs the other way (dark at 0, light green at 1), so it inverts both.
    assert colours == {"light": ["#000000", "#ffffff"], "dark": ["#ffffff", "#000000"]}
    for theme in ("light", "dark"):
        cmap = heads.weight_cmap(theme)
        for x in np.linspace(0, 1, 11):
            ax = MplFigure().add_subplot()
            heads.annotate_cells(ax, np.array([[x]]), ".1f", heads.WEIGHT_NORM, cmap)
            assert style.contrast(ax.texts[0].get_color(), cmap(x)) >= 4.5, (theme, x)


# --- figures on real traces ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def section_specs():
    return specs_of(SECTION_FIGURES)


@pytest.mark.parametrize("which", ["tiny", "mini"])
def test_section_figures_render(which, request, section_specs, monkeypatch):
    model = request.getfixturevalue(which)
    ctx = Context.from_model(model, NASTY)
    n = len(ctx.trace.tokens)
    if which == "tiny":  # also the path for long prompts: grids cut to their first MAX_POS positions
        monkeypatch.setattr(heads, "MAX_POS", 8)
        assert n > 8
    for fid, spec in sorted(section_specs.items()):
        out = render(spec, ctx)
        assert_well_formed(out, fid)
        if fid == "causal-attention.scores":  # token labels on the axes, escaped
            assert "&lt;" in out["light"] and "&amp;" in out["light"] and "\x18" not in out["light"]
        if which == "tiny" and fid not in {"attention-pattern.bos", "qkv.weights"}:
            assert f"first 8 of the prompt's {n} positions" in out["figure"].caption, fid


@pytest.fixture(scope="module")
def site(mini_site):
    return mini_site.ctx, {fid: mini_site[fid] for fid in SECTION_FIGURES}


def test_example_head_is_the_focus(site):
    ctx, out = site
    t = ctx.trace
    ex = out["qkv.vectors"]["figure"].data
    p = t[f"blocks.{ex['layer']}.attn.hook_pattern"][ex["head_index"]]
    assert p[-1, ex["key_position"]] == pytest.approx(ex["key_weight"], abs=1e-4)
    assert 0 < ex["key_position"] < len(t.tokens) - 1
    # No head of any layer puts more on one earlier non-first token from the last position.
    for l in range(ctx.dims.n_layers):
        assert t[f"blocks.{l}.attn.hook_pattern"][:, -1, 1:-1].max() <= ex["key_weight"] + 1e-4
    for fid in ("qkv.weights", "causal-attention.scores", "result-vectors.weighted-sum"):
        assert out[fid]["figure"].data["head"] == ex["head"], fid
    assert ex["head"] in out["qkv.weights"]["figure"].caption


def test_qkv_check(site):
    ctx, out = site
    w, v = out["qkv.weights"]["figure"].data, out["qkv.vectors"]["figure"].data
    d = ctx.dims
    assert w["shape"] == [d.d_model, d.d_head] and v["shape"] == [len(ctx.trace.tokens), d.d_head]
    for key in ("q_max_abs_diff", "k_max_abs_diff", "v_max_abs_diff", "max_abs_diff_all_heads"):
        assert v[key] < 1e-4, key
    assert w["params_per_layer"] == 3 * (d.d_model * d.d_model + d.d_model)  # n_heads · d_head = d_model
    # The check can fail: the wrong head's weights do not reproduce this head's queries.
    l, h = v["layer"], v["head_index"]
    x = ctx.trace[f"blocks.{l}.ln1.hook_normalized"]
    other = (h + 1) % d.n_heads
    wrong = attention.project(x, ctx.weights[f"blocks.{l}.attn.W_Q"][other:other + 1],
                              ctx.weights[f"blocks.{l}.attn.b_Q"][other:other + 1])[:, 0]
    assert heads.check(wrong, ctx.trace[f"blocks.{l}.attn.hook_q"][:, h]) > 1e-2


def test_causal_attention_data(site):
    ctx, out = site
    c = out["causal-attention.scores"]["figure"].data
    n = len(ctx.trace.tokens)
    assert c["n_masked"] == n * (n - 1) // 2 and c["n_unmasked"] == n * (n + 1) // 2
    assert c["max_abs_diff"] < 1e-4 and c["max_abs_diff_all_heads"] < 1e-4 and c["softmax_max_abs_diff"] < 1e-5
    assert c["masked_weight_max"] == 0.0 and c["scale"] == pytest.approx(1 / np.sqrt(ctx.dims.d_head), abs=1e-6)
    s = ctx.trace[f"blocks.{c['layer']}.attn.hook_attn_scores"][c["head_index"]]
    assert c["score_min"] == pytest.approx(s[np.isfinite(s)].min(), abs=1e-4)
    assert c["score_max"] == pytest.approx(s[np.isfinite(s)].max(), abs=1e-4)
    assert np.isneginf(s[np.triu_indices(n, 1)]).all()
    assert "masked" in out["causal-attention.scores"]["light"]


def test_attention_pattern_data(site):
    ctx, out = site
    b = out["attention-pattern.bos"]["figure"].data
    L, H = ctx.dims.n_layers, ctx.dims.n_heads
    share = np.array([ctx.trace[f"blocks.{l}.attn.hook_pattern"][:, 1:, 0].mean(-1) for l in range(L)])
    assert np.allclose(b["bos_share"], share, atol=1e-4)
    assert b["most_share"] == pytest.approx(share.max(), abs=1e-4)
    assert b["least_share"] == pytest.approx(share.min(), abs=1e-4)
    assert b["n_over_half"] == int((share > 0.5).sum()) and b["n_total"] == L * H
    assert b["row_sum_max_dev"] < 1e-5 and b["above_diagonal_max"] == 0.0
    a = out["attention-pattern.all-heads"]["figure"].data
    assert a["n_total"] == L * H
    assert out["attention-pattern.all-heads"]["light"].count("<image") == 2  # one mosaic of all heads + the colour bar


def test_result_vectors_data(site):
    ctx, out = site
    w = out["result-vectors.weighted-sum"]["figure"].data
    s = out["result-vectors.strips"]["figure"].data
    assert w["max_abs_diff"] < 1e-4 and s["max_abs_diff"] < 1e-4 and s["max_abs_diff_all_layers"] < 1e-4
    assert w["weight_sum"] == pytest.approx(1.0, abs=1e-5) and s["inside_value_range"] == 1.0
    assert w["z_norm"] <= w["v_norm_max"] + 1e-4  # an average is never longer than its longest input
    z = ctx.trace[f"blocks.{s['layer']}.attn.hook_z"]
    assert np.allclose(s["z_norms"], np.linalg.norm(z, axis=-1).T, atol=1e-3)
    assert s["shape"] == list(z.shape)


def test_attention_head_summary(site):
    ctx, out = site
    d = out["attention-head.layer"]["figure"].data
    L, H = ctx.dims.n_layers, ctx.dims.n_heads
    assert np.array(d["bos_share"]).shape == np.array(d["max_elsewhere"]).shape == (L, H)
    p0 = ctx.trace["blocks.0.attn.hook_pattern"]
    n = p0.shape[-1]
    # "A single token other than the first": an earlier key, not the query itself (keys 1 ≤ k < q).
    elsewhere = max(p0[:, q, 1:q].max() for q in range(2, n))
    assert d["layer0_sharpest_weight"] == pytest.approx(elsewhere, abs=1e-4)
    assert d["n_heads_total"] == L * H
    pats = np.stack([ctx.trace[f"blocks.{l}.attn.hook_pattern"] for l in range(L)])
    assert d["n_heads_sharp"] == int((attention.max_elsewhere(pats) > d["sharp_threshold"]).sum())
    assert d["n_heads_mostly_bos"] == int((pats[:, :, 1:, 0].mean(-1) > d["sink_threshold"]).sum())


def test_head_kinds_follow_their_thresholds(site):
    """The all-heads and bos figures name kinds of heads only when a score passes its threshold."""
    ctx, out = site
    k = out["attention-pattern.all-heads"]["figure"].data
    L = ctx.dims.n_layers
    pats = np.stack([ctx.trace[f"blocks.{l}.attn.hook_pattern"] for l in range(L)]).astype(np.float64)
    n = pats.shape[-1]
    prev = pats[:, :, np.arange(2, n), np.arange(1, n - 1)].mean(-1)  # queries 2 … n−1
    assert k["best_prev_score"] == pytest.approx(prev.max(), abs=1e-4)
    assert k["n_prev"] == int((prev > k["prev_threshold"]).sum()) and k["has_prev"] == (k["n_prev"] > 0)
    if not k["has_prev"]:
        assert k["prev_verdict"].startswith("no head does") and k["best_prev_head"] in k["prev_verdict"]
    b = out["attention-pattern.bos"]["figure"].data
    share = np.array(b["bos_share"])
    assert b["n_over_half"] == int((share > b["sink_threshold"]).sum()) == len(b["sink_heads"]) == k["n_sink"]
    assert ("no head does" in b["sink_verdict"]) == (b["n_over_half"] == 0)


def test_charts_use_the_named_ramps_and_draw_the_mask(site):
    """One colour convention for attention (the "attention" range, static and interactive), one drawing for
    the causal mask (`heads.mask_fill` in charts, `heads.hatch_future` in matplotlib figures)."""
    import json

    _, out = site
    for fid in ("attention-head.layer", "attention-pattern.explorer", "attention-pattern.bos"):
        text = json.dumps({k: v for k, v in out[fid]["vl"].items() if k != "usermeta"})
        assert '"scheme"' not in text, fid
        assert '"range": "attention"' in text, fid
        labels = '"range": "magnitude"' if fid == "attention-head.layer" else '"range": "attention-labels"'
        assert labels in text, fid
    for fid in ("attention-head.layer", "attention-pattern.explorer"):
        assert json.dumps(heads.mask_fill(), sort_keys=True) in json.dumps(out[fid]["vl"], sort_keys=True), fid
    assert "<linearGradient" in out["attention-pattern.explorer"]["vl.svg"]  # drawn in the static fallback too
    for fid in ("causal-attention.scores", "attention-pattern.all-heads"):
        assert heads.MASK_INK.lstrip("#") in out[fid]["light"].lower(), fid


def test_named_ranges_survive_altair_and_reach_the_spec():
    """Charts name the site's ramps (style.vega_range): altair still validates the chart eagerly, and the
    spec names the range that each theme's config defines; a real mistake still fails."""
    import altair as alt

    from figgen.figures import style
    from figgen.figures.save import vegalite_spec

    good = alt.Chart(alt.Data(values=[{"v": 0.5}])).mark_rect().encode(
        color=alt.Color("v:Q", scale=alt.Scale(range=style.vega_range("attention"), domain=[0, 1])))
    spec = vegalite_spec(good)
    assert spec["encoding"]["color"]["scale"]["range"] == "attention"
    assert spec["usermeta"]["figgen"]["themes"]["dark"]["range"]["attention"] == style.RAMPS["attention"]["dark"]
    with pytest.raises(Exception, match="no-such-type"):
        alt.Chart(alt.Data(values=[{"v": 0.5}])).mark_rect().encode(
            color=alt.Color("v:Q", scale=alt.Scale(range=style.vega_range("attention"), type="no-such-type"))
        ).to_dict()


def test_head_scores_on_hand_built_patterns():
    n = 5
    prev = np.zeros((n, n))
    prev[0, 0] = 1
    prev[np.arange(1, n), np.arange(n - 1)] = 1  # each query on the token just before it
    own = np.eye(n)  # each query on itself
    rest = np.zeros((n, n))
    rest[:, 0] = 1  # every query on the first token
    p = np.stack([prev, own, rest])  # (head 3, query, key)
    assert attention.previous_share(p).tolist() == [1.0, 0.0, 0.0]
    assert attention.self_share(p).tolist() == [0.0, 1.0, 0.0]
    assert attention.bos_share(p).tolist() == [0.25, 0.0, 1.0]  # query 1's previous token is the first
    # On itself is not "elsewhere"; the first token is not either.
    assert attention.max_elsewhere(p).tolist() == [1.0, 0.0, 0.0]
    assert attention.max_off_first(p).tolist() == [1.0, 1.0, 0.0]
    assert attention.max_self(p).tolist() == [0.0, 1.0, 0.0]
    assert attention.mean_on_keys(rest).tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]
    b = attention.best_head(attention.previous_share(p)[None] * 0.4, 0.5)  # (layer 1, head 3), best 0.4
    assert (b.layer, b.head, b.passes, b.n_passing) == (0, 0, False, 0) and b.score == pytest.approx(0.4)
    assert attention.best_head(np.array([[0.2, 0.9], [0.7, 0.1]]), 0.5).n_passing == 2


def _with_param(spec: dict, **values) -> dict:
    spec = copy.deepcopy(spec)
    for p in spec["params"]:
        if p["name"] in values:
            p["value"] = values[p["name"]]
    return spec


def test_selectors_change_the_view(site):
    """The sliders are wired: another layer (or head) draws a different chart."""
    ctx, out = site
    head_spec = out["attention-head.layer"]["vl"]
    bound = {p["name"] for p in head_spec["params"] if "bind" in p}
    assert bound == {"layer"} and next(p for p in head_spec["params"] if p["name"] == "layer")["value"] == 0
    assert vegalite_svg(_with_param(head_spec, layer=1), "light") != out["attention-head.layer"]["vl.svg"].encode()
    ex = out["attention-pattern.explorer"]
    params = {p["name"]: p for p in ex["vl"]["params"]}
    assert {n for n, p in params.items() if "bind" in p} == {"layer", "head"}
    shown = (params["layer"]["value"], params["head"]["value"])
    assert shown == (ex["figure"].data["layer"], ex["figure"].data["head_index"])
    other = _with_param(ex["vl"], head=(params["head"]["value"] + 1) % ctx.dims.n_heads)
    assert vegalite_svg(other, "light") != ex["vl.svg"].encode()
