"""Result vectors (TransformerLens's hook_z, d_head): how one is built as the attention-weighted average of
value vectors, and every head's result vectors in one layer; recomputes z = pattern @ v for every head
(internal consistency)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure as MplFigure

from ..analysis import attention
from . import heads, style
from .labels import head_label, rounded, token_labels
from .registry import Figure, figure

COLUMNS = 4  # head panels per row


def _z_check(ctx) -> tuple[float, float]:
    """Over every layer: max |pattern @ v − z|, and the share of z components inside the values' range."""
    t = ctx.trace
    diff, inside = 0.0, []
    for l in range(ctx.dims.n_layers):
        p = f"blocks.{l}.attn."
        pattern, v, z = t[p + "hook_pattern"], t[p + "hook_v"], t[p + "hook_z"]
        diff = max(diff, heads.check(attention.weighted_values(pattern, v), z))
        inside.append(attention.inside_value_range(pattern, v, z))
    return diff, float(np.mean(inside))


@figure("result-vectors.weighted-sum", section="result-vectors", title="A result vector is a weighted average",
        caption="The value vectors of every position, each weighted by the attention the last position gives "
                "it, and their sum: the result vector z.")
def weighted_sum(ctx) -> Figure:
    ex = ctx.analysis(heads.focus_data)
    l, h, last = ex["layer"], ex["head_index"], ex["query_position"]
    t = ctx.trace
    v = t[f"blocks.{l}.attn.hook_v"][:, h].astype(np.float64)  # (pos, d_head)
    z = t[f"blocks.{l}.attn.hook_z"][last, h].astype(np.float64)  # (d_head,)
    a = t[f"blocks.{l}.attn.hook_pattern"][h, last].astype(np.float64)  # (key_pos,) the last query's weights
    n_shown = heads.shown_positions(len(a))
    labels = token_labels(ctx)[:n_shown]
    norm = style.symmetric_norm(np.concatenate([v[:n_shown].ravel(), z]))
    d_head = v.shape[-1]

    diverging = style.cmap("diverging", ctx.theme)
    fig = MplFigure(figsize=(heads.WIDTH_IN, 0.3 * n_shown + 2.2), layout="constrained")
    grid = fig.add_gridspec(2, 2, width_ratios=[1.3, 4], height_ratios=[n_shown, 1.6])
    bars, top, bottom = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1]), fig.add_subplot(grid[1, 1])
    bars.barh(range(n_shown), np.round(a[:n_shown], 4), color=style.ATTENTION, height=0.7)
    bars.set_ylim(n_shown - 0.5, -0.5)
    bars.set_xlim(1, 0)  # bars grow leftwards, away from the strips
    bars.set_yticks(range(n_shown), labels)
    bars.set_xticks([1, 0.5, 0], ["1", "0.5", "0"])
    bars.set_xlabel("weight")
    bars.spines[["left", "top"]].set_visible(False)
    bars.spines["right"].set_visible(True)
    bars.tick_params(length=0)
    inside_ink = style.label_colour(style.ATTENTION)
    for i, w in enumerate(np.round(a[:n_shown], 2)):  # the weight at the end of its bar (inside long bars)
        inside = w > 0.55
        bars.text(w - 0.03 if inside else w + 0.03, i, f"{w:.2f}", va="center", ha="left" if inside else "right",
                  fontsize=8, color=inside_ink if inside else style.muted(ctx.theme))
    image = heads.matrix_panel(top, v[:n_shown], None, norm=norm, theme=ctx.theme,
                               title=f"value vectors v of {ex['head']}, one per position", xlabel="",
                               cmap=diverging, separators=n_shown <= 16)
    top.set_xticks([])
    heads.matrix_panel(bottom, z[None], [f"z at {last}"], norm=norm, theme=ctx.theme,
                       title=f"weighted sum: the result vector z of position {last}",
                       xlabel=f"component (all {d_head})", separators=False, cmap=diverging)
    heads.colorbar(fig, image, [top, bottom])

    recomputed = a @ v  # (d_head,) Σ_j a_j v_j
    k = int(np.argmax(a))

    def cos(u: np.ndarray, w: np.ndarray) -> float:
        return float(u @ w / max(np.linalg.norm(u) * np.linalg.norm(w), 1e-12))

    v_norms = np.linalg.norm(v, axis=-1)
    data = {**ex, "d_head": d_head, "weights": rounded(a), "max_abs_diff": heads.check(recomputed, z),
            "weight_sum": round(float(a.sum()), 6), "z_norm": round(float(np.linalg.norm(z)), 4),
            "v_norms": rounded(v_norms), "v_norm_max": round(float(v_norms.max()), 4),
            "top_key_position": k, "top_key_token": ctx.token_str(t.tokens[k]), "top_weight": round(float(a[k]), 4),
            "cos_z_top_v": round(cos(z, v[k]), 4), "cos_z_key_v": round(cos(z, v[ex["key_position"]]), 4)}
    return Figure(
        data=data,
        alt=f"Bars of the {len(a)} attention weights of head {ex['head']}'s last query next to strips of the value "
            f"vectors they weight ({d_head} components each), and below them the result vector z. The largest weight, "
            f"{a[k]:.2f}, is on {data['top_key_token']!r}; z has cosine similarity {data['cos_z_top_v']:.2f} with that "
            "value vector",
        caption=f"At the last position ({last}, {ex['query_token']}), the example head {ex['head']} multiplies each "
                "position's value vector (one strip per position) by the attention weight on the left and adds them "
                "up; the weights sum to 1. One colour scale for all strips." + heads.positions_note(len(a)),
        mpl=fig,
    )


