"""The residual stream: how long each position's vector grows layer by layer, and who wrote the final
position's vector, measured by each writer's direct contribution to the predicted token's logit.

Figures: the norm of every position's residual vector at every stage (a line per position); the top
writers by |direct logit contribution| (bar chart); every head's contribution (layer × head heatmap).
The attribution itself is in `figgen.analysis.attribution`.
"""

from __future__ import annotations

import altair as alt
import numpy as np

from ..analysis import attribution
from . import style
from .labels import cell_text, head_label, join_words, rounded, sig, token_labels
from .registry import Figure, figure

TOP = 15  # writers shown in the bar chart
LOG_RATIO = 20.0  # a log axis when the longest vector is this many times the shortest
STANDS_OUT = 3.0  # the first position "stands out" at ≥ 3× (or ≤ 1/3 of) the other positions' median length
SINK = 0.5  # a head rests on the first token when it puts at least this share of its attention there
KIND_NAMES = {"embed": "embeddings", "head": "attention head", "b_O": "attention bias b_O", "mlp": "MLP",
              "ln": "final LayerNorm bias β"}
KIND_COLOURS = {"embed": style.TOKENIZER, "head": style.ATTENTION, "b_O": style.PARAMETER, "mlp": style.MLP,
                "ln": style.OPERATION}


# --- shared analyses ---------------------------------------------------------------------------------


def stages(ctx) -> tuple[list[str], np.ndarray]:
    """Stage names and (stage, pos) residual norms: each layer's resid_pre and resid_mid, then the last
    layer's resid_post (what the final LayerNorm reads)."""
    t, L = ctx.trace, ctx.dims.n_layers
    names, vecs = [], []
    for l in range(L):
        names += [f"L{l} pre", f"L{l} mid"]
        vecs += [t[f"blocks.{l}.hook_resid_pre"], t[f"blocks.{l}.hook_resid_mid"]]
    names.append(f"L{L - 1} post")
    vecs.append(t[f"blocks.{L - 1}.hook_resid_post"])
    return names, np.linalg.norm(np.asarray(vecs, np.float64), axis=-1)  # (2L + 1, pos)


def final_attribution(ctx) -> dict:
    """The final position's writers and their direct contributions to the predicted token's logit."""
    t, W, L = ctx.trace, ctx.weights, ctx.dims.n_layers
    p = len(t.tokens) - 1
    logits = t["logits"][p]  # (d_vocab,)
    token = int(np.argmax(logits))
    writers = attribution.collect_writers(t, [W[f"blocks.{l}.attn.b_O"] for l in range(L)], p)
    attr = attribution.direct_logit_attribution(writers.vectors, float(t["ln_final.hook_scale"][p, 0]),
                                                W["ln_final.w"], W["ln_final.b"], W["W_U"][:, token])
    resid = t[f"blocks.{L - 1}.hook_resid_post"][p]
    return {"position": p, "token": token, "logit": float(logits[token]), "writers": writers, "attr": attr,
            "writers_sum_error": float(np.abs(writers.vectors.sum(0) - resid).max())}


def _ranked(ctx) -> list[dict]:
    """Every writer plus the LN bias as rows, sorted by |contribution| (largest first, ties by order)."""
    a = ctx.analysis(final_attribution)
    w, c = a["writers"], a["attr"].contributions
    rows = [{"label": lab, "kind": k, "value": float(v), "order": i}
            for i, (lab, k, v) in enumerate(zip(w.labels, w.kinds, c))]
    rows.append({"label": "ln_final β", "kind": "ln", "value": a["attr"].ln_bias, "order": len(rows)})
    return sorted(rows, key=lambda r: (-round(abs(r["value"]), 6), r["order"]))


def first_position_note(final: np.ndarray, tokens: list[str]) -> tuple[str, list[str]]:
    """Whether the first position's final residual vector stands out, as a sentence (the answer first, then
    its length against the others), and the other positions that pass the same test. Decided by its length
    over the median of the other positions' final lengths: STANDS_OUT times or more (or 1/STANDS_OUT or less)
    stands out; `stands_out_rule` says so for the page's collapsed note."""
    P = len(final)
    if P < 2:
        return "The prompt has a single position, so there is nothing to compare it with.", []
    median = float(np.median(final[1:]))
    ratio = float(final[0] / max(median, 1e-12))
    if ratio >= STANDS_OUT:
        also = [f"position {p} ({tokens[p]})" for p in range(1, P) if final[p] >= STANDS_OUT * median]
        note = (f"Yes: its final vector is {ratio:.1f} times the median length of the other positions' final "
                "vectors.")
        if also:
            note += f" It is not the only one: {join_words(also)} {'stands' if len(also) == 1 else 'stand'} out too."
        return note, also
    if ratio <= 1 / STANDS_OUT:
        return (f"Yes, by being short: its final vector is {ratio:.2f} times the median length of the other "
                "positions' final vectors."), []
    return (f"No: its final vector is {ratio:.2f} times the median length of the other positions' final vectors, "
            "so by this measure it does not stand out."), []


