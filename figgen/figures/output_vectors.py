"""Output vectors: each head writes its own d_model vector into the residual stream.

Figures: one layer's per-head output vectors at the final position next to their sum; the lengths of
every head's output (layer × head, a position slider); W_O as a stack of per-head slices; and the
per-head sum recomputed next to the usual concatenate-then-project implementation (internal consistency).
"""

from __future__ import annotations

import altair as alt
import numpy as np
from matplotlib.figure import Figure as MplFigure

from ..analysis import circuits
from . import heads, style
from .heatmap import pool
from .labels import cell_text, head_label, rounded, sig, token_labels
from .registry import Figure, figure
from .vector import shown_note, strips

LAYER = 0  # the layer whose vectors are drawn (the check covers every layer)
MAX_ROWS = 256  # rows of the stacked W_O drawn; blocks never straddle two heads


def decompositions(ctx) -> list[circuits.HeadOutputs]:
    """Each layer's output recomputed from hook_z, per head and by concatenation."""
    return [circuits.head_outputs(ctx.trace[f"blocks.{l}.attn.hook_z"], ctx.weights[f"blocks.{l}.attn.W_O"],
                                  ctx.weights[f"blocks.{l}.attn.b_O"]) for l in range(ctx.dims.n_layers)]


def _norms(ctx) -> np.ndarray:
    """(n_layers, pos, n_heads) length of each head's output vector."""
    return np.stack([np.linalg.norm(ctx.trace[f"blocks.{l}.attn.hook_result"], axis=-1)
                     for l in range(ctx.dims.n_layers)])


@figure("output-vectors.strips", section="output-vectors", title="One layer's output vectors add up",
        caption="At the prompt's last position: the output vector of every head of one layer, the bias b_O, "
                "and their sum, the attention sublayer's output.")
def strip_figure(ctx) -> Figure:
    t, H = ctx.trace, ctx.dims.n_heads
    p = len(t.tokens) - 1
    result = t[f"blocks.{LAYER}.attn.hook_result"][p]  # (head, d_model)
    b_O = ctx.weights[f"blocks.{LAYER}.attn.b_O"]  # (d_model,)
    out = t[f"blocks.{LAYER}.hook_attn_out"][p]  # (d_model,)
    rows = np.concatenate([result, b_O[None], out[None]])  # (head + 2, d_model)
    labels = [head_label(LAYER, h) for h in range(H)] + ["b_O", "sum: attention output"]
    norms = np.linalg.norm(rows, axis=-1)
    largest = int(np.argmax(norms[:H]))
    d = ctx.dims.d_model
    return Figure(
        data={"layer": LAYER, "position": p, "token": ctx.token_str(t.tokens[p]), "n_heads": H,
              "head_norms": rounded(norms[:H]), "b_O_norm": round(float(norms[H]), 4),
              "attn_out_norm": round(float(norms[H + 1]), 4),
              "sum_of_norms": round(float(norms[:H + 1].sum()), 4), "largest_head": labels[largest],
              "largest_norm": round(float(norms[largest]), 4), "shown": min(d, 128), "d_model": d},
        alt=f"{H} strips for the output vectors of layer {LAYER}'s heads at position {p}, a strip for b_O and one "
            f"for their sum ({shown_note(d)}); the longest head output is {labels[largest]}'s "
            f"({norms[largest]:.2f}), the sum has length {norms[H + 1]:.2f}",
        caption=f"Layer {LAYER}'s attention output is nothing but a sum: at the prompt's last position ({p}), the "
                f"output vector of each of its {H} heads (z W_O for that head), the bias b_O, and their sum, what the "
                f"sublayer adds to the residual stream ({shown_note(d)}; one colour scale for all strips).",
        mpl=strips(rows, labels, theme=ctx.theme, norm=style.symmetric_norm(rows[:, :128])),
    )


@figure("output-vectors.norms", section="output-vectors", title="How much each head writes",
        caption="Length of every head's output vector at one position (slider; the last position by "
                "default), layer by head.")