@figure("result-vectors.strips", section="result-vectors", title="Every head's result vectors in one layer",
        caption="The result vector z of every head of one layer at every position.")
def strips(ctx) -> Figure:
    ex = ctx.analysis(heads.focus_data)
    l, H = ex["layer"], ctx.dims.n_heads
    t = ctx.trace
    z = t[f"blocks.{l}.attn.hook_z"].astype(np.float64)  # (pos, head, d_head)
    v = t[f"blocks.{l}.attn.hook_v"].astype(np.float64)  # (pos, head, d_head)
    n, _, d_head = z.shape
    n_shown = heads.shown_positions(n)
    labels = token_labels(ctx)[:n_shown]
    norm = style.symmetric_norm(z[:n_shown], 0.99)
    cols = min(H, COLUMNS)
    rows = -(-H // cols)
    diverging = style.cmap("diverging", ctx.theme)
    fig = MplFigure(figsize=(heads.WIDTH_IN, rows * (0.17 * n_shown + 0.75) + 0.3), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        if i >= H:
            ax.set_visible(False)
            continue
        example = i == ex["head_index"]
        title = head_label(l, i) + (" (example)" if example else "")
        image = heads.matrix_panel(ax, z[:n_shown, i], labels if i % cols == 0 else None, norm=norm, theme=ctx.theme,
                                   title=title, xlabel=f"component (all {d_head})" if i // cols == rows - 1 else "",
                                   separators=n_shown <= 16, cmap=diverging)
        if example:
            ax.set_title(title, loc="left", fontsize=10, color=style.OPERATION, fontweight="bold")
    bar = heads.colorbar(fig, image, axes.ravel().tolist())
    bar.set_label("z component")
    z_norms = np.linalg.norm(z, axis=-1).T  # (head, pos)
    v_norms = np.linalg.norm(v, axis=-1).T  # (head, pos)
    diff, inside = ctx.analysis(_z_check)
    layer_diff = heads.check(attention.weighted_values(t[f"blocks.{l}.attn.hook_pattern"], v), z)
    longest = np.unravel_index(np.argmax(z_norms), z_norms.shape)
    data = {"layer": l, "n_heads": H, "n_positions": n, "d_head": d_head, "example_head": ex["head"],
            "z_norms": rounded(z_norms), "mean_z_norm": round(float(z_norms.mean()), 4),
            "mean_v_norm": round(float(v_norms.mean()), 4),
            "z_to_v_norm_ratio": round(float(z_norms.mean() / max(v_norms.mean(), 1e-12)), 4),
            "longest_head": head_label(l, int(longest[0])), "longest_position": int(longest[1]),
            "longest_token": ctx.token_str(t.tokens[int(longest[1])]),
            "longest_norm": round(float(z_norms[longest]), 4),
            "max_abs_diff": layer_diff, "max_abs_diff_all_layers": diff, "inside_value_range": round(inside, 6),
            "shape": [n, H, d_head]}
    return Figure(
        data=data,
        alt=f"{H} blocks of strips, one per head of layer {l}, each with one strip of {d_head} cells per position for "
            f"the prompt's {n} positions: the heads' result vectors z. Their mean length is "
            f"{data['mean_z_norm']:.2f}, against {data['mean_v_norm']:.2f} for the value vectors they average",
        caption=f"Each of layer {l}'s {H} heads hands on its own result vector at every position, one row per "
                f"position ({d_head} components each); the example head {ex['head']} is marked. One colour scale for "
                "all, clipped at the 99th percentile of |z| so that a few large components do not wash out the rest."
                + heads.positions_note(n),
        mpl=fig,
    )