def stands_out_rule() -> str:
    """The test behind `first_position_note`, in words."""
    return (f"A position stands out when its final vector is at least {STANDS_OUT:g} times the median length of the "
            f"other positions' final vectors, or at most a {_FRACTION} of it.")


_FRACTION = "third"  # 1 / STANDS_OUT in words


def sink_heads(ctx) -> dict:
    """How many heads rest their attention on the first token: a head counts when, averaged over the
    queries after the first (the first query can attend only to itself, so it is left out), at least
    SINK of its attention goes to position 0."""
    t, L = ctx.trace, ctx.dims.n_layers
    pattern = np.stack([t[f"blocks.{l}.attn.hook_pattern"] for l in range(L)]).astype(np.float64)  # (L, H, q, k)
    n_heads = pattern.shape[0] * pattern.shape[1]
    if pattern.shape[2] < 2:
        return {"sink_threshold": SINK, "n_sink_heads": 0, "n_heads_all": n_heads, "sink_best": None,
                "sink_best_share": None, "sink_note": "The prompt has a single position, so no head has a choice.",
                "sink_rule": ""}
    share = pattern[:, :, 1:, 0].mean(-1)  # (L, H) mean attention on position 0 from queries 1..
    k = int((share >= SINK).sum())
    best = np.unravel_index(np.argmax(share), share.shape)
    if k:
        note = (f"The first token is where attention rests: {k} of the {n_heads} heads {'puts' if k == 1 else 'put'} "
                f"most of {'its' if k == 1 else 'their'} attention on it.")
    else:
        note = (f"No head puts most of its attention on the first token; the most any head gives it is "
                f"{share[best]:.0%}, by {head_label(*best)}.")
    rule = (f"A head counts as putting most of its attention on the first token when, averaged over the queries "
            f"after the first (the first query can attend only to itself), at least {SINK:.0%} of its attention "
            "goes to position 0.")
    return {"sink_threshold": SINK, "n_sink_heads": k, "n_heads_all": n_heads, "sink_best": head_label(*best),
            "sink_best_share": round(float(share[best]), 4), "sink_note": note, "sink_rule": rule}


# --- figures -----------------------------------------------------------------------------------------


@figure("residual-stream.norms", section="residual-stream", title="The residual stream grows",
        caption="Length of each position's residual vector before and after every sublayer.")
def norms(ctx) -> Figure:
    names, n = ctx.analysis(stages)  # n: (stage, pos)
    labels = token_labels(ctx)
    S, P = n.shape
    rows = [{"stage": names[s], "index": s, "position": p, "token": labels[p], "norm": round(float(n[s, p]), 4)}
            for p in range(P) for s in range(S)]
    log = bool(n.max() / max(n.min(), 1e-12) > LOG_RATIO)
    pick = alt.selection_point(name="pick", fields=["token"], bind="legend")
    chart = (
        alt.Chart(alt.Data(values=rows))
        .mark_line(point=True, strokeWidth=1.8)
        .encode(
            x=alt.X("stage:N", sort=names, title="stage (pre: before attention; mid: after attention, before MLP)",
                    axis=alt.Axis(labelAngle=-45, labelOverlap="greedy")),
            y=alt.Y("norm:Q", title="length (L2 norm)" + (", log scale" if log else ""),
                    scale=alt.Scale(type="log" if log else "linear")),
            color=alt.Color("token:N", sort=labels, title="position (click to highlight)",
                            scale=alt.Scale(scheme="tableau20" if P > 10 else "tableau10")),
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.15)),
            tooltip=[alt.Tooltip("token:N", title="position"), alt.Tooltip("stage:N"),
                     alt.Tooltip("norm:Q", format=".2f", title="length")])
        .add_params(pick)
        # At most ~470 px of plot: with the legend the chart stays in the column; at GPT-2's 37 stages
        # the axis labels thin themselves out (labelOverlap) instead of shrinking.
        .properties(width=min(470, max(320, 26 * S)), height=280, title="Residual vector length at every stage")
    )
    final = n[-1]
    rest = final[1:] if P > 1 else final
    median = float(np.median(rest))
    ratio = float(final[0] / max(median, 1e-12))
    growth = float(rest.mean() / max(n[0, 1:].mean() if P > 1 else n[0].mean(), 1e-12))
    note, also = first_position_note(final, ctx.token_strs())
    sink = ctx.analysis(sink_heads)
    return Figure(
        data={"stages": names, "norms": rounded(n.T), "n_stages": S, "log_scale": log,
              "final_norms": rounded(final), "first_over_median": round(ratio, 4),
              "rest_median_norm": round(median, 4), "stands_out_threshold": STANDS_OUT,
              "first_stands_out": bool(P > 1 and (ratio >= STANDS_OUT or ratio <= 1 / STANDS_OUT)),
              "also_over_threshold": also, "first_note": note, "first_rule": stands_out_rule(),
              "growth_rest": round(growth, 4), **sink,
              "input_mean_norm": round(float(n[0].mean()), 4), "final_mean_norm": round(float(final.mean()), 4),
              "final_rest_mean_norm": round(float(rest.mean()), 4)},
        alt=f"Line chart, one line per position ({P}), of the residual vector's length at {S} stages from the "
            f"first layer's input to the last layer's output. {note} The other positions grow {growth:.1f}-fold "
            "on average.",
        caption=("Every sublayer adds to the vectors, and they get longer." if growth >= 2 else
                 "The residual vectors change length little from the input to the last layer.")
                + " Stages: each layer's input (pre), after its attention (mid), and after the last MLP (post)."
                + (" The vertical axis is logarithmic." if log else "")
                + " Click a position in the legend to highlight its line; hover a point for its value.",
        chart=chart,
    )