def norms(ctx) -> Figure:
    t, L, H = ctx.trace, ctx.dims.n_layers, ctx.dims.n_heads
    n = ctx.analysis(_norms)  # (layer, pos, head)
    last = n.shape[1] - 1
    labels = token_labels(ctx)
    rows = [{"layer": l, "head": h, "position": p, "token": labels[p], "label": head_label(l, h),
             "norm": round(float(n[l, p, h]), 4)}
            for l in range(L) for p in range(n.shape[1]) for h in range(H)]
    top = float(n.max())  # one colour scale for every position: the slider compares like with like
    position = alt.param(name="position", value=last,
                         bind=alt.binding_range(min=0, max=last, step=1, name="position "))
    # The position labels travel as a param's JSON value (data, never spliced into the expression).
    names = alt.param(name="position_names", value=labels)
    base = (alt.Chart(alt.Data(values=rows))
            .transform_filter(alt.datum.position == position)
            .encode(x=alt.X("head:O", title="head", axis=alt.Axis(labelAngle=0)),
                    y=alt.Y("layer:O", title="layer")))
    chart = (
        base.mark_rect().encode(
            color=alt.Color("norm:Q", scale=alt.Scale(range=style.vega_range("magnitude"), domain=[0, top]), title="length"),
            tooltip=[alt.Tooltip("label:N", title="head"), alt.Tooltip("token:N", title="position"),
                     alt.Tooltip("norm:Q", format=".3f", title="length")])
        + cell_text(base, "norm", ".1f", "magnitude", (0.0, top))
    )
    title = alt.Title(alt.ExprRef(expr="'Output vector length per head at position ' + position_names[position]"),
                      subtitle="pick the position with the slider below the chart")
    chart = chart.add_params(position, names).properties(width=max(200, 34 * H), height=max(120, 26 * L),
                                                         title=title)
    final = n[:, last]  # (layer, head)
    big = np.unravel_index(np.argmax(final), final.shape)
    small = np.unravel_index(np.argmin(final), final.shape)
    return Figure(
        data={"position": last, "token": ctx.token_str(t.tokens[last]), "norms": rounded(final),
              "largest_head": head_label(*big), "largest_norm": round(float(final[big]), 4),
              "smallest_head": head_label(*small), "smallest_norm": round(float(final[small]), 4),
              "mean_norm": round(float(final.mean()), 4),
              "ratio": round(float(final[big] / max(final[small], 1e-12)), 4)},
        alt=f"Heatmap of the lengths of all {L * H} heads' output vectors ({L} layers × {H} heads) at position "
            f"{last}; the longest is {head_label(*big)}'s ({final[big]:.2f}), the shortest {head_label(*small)}'s "
            f"({final[small]:.2f}); a slider selects another position",
        caption=f"At the last position {head_label(*big)} writes the most: the length of every head's output vector at "
                "one position (the slider; the last position first), layer by head, on one colour scale for all "
                "positions.",
        chart=chart,
    )


@figure("output-vectors.w-o", section="output-vectors", title="W_O is a stack of per-head slices",
        caption="One layer's output matrix W_O, (heads · d_head) × d_model: head h owns rows h·d_head to "
                "(h+1)·d_head − 1 and multiplies only its own result vector.")
