"""Attention heads: every head of one layer side by side (layer slider), with what it reads, where it
looks and what it produces, plus the per-head summary numbers the page quotes."""

from __future__ import annotations

import altair as alt
import numpy as np

from ..analysis import attention
from . import heads, style
from .labels import head_label, rounded, token_labels
from .registry import Figure, figure

NORM_ROWS = ["‖q‖", "‖k‖", "‖v‖", "‖z‖"]  # per-position lengths drawn under each pattern
COLUMNS = 4  # head panels per row


def _norms(ctx) -> np.ndarray:
    """(n_layers, n_heads, 4, pos) lengths of q, k, v and z of every head at every position."""
    t = ctx.trace
    per_layer = []
    for l in range(ctx.dims.n_layers):
        vecs = [t[f"blocks.{l}.attn.hook_{x}"] for x in "qkvz"]  # 4 × (pos, head, d_head)
        per_layer.append(np.stack([np.linalg.norm(v, axis=-1).T for v in vecs], axis=1))  # (head, 4, pos)
    return np.stack(per_layer)


@figure("attention-head.layer", section="attention-head", title="One layer's heads side by side",
        caption="Each panel is one head of the chosen layer.")
def layer_view(ctx) -> Figure:
    L, H = ctx.dims.n_layers, ctx.dims.n_heads
    n_all = len(ctx.trace.tokens)
    n = heads.shown_positions(n_all)
    s = ctx.analysis(heads.summary)
    norms = ctx.analysis(_norms)[..., :n]  # (layer, head, 4, n)
    packed = heads.packed_rows({"pattern": heads.flat_pattern(ctx.analysis(heads.patterns), n),
                                "norms": norms.reshape(L, H, 4 * n)}, n)
    for row in packed:  # the panel header says how much of the head's attention rests on the first token
        row["label"] = f"{row['label']} · {s.bos_share[row['l'], row['h']]:.0%} on first"

    labels = token_labels(ctx)[:n]
    row_names = labels + [""] + NORM_ROWS  # row n is an empty gap between the pattern and the lengths
    cell = max(6, min(16, 520 // (COLUMNS * n)))  # four panels and the row labels fit the column
    layer = alt.param(name="layer", value=0, bind=alt.binding_range(min=0, max=L - 1, step=1, name="layer "))
    names = heads.names_param("row_names", row_names)
    base = alt.Chart().encode(
        x=alt.X("x:O", title="position", scale=alt.Scale(domain=list(range(n))),
                axis=alt.Axis(ticks=False, labelAngle=0, values=_ticks(n))),
        y=alt.Y("r:O", title=None, scale=alt.Scale(domain=list(range(n + 1 + len(NORM_ROWS)))),
                axis=alt.Axis(labelExpr=heads.label_expr("row_names"), labelLimit=130, ticks=False)),
    )
    pattern = (base.transform_filter(heads.pattern_filter(n))
               .transform_calculate(query="row_names[datum.r]", key="row_names[datum.x]")
               .mark_rect()
               .encode(color=alt.Color("v:Q", scale=alt.Scale(range=style.vega_range("attention"), domain=[0, 1]),
                                       title="attention", legend=alt.Legend(gradientLength=90)),
                       tooltip=[alt.Tooltip("query:N"), alt.Tooltip("key:N"),
                                alt.Tooltip("v:Q", format=".3f", title="weight")]))
    mask = base.transform_filter(heads.mask_filter(n)).mark_rect(fill=heads.mask_fill())
    lengths = (base.transform_filter(f"datum.i >= {n * n}")
               .transform_calculate(what="row_names[datum.r]", position="row_names[datum.x]")
               .mark_rect()
               # `fill`, not `color`: a second scale shared by all panels (one legend), not one per panel.
               # Log scale: q and k are often several times longer than v and z, which would vanish on a
               # linear one.
               .encode(fill=alt.Fill("v:Q", scale=alt.Scale(type="log", range=style.vega_range("magnitude")), title="length",
                                     legend=alt.Legend(gradientLength=90)),
                       tooltip=[alt.Tooltip("what:N", title="vector"), alt.Tooltip("position:N"),
                                alt.Tooltip("v:Q", format=".3f", title="length")]))
    chart = (
        heads.unpack(alt.layer(pattern, mask, lengths)
                     .properties(width=cell * n, height=cell * (n + 1 + len(NORM_ROWS)))
                     .facet(facet=alt.Facet("label:N", title=None, sort=alt.SortField("h"),
                                            header=alt.Header(labelFontSize=11)),
                            columns=min(H, COLUMNS), data=alt.Data(values=packed), spacing=10)
                     .transform_filter(alt.datum.l == layer), n)
        .add_params(layer, names)
        .properties(title=alt.Title(alt.ExprRef(expr="'Layer ' + layer + ': each head reads, attends, writes'"),
                                    subtitle="pick the layer with the slider below the chart"))
        .configure_legend(orient="bottom", direction="horizontal")
    )

    bos, other, self_max, zn = s.bos_share, s.max_elsewhere, s.max_self, s.mean_z_norm  # (layer, head) each
    most = np.unravel_index(np.argmax(bos), bos.shape)
    least = np.unravel_index(np.argmin(bos), bos.shape)
    l0_most, l0_least, l0_sharp = int(np.argmax(bos[0])), int(np.argmin(bos[0])), int(np.argmax(other[0]))
    sink, sharp = attention.SINK_THRESHOLD, attention.SHARP_THRESHOLD
    data = {
        "n_layers": L, "n_heads": H, "n_positions": n_all, "layer": 0,
        "bos_share": rounded(bos), "max_elsewhere": rounded(other), "max_self": rounded(self_max),
        "mean_z_norm": rounded(zn),
        "layer0_most_bos_head": head_label(0, l0_most), "layer0_most_bos_share": round(float(bos[0, l0_most]), 4),
        "layer0_least_bos_head": head_label(0, l0_least), "layer0_least_bos_share": round(float(bos[0, l0_least]), 4),
        "layer0_sharpest_head": head_label(0, l0_sharp),
        "layer0_sharpest_weight": round(float(other[0, l0_sharp]), 4),
        "most_bos_head": head_label(*most), "most_bos_share": round(float(bos[most]), 4),
        "least_bos_head": head_label(*least), "least_bos_share": round(float(bos[least]), 4),
        "sink_threshold": sink, "sharp_threshold": sharp,
        "n_heads_mostly_bos": int((bos > sink).sum()), "n_heads_sharp": int((other > sharp).sum()),
        "n_heads_self": int((self_max > sharp).sum()), "n_heads_total": L * H,
    }
    return Figure(
        data=data,
        alt=f"{H} panels, one per head of the selected layer (layer 0 shown; a slider picks any of {L}): each "
            f"panel shows the head's attention pattern over the prompt's {n} positions and, below it, the "
            f"lengths of its query, key, value and result vectors at each position. In layer 0, "
            f"{data['layer0_most_bos_head']} puts {data['layer0_most_bos_share']:.0%} of its attention on the "
            f"first token on average, {data['layer0_least_bos_head']} {data['layer0_least_bos_share']:.0%}",
        caption="The heads of one layer read the same input and still look in different places. One panel per "
                "head of the layer picked with the slider (layer 0 first). Top, green: where the head looks, its "
                "attention pattern (query rows, key columns; hatched: the causal mask). Below, purple: the lengths "
                "of its query, key and value vectors and of its result vector z at each position (log scale). The "
                "panel title gives the head's mean attention on the first token." + heads.positions_note(n_all),
        chart=chart,
    )


def _ticks(n: int) -> list[int]:
    """Position ticks under a panel: every one up to 10 positions, else about 5."""
    step = 1 if n <= 10 else -(-n // 5)
    return list(range(0, n, step))