@figure("residual-stream.writers", section="residual-stream", title="Who wrote the prediction",
        caption="The writers into the last position's residual stream with the largest direct effect on the "
                "predicted token's logit.")
def writers(ctx) -> Figure:
    a = ctx.analysis(final_attribution)
    attr = a["attr"]
    ranked = ctx.analysis(_ranked)
    top = ranked[:TOP]
    shown = sorted(top, key=lambda r: (-r["value"], r["order"]))  # positive at the top, negative at the bottom
    rows = [{"label": r["label"], "kind": KIND_NAMES[r["kind"]], "value": round(r["value"], 4), "rank": i}
            for i, r in enumerate(shown)]
    # The legend lists only the kinds that have a bar; the others are named in the caption.
    present = [k for k in KIND_COLOURS if any(r["kind"] == k for r in top)]
    absent = [KIND_NAMES[k] for k in KIND_COLOURS if k not in present]
    kinds = [KIND_NAMES[k] for k in present]
    base = alt.Chart(alt.Data(values=rows)).encode(
        y=alt.Y("label:N", sort=[r["label"] for r in rows], title=None),
        x=alt.X("value:Q", title="direct contribution to the logit"))
    chart = (
        base.mark_bar().encode(
            color=alt.Color("kind:N", title="writer", scale=alt.Scale(domain=kinds, range=[KIND_COLOURS[k] for k in present])),
            tooltip=[alt.Tooltip("label:N", title="writer"), alt.Tooltip("kind:N"),
                     alt.Tooltip("value:Q", format="+.3f", title="contribution")])
        + alt.Chart(alt.Data(values=[{"x": 0}])).mark_rule(color=style.RESIDUAL).encode(x="x:Q")
    ).properties(width=420, height=max(160, 18 * len(rows)),
                 title=alt.Title(f"Direct contributions to the logit of {ctx.token_str(a['token'])!r}",
                                 subtitle=f"the {len(rows)} largest of {len(ranked)} terms, by size"))
    w, c = a["writers"], attr.contributions
    kinds_arr = np.asarray(w.kinds)
    by_kind = {k: round(float(c[kinds_arr == k].sum()), 4) for k in attribution.KINDS}
    error = abs(attr.total - a["logit"])
    pos_top = [r for r in ranked if r["value"] > 0][:1]
    neg_top = [r for r in ranked if r["value"] < 0][:1]
    data = {"position": a["position"], "predicted_token": ctx.token_str(a["token"]), "predicted_id": a["token"],
            "logit": round(a["logit"], 4), "sum_of_terms": round(attr.total, 4),
            "reconstruction_error": sig(error, 3), "writers_sum_error": sig(a["writers_sum_error"], 3),
            "ln_scale": round(attr.scale, 4), "ln_bias": round(attr.ln_bias, 4), "n_writers": len(w.labels),
            "n_heads_total": int((kinds_arr == "head").sum()), "by_kind": by_kind,
            "top": [[r["label"], round(r["value"], 4)] for r in top],
            "kinds_shown": kinds, "kinds_not_shown": absent,
            "n_top": len(top), "n_terms": len(ranked),
            "top_positive": pos_top[0]["label"] if pos_top else "none",
            "top_positive_value": round(pos_top[0]["value"], 4) if pos_top else 0.0,
            "top_negative": neg_top[0]["label"] if neg_top else "none",
            "top_negative_value": round(neg_top[0]["value"], 4) if neg_top else 0.0,
            "top_share": round(float(sum(abs(r["value"]) for r in top) / max(sum(abs(r["value"]) for r in ranked),
                                                                             1e-12)), 4)}
    return Figure(
        data=data,
        alt=f"Horizontal bar chart of the {len(rows)} largest of {len(ranked)} direct contributions to the logit of "
            f"{data['predicted_token']!r} ({a['logit']:.2f}) at the last position; the largest positive is "
            f"{data['top_positive']}'s ({data['top_positive_value']:+.2f}), the largest negative "
            f"{data['top_negative']}'s ({data['top_negative_value']:+.2f}); all terms sum to the logit within "
            f"{error:.1e}",
        caption=f"Who pushed the prediction {data['predicted_token']} at the last position: "
                + (f"{data['top_positive']} most, " if pos_top else "")
                + f"out of {len(ranked)} terms that add up to its logit. Each bar is one writer's direct contribution, "
                "what it wrote into the stream as the final LayerNorm and the unembedding read it; the final "
                f"LayerNorm's β adds a term of its own. Shown: the {len(rows)} largest by size; colour gives the kind "
                "of writer" + (f" (no term of the {join_words(absent, 'or')} is among them)." if absent else "."),
        chart=chart,
    )