def w_o(ctx) -> Figure:
    W_O = ctx.weights[f"blocks.{LAYER}.attn.W_O"]  # (head, d_head, d_model)
    H, e, d = W_O.shape
    stacked = W_O.reshape(H * e, d)  # (head·d_head, d_model)
    block = -(-H * e // MAX_ROWS)
    while e % block:  # a block of rows must not mix two heads
        block += 1
    pooled, br, bc = pool(stacked, H * e // block, MAX_ROWS)
    fig = MplFigure(figsize=(heads.WIDTH_IN, 4.6), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(np.round(pooled, 4), cmap=style.cmap("diverging", ctx.theme),
                      norm=style.symmetric_norm(pooled, 0.99),
                      aspect="auto", interpolation="nearest", extent=(-0.5, d - 0.5, H * e - 0.5, -0.5))
    for h in range(1, H):
        ax.axhline(h * e - 0.5, color=style.ink(ctx.theme), linewidth=0.8)
    ax.set_yticks([h * e + e / 2 - 0.5 for h in range(H)], [head_label(LAYER, h) for h in range(H)])
    ax.set_xlabel("d_model component (the residual stream)")
    ax.set_ylabel(f"rows: {H} slices of d_head = {e}")
    bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    bar.outline.set_visible(False)
    bar.set_label("weight")
    slice_norms = np.linalg.norm(W_O.reshape(H, -1), axis=-1)  # (head,) Frobenius norm of each slice
    pooled_note = f" Shown averaged over blocks of {br} rows × {bc} columns." if br * bc > 1 else ""
    return Figure(
        data={"layer": LAYER, "n_heads": H, "d_head": e, "d_model": d, "rows": H * e, "block_rows": br,
              "block_cols": bc, "slice_norms": rounded(slice_norms)},
        alt=f"Heatmap of layer {LAYER}'s W_O, {H * e} rows by {d} columns, split by lines into {H} slices of "
            f"{e} rows, one per head",
        caption=f"One matrix, {H} heads' slices: layer {LAYER}'s output matrix W_O, ({H} · {e}) × {d}, in which head h "
                f"owns rows h·{e} to (h+1)·{e} − 1 and multiplies only its own result vector. Colours clipped at the "
                f"99th percentile of |W_O|.{pooled_note}",
        mpl=fig,
    )


@figure("output-vectors.check", section="output-vectors", title="Concatenate-then-project equals sum-of-heads",
        caption="The attention output at the last position computed three ways, and the difference between the "
                "first two, on one colour scale.")
def check(ctx) -> Figure:
    t, L = ctx.trace, ctx.dims.n_layers
    dec = ctx.analysis(decompositions)
    diffs = {"concat_vs_sum": 0.0, "sum_vs_attn_out": 0.0, "concat_vs_attn_out": 0.0, "result_vs_trace": 0.0}
    biggest = 0.0
    for l, o in enumerate(dec):
        attn_out = t[f"blocks.{l}.hook_attn_out"]  # (pos, d_model)
        pairs = {"concat_vs_sum": (o.concatenated, o.summed), "sum_vs_attn_out": (o.summed, attn_out),
                 "concat_vs_attn_out": (o.concatenated, attn_out),
                 "result_vs_trace": (o.per_head, t[f"blocks.{l}.attn.hook_result"])}
        for k, (a, b) in pairs.items():
            diffs[k] = max(diffs[k], float(np.abs(a - b).max()))
        biggest = max(biggest, float(np.abs(attn_out).max()))
    p = len(t.tokens) - 1
    o = dec[LAYER]
    rows = np.stack([o.concatenated[p], o.summed[p], t[f"blocks.{LAYER}.hook_attn_out"][p],
                     o.concatenated[p] - o.summed[p]])  # (4, d_model)
    labels = ["concatenated z · W_O + b_O", "Σ over heads of zʰ W_Oʰ + b_O", "attention output (trace)",
              "difference (1st − 2nd)"]
    H, e = ctx.dims.n_heads, ctx.dims.d_head
    return Figure(
        data={"layer": LAYER, "position": p, "n_layers": L, "n_heads": H, "d_head": e, "concat_width": H * e,
              "max_abs_attn_out": round(biggest, 4), **{f"max_diff_{k}": sig(v, 3) for k, v in diffs.items()}},
        alt=f"Four strips at position {p} of layer {LAYER}: concatenate-then-project, sum of per-head outputs, the "
            f"traced attention output, and the difference of the first two, which is blank",
        caption=f"Two orders, one vector: layer {LAYER}'s attention output at the last position ({p}) computed by "
                f"concatenating the {H} heads' result vectors into one {H * e}-wide vector and multiplying by the "
                "whole W_O, by adding the heads' own output vectors, and as recorded in the trace. The last strip is "
                f"the difference of the first two, on the same colour scale ({shown_note(ctx.dims.d_model)}).",
        mpl=strips(rows, labels, theme=ctx.theme, norm=style.symmetric_norm(rows[:3, :128])),
    )
