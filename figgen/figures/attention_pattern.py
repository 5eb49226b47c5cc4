"""Attention patterns: any head's pattern (layer and head sliders), all heads as small multiples, and how
much attention each head puts on the first position; the internal-consistency test that every row sums to 1."""

from __future__ import annotations

import altair as alt
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.figure import Figure as MplFigure

from ..analysis import attention
from . import heads, style
from .labels import cell_text, head_label, rounded, sig, token_labels
from .registry import Figure, figure


def _pct(x: float) -> str:
    return f"{x:.0%}"


@figure("attention-pattern.explorer", section="attention-pattern", title="Any head's attention pattern",
        caption="The attention pattern of the head picked with the sliders.")
def explorer(ctx) -> Figure:
    L, H = ctx.dims.n_layers, ctx.dims.n_heads
    n_all = len(ctx.trace.tokens)
    n = heads.shown_positions(n_all)
    ex = ctx.analysis(heads.focus_data)
    rows = heads.packed_rows({"pattern": heads.flat_pattern(ctx.analysis(heads.patterns), n)}, n)
    cell = max(12, min(34, 300 // n))
    layer = alt.param(name="layer", value=ex["layer"],
                      bind=alt.binding_range(min=0, max=L - 1, step=1, name="layer "))
    head = alt.param(name="head", value=ex["head_index"],
                     bind=alt.binding_range(min=0, max=H - 1, step=1, name="head "))
    names = heads.names_param("tokens", token_labels(ctx)[:n])
    base = (heads.unpack(alt.Chart(alt.Data(values=rows))
                         .transform_filter((alt.datum.l == layer) & (alt.datum.h == head)), n)
            .transform_calculate(query="tokens[datum.r]", key="tokens[datum.x]")
            .encode(x=alt.X("x:O", title="key (position looked at)", scale=alt.Scale(domain=list(range(n))),
                            axis=alt.Axis(labelExpr=heads.label_expr("tokens"), labelAngle=-45, ticks=False)),
                    y=alt.Y("r:O", title="query (position looking)", scale=alt.Scale(domain=list(range(n))),
                            axis=alt.Axis(labelExpr=heads.label_expr("tokens"), ticks=False))))
    cells = base.transform_filter(heads.pattern_filter(n))
    chart = cells.mark_rect().encode(
        color=alt.Color("v:Q", scale=alt.Scale(range=style.vega_range("attention"), domain=[0, 1]), title="weight"),
        tooltip=[alt.Tooltip("query:N"), alt.Tooltip("key:N"), alt.Tooltip("v:Q", format=".3f", title="weight")])
    chart += base.transform_filter(heads.mask_filter(n)).mark_rect(fill=heads.mask_fill())
    if n <= 16:  # weights written in the cells while they are big enough to hold them
        chart += cell_text(cells, "v", ".2f", "attention", (0.0, 1.0))
    chart = chart.add_params(layer, head, names).properties(
        width=cell * n, height=cell * n,
        title=alt.Title(alt.ExprRef(expr="'Attention pattern of L' + layer + 'H' + head"),
                        subtitle="pick the layer and head with the sliders below the chart"))
    p = ctx.analysis(heads.patterns)[ex["layer"], ex["head_index"]]
    return Figure(
        data={**ex, "n_positions": n_all, "n_layers": L, "n_heads": H},
        alt=f"Heatmap of one head's attention pattern, query tokens down, key tokens across, with the weight in "
            f"each cell; sliders choose any of the {L * H} heads. Shown first: {ex['head']}, whose last row puts "
            f"{p[-1, ex['key_position']]:.0%} on {ex['key_token']!r}",
        caption=f"Where any one head looks, picked with the sliders; it opens on {heads.example_caption(ex)}, whose "
                f"last query gives {ex['key_weight']:.0%} of its attention to {ex['key_token']}. Each row is one query position and sums to 1; the "
                "hatched upper triangle is the causal mask. Hover a cell for its query token, key token and weight."
                + heads.positions_note(n_all),
        chart=chart,
    )


def kinds(ctx) -> dict:
    """Which heads show each shape of the all-heads figure on this prompt, by a score and a threshold
    (`attention.SINK_THRESHOLD`, `PREVIOUS_TOKEN_THRESHOLD`): counts, the best candidate and a verdict."""
    s = ctx.analysis(heads.summary)
    out = {}
    for name, scores, threshold, kind in (
            ("sink", s.bos_share, attention.SINK_THRESHOLD, "rests on the first token"),
            ("self", s.self_share, attention.SINK_THRESHOLD, "attends to its own position"),
            ("prev", s.previous_share, attention.PREVIOUS_TOKEN_THRESHOLD, "is a previous-token head")):
        b = attention.best_head(scores, threshold)
        label = head_label(b.layer, b.head)
        if b.passes:
            verdict = (f"{b.n_passing} of the {scores.size} heads {'does' if b.n_passing == 1 else 'do'}, "
                       f"{label} most clearly ({b.score:.0%})")
        else:
            verdict = f"no head does; the closest is {label}, with {b.score:.0%}"
        out.update({f"{name}_threshold": threshold, f"n_{name}": b.n_passing, f"best_{name}_head": label,
                    f"best_{name}_score": round(b.score, 4), f"has_{name}": b.passes,
                    f"{name}_verdict": verdict})
    return out


@figure("attention-pattern.all-heads", section="attention-pattern", title="Every head's pattern at once",
        caption="The attention pattern of every head, one small grid per head.")
def all_heads(ctx) -> Figure:
    L, H = ctx.dims.n_layers, ctx.dims.n_heads
    pats = ctx.analysis(heads.patterns)  # (layer, head, query_pos, key_pos)
    n_all = pats.shape[-1]
    n = heads.shown_positions(n_all)
    # One image for all heads (a mosaic with transparent gaps) instead of L × H axes: for GPT-2's 144 heads
    # that is several times faster and smaller.
    cmap = heads.weight_cmap(ctx.theme)
    step = n + max(1, n // 6)  # a head's cells plus the gap after them
    mosaic = np.zeros((L * step, H * step, 4))  # RGBA, transparent where nothing is drawn
    allowed = attention.causal_mask(n)
    for l in range(L):
        for h in range(H):
            cells = heads.masked(pats[l, h, :n, :n], allowed)
            mosaic[l * step:l * step + n, h * step:h * step + n] = cmap(heads.WEIGHT_NORM(cells))
    size = min(1.1, (heads.WIDTH_IN - 1.5) / H)  # inches per head: the column's width at most
    fig = MplFigure(figsize=(H * size + 1.3, L * size + 0.5), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(np.round(mosaic[: L * step - (step - n), : H * step - (step - n)], 4), interpolation="nearest")
    for l in range(L):
        for h in range(H):
            heads.hatch_future(ax, n, ctx.theme, label=False, origin=(h * step, l * step))
    centre = (n - 1) / 2
    ax.set_xticks([h * step + centre for h in range(H)], [f"H{h}" for h in range(H)])
    ax.set_yticks([l * step + centre for l in range(L)], [f"L{l}" for l in range(L)])
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    heads.colorbar(fig, ScalarMappable(heads.WEIGHT_NORM, cmap), ax, "attention weight")
    k = ctx.analysis(kinds)
    return Figure(
        data={"n_layers": L, "n_heads": H, "n_total": L * H, "n_positions": n_all, **k},
        alt=f"A grid of {L * H} small triangular heatmaps, {L} layers down by {H} heads across, each the attention "
            f"pattern of one head over the prompt's {n} positions; {k['n_sink']} heads send more than half of "
            f"their attention to the first column",
        caption=f"The {L * H} heads look in a few recognisable ways: a strong left column means a head rests on the "
                "first token, a strong diagonal that each position looks at itself, a line just below the diagonal "
                f"that it looks at the previous token. Layer down, head across (L{L - 1}H{H - 1} is head {H - 1} of "
                f"layer {L - 1}); each small grid is one head's pattern, query down, key across (hatched: masked)."
                + heads.positions_note(n_all),
        mpl=fig,
    )


@figure("attention-pattern.bos", section="attention-pattern", title="How much attention goes to the first token",
        caption="For every head: the share of attention on the first position, averaged over the later queries.")
def bos(ctx) -> Figure:
    L, H = ctx.dims.n_layers, ctx.dims.n_heads
    pats = ctx.analysis(heads.patterns)
    share = ctx.analysis(heads.summary).bos_share  # (layer, head)
    rows = [{"layer": l, "head": h, "label": head_label(l, h), "share": round(float(share[l, h]), 4)}
            for l in range(L) for h in range(H)]
    base = alt.Chart(alt.Data(values=rows)).encode(
        x=alt.X("head:O", title="head", axis=alt.Axis(labelAngle=0)), y=alt.Y("layer:O", title="layer"))
    chart = (
        base.mark_rect().encode(
            color=alt.Color("share:Q", scale=alt.Scale(range=style.vega_range("attention"), domain=[0, 1]), title="on first"),
            tooltip=[alt.Tooltip("label:N", title="head"),
                     alt.Tooltip("share:Q", format=".1%", title="on first token")])
        + cell_text(base, "share", ".0%", "attention", (0.0, 1.0))
    ).properties(width=max(200, 36 * H), height=max(120, 26 * L))
    most = np.unravel_index(np.argmax(share), share.shape)
    least = np.unravel_index(np.argmin(share), share.shape)
    first = ctx.token_str(ctx.trace.tokens[0])
    # How long the first position's value vectors are next to the others' (all heads, all layers).
    v_norms = np.stack([np.linalg.norm(ctx.trace[f"blocks.{l}.attn.hook_v"], axis=-1)
                        for l in range(L)])  # (layer, pos, head)
    v_ratio = float(v_norms[:, 0].mean() / v_norms[:, 1:].mean()) if v_norms.shape[1] > 1 else 1.0
    threshold = attention.SINK_THRESHOLD
    n_sink = int((share > threshold).sum())
    sinks = [head_label(l, h) for l in range(L) for h in range(H) if share[l, h] > threshold]
    if n_sink:
        verdict = (f"{n_sink} of the {L * H} heads {'does' if n_sink == 1 else 'do'} ({_list(sinks)}): for "
                   f"{'it' if n_sink == 1 else 'them'} the first token is an attention sink on this prompt")
    else:
        verdict = (f"no head does, so on this prompt this model has no attention sink by this measure; the highest "
                   f"share is {head_label(*most)}'s, {share[most]:.0%}")
    data = {"bos_share": rounded(share), "mean_share": round(float(share.mean()), 4),
            "layer_mean_share": rounded(share.mean(1)),
            "most_head": head_label(*most), "most_share": round(float(share[most]), 4),
            "least_head": head_label(*least), "least_share": round(float(share[least]), 4),
            "sink_threshold": threshold, "n_over_half": n_sink, "sink_heads": sinks, "sink_verdict": verdict,
            "n_total": L * H, "first_token": first, "v_first_ratio": round(v_ratio, 4),
            "v_first_compare": "shorter than" if v_ratio < 1 else "not shorter than",
            "row_sum_max_dev": sig(attention.row_sum_deviation(pats), 3),
            "above_diagonal_max": float(attention.above_diagonal_max(pats))}
    return Figure(
        data=data,
        alt=f"Heatmap of {L} layers by {H} heads giving each head's mean attention on the first token "
            f"({first!r}); highest {data['most_head']} ({data['most_share']:.0%}), lowest {data['least_head']} "
            f"({data['least_share']:.0%}), {n_sink} of {L * H} heads above one half",
        caption=f"How much each head rests on the first token, {first}: "
                + (f"{n_sink} of the {L * H} heads give it most of their attention. " if n_sink else
                   f"no head gives it most of its attention; {head_label(*most)} gives it the most. ")
                + "Each cell is the share of a head's attention on that token, averaged over the queries after it "
                "(the first query has nowhere else to look).",
        chart=chart,
    )


def _list(names: list[str], most: int = 8) -> str:
    """'L0H1, L1H2 and L3H0' (the first `most`, then 'and N more')."""
    if len(names) > most:
        return ", ".join(names[:most]) + f" and {len(names) - most} more"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