@figure("residual-stream.heads", section="residual-stream", title="Every head's direct contribution",
        caption="Each attention head's direct contribution to the predicted token's logit at the last position.")
def heads_figure(ctx) -> Figure:
    a = ctx.analysis(final_attribution)
    w, c = a["writers"], a["attr"].contributions
    L, H = ctx.dims.n_layers, ctx.dims.n_heads
    grid = np.zeros((L, H))
    is_head = np.asarray(w.kinds) == "head"
    grid[w.layers[is_head], w.heads[is_head]] = c[is_head]  # (layer, head)
    m = round(max(float(np.abs(grid).max()), 1e-4), 4)
    rows = [{"layer": l, "head": h, "label": head_label(l, h), "value": round(float(grid[l, h]), 4)}
            for l in range(L) for h in range(H)]
    base = alt.Chart(alt.Data(values=rows)).encode(
        x=alt.X("head:O", title="head", axis=alt.Axis(labelAngle=0)), y=alt.Y("layer:O", title="layer"))
    chart = base.mark_rect().encode(
        color=alt.Color("value:Q", title="contribution",
                        scale=alt.Scale(range=style.vega_range("diverging"), domain=[-m, m], domainMid=0),
                        legend=alt.Legend(format="+.1f")),
        tooltip=[alt.Tooltip("label:N", title="head"), alt.Tooltip("value:Q", format="+.3f", title="contribution")])
    if H <= 16:
        chart += cell_text(base, "value", "+.1f", "diverging", (-m, m))
    chart = chart.properties(width=max(260, 44 * H), height=max(140, 30 * L),
                             title=alt.Title("Direct contribution of each head",
                                             subtitle=f"to the logit of {ctx.token_str(a['token'])!r}, last position"))
    best = np.unravel_index(np.argmax(grid), grid.shape)
    worst = np.unravel_index(np.argmin(grid), grid.shape)
    layer_sums = grid.sum(1)
    return Figure(
        data={"n_heads_total": L * H, "contributions": rounded(grid), "layer_sums": rounded(layer_sums),
              "sum_heads": round(float(grid.sum()), 4), "max_head": head_label(*best),
              "max_value": round(float(grid[best]), 4), "min_head": head_label(*worst),
              "min_value": round(float(grid[worst]), 4),
              "n_over_one": int((np.abs(grid) > 1).sum()),
              "top_layer": int(np.argmax(np.abs(layer_sums)))},
        alt=f"Heatmap of {L} layers by {H} heads giving each head's direct contribution to the predicted token's "
            f"logit; most positive {head_label(*best)} ({grid[best]:+.2f}), most negative {head_label(*worst)} "
            f"({grid[worst]:+.2f}), all heads together {grid.sum():+.2f}",
        caption=f"Every head's own direct push on the prediction {ctx.token_str(a['token'])}: {head_label(*best)} raises "
                f"its logit most, {head_label(*worst)} lowers it most (red up, blue down). Hover a cell for its value.",
        chart=chart,
    )
