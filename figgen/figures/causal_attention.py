"""Causal attention: one head's scaled scores q·k/√d_head before the softmax, with the causal mask drawn,
next to the pattern the softmax makes of them; recomputes the trace's scores as q·kᵀ/√d_head (internal
consistency)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure as MplFigure

from ..analysis import attention
from . import heads, style
from .labels import token_labels
from .registry import Figure, figure

ANNOTATE_MAX = 12  # write the numbers into the cells for prompts up to this many tokens


def _scores_check(ctx) -> tuple[float, float]:
    """Max |recomputed − traced| over every head of every layer: scores from q, k; pattern from scores."""
    t = ctx.trace
    s_diff, p_diff = 0.0, 0.0
    for l in range(ctx.dims.n_layers):
        p = f"blocks.{l}.attn."
        s = attention.scores(t[p + "hook_q"], t[p + "hook_k"], heads.score_scale(ctx, l))
        s_diff = max(s_diff, heads.check(s, t[p + "hook_attn_scores"]))
        p_diff = max(p_diff, heads.check(attention.softmax(t[p + "hook_attn_scores"]), t[p + "hook_pattern"]))
    return s_diff, p_diff


@figure("causal-attention.scores", section="causal-attention", title="Scores, the causal mask, and the softmax",
        caption="One head's attention scores before the softmax, with the masked cells hatched, and the "
                "attention pattern the softmax turns them into.")
def scores_figure(ctx) -> Figure:
    ex = ctx.analysis(heads.focus_data)
    l, h = ex["layer"], ex["head_index"]
    t = ctx.trace
    traced = t[f"blocks.{l}.attn.hook_attn_scores"][h].astype(np.float64)  # (query_pos, key_pos), −inf masked
    pattern = t[f"blocks.{l}.attn.hook_pattern"][h].astype(np.float64)  # (query_pos, key_pos)
    scale = heads.score_scale(ctx, l)
    q, k = t[f"blocks.{l}.attn.hook_q"][:, h:h + 1], t[f"blocks.{l}.attn.hook_k"][:, h:h + 1]
    head_diff = heads.check(attention.scores(q, k, scale)[0], traced)
    all_diff, softmax_diff = ctx.analysis(_scores_check)

    n = len(traced)
    allowed = attention.causal_mask(n)
    finite = traced[allowed]
    m = heads.shown_positions(n)
    labels = token_labels(ctx)[:m]
    shown = heads.masked(traced[:m, :m], allowed[:m, :m])
    shown_p = heads.masked(pattern[:m, :m], allowed[:m, :m])
    score_norm = style.symmetric_norm(finite)

    # Side by side in the column: the grids share the query axis (token labels on the left one only) and
    # their colour bars lie underneath.
    fig = MplFigure(figsize=(heads.WIDTH_IN, 0.27 * m + 3.0), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    panels = [(shown, heads.diverging_cmap(ctx.theme), score_norm, "scores q·k/√d_head", ".1f",
               "score (before the softmax)"),
              (shown_p, heads.weight_cmap(ctx.theme), heads.WEIGHT_NORM, "softmax of each row", ".2f",
               "attention weight")]
    for i, (ax, (img, cmap, norm, title, fmt, what)) in enumerate(zip(axes, panels)):
        image = ax.imshow(img, cmap=cmap, norm=norm, interpolation="nearest")
        heads.hatch_future(ax, m, ctx.theme)
        heads.grid_labels(ax, labels, xlabel="key", ylabel="query" if i == 0 else "")
        if i:
            ax.tick_params(labelleft=False)
        if m <= ANNOTATE_MAX:
            heads.annotate_cells(ax, img, fmt, norm, cmap)
        ax.set_title(f"{ex['head']}: {title}", loc="left")
        for spine in ax.spines.values():
            spine.set_visible(False)
        bar = fig.colorbar(image, ax=ax, orientation="horizontal", fraction=0.05, pad=0.02, aspect=25)
        bar.outline.set_visible(False)
        bar.set_label(what)

    last = n - 1
    top = int(np.argmax(traced[last, : last + 1]))
    data = {**ex, "n_positions": n, "d_head": ctx.dims.d_head, "scale": round(scale, 6),
            "sqrt_d_head": round(float(np.sqrt(ctx.dims.d_head)), 4),
            "score_min": round(float(finite.min()), 4), "score_max": round(float(finite.max()), 4),
            "n_cells": n * n, "n_masked": int(n * n - allowed.sum()), "n_unmasked": int(allowed.sum()),
            "masked_share": round(float(1 - allowed.mean()), 4),
            "masked_weight_max": float(attention.above_diagonal_max(pattern)),
            "last_top_key_position": top, "last_top_key_token": ctx.token_str(t.tokens[top]),
            "last_top_score": round(float(traced[last, top]), 4),
            "last_top_weight": round(float(pattern[last, top]), 4),
            "max_abs_diff": head_diff, "max_abs_diff_all_heads": all_diff, "softmax_max_abs_diff": softmax_diff}
    return Figure(
        data=data,
        alt=f"Two {n}×{n} grids for head {ex['head']} with the prompt's tokens on both axes. Left: the scaled "
            f"scores, from {data['score_min']:.2f} to {data['score_max']:.2f} on and below the diagonal; the "
            f"{data['n_masked']} cells above it are hatched and marked masked. Right: the softmax of each row, "
            f"where those cells get weight 0",
        caption="Each query compares itself with its own key and the earlier ones, never the later ones; the "
                f"softmax turns each row into weights. Left: the scores of {heads.example_caption(ex)}, "
                "q·k/√d_head, query rows and key columns; hatched cells, keys after the query, are set to −∞. "
                "Right: the softmax of each row, the attention pattern, exactly 0 on masked cells."
                + heads.positions_note(n),
        mpl=fig,
    )
