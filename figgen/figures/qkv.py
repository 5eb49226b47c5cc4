"""Queries, keys and values: one head's W_Q, W_K, W_V (d_model × d_head each) and the q, k, v vectors
they make from every position, recomputed from the normalized stream and the weights (internal consistency)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure as MplFigure
from matplotlib.ticker import MaxNLocator

from ..analysis import attention
from . import heads, style
from .heatmap import MAX_PIXELS, pool
from .labels import rounded, token_labels
from .registry import Figure, figure

KINDS = ("Q", "K", "V")


def _example(ctx) -> tuple[int, int, dict]:
    d = ctx.analysis(heads.focus_data)
    return d["layer"], d["head_index"], d


@figure("qkv.weights", section="qkv", title="One head's query, key and value matrices",
        caption="W_Q, W_K and W_V of one head, with their bias vectors underneath.")
def weights(ctx) -> Figure:
    l, h, ex = _example(ctx)
    W = {x: ctx.weights[f"blocks.{l}.attn.W_{x}"][h] for x in KINDS}  # each (d_model, d_head)
    b = {x: ctx.weights[f"blocks.{l}.attn.b_{x}"][h] for x in KINDS}  # each (d_head,)
    d_model, d_head = W["Q"].shape
    H = ctx.dims.n_heads
    pooled = {x: pool(W[x], MAX_PIXELS, MAX_PIXELS) for x in KINDS}
    block = pooled["Q"][1]
    norm = style.symmetric_norm(np.concatenate([pooled[x][0].ravel() for x in KINDS]), 0.99)
    bias_norm = style.symmetric_norm(np.concatenate(list(b.values())))  # biases are often larger: own scale

    fig = MplFigure(figsize=(heads.WIDTH_IN, 5.2), layout="constrained")
    grid = fig.add_gridspec(2, 3, height_ratios=[24, 1])
    diverging = style.cmap("diverging", ctx.theme)
    mats = []
    for c, x in enumerate(KINDS):
        ax = fig.add_subplot(grid[0, c])
        image = ax.imshow(np.round(pooled[x][0], 4), cmap=diverging, norm=norm, aspect="auto",
                          interpolation="nearest", extent=(-0.5, d_head - 0.5, d_model - 0.5, -0.5))
        ax.set_title(f"W_{x}  ({d_model} × {d_head})", loc="left")
        ax.set_xticks([])
        if c == 0:
            ax.set_ylabel("residual stream component")
        else:
            ax.tick_params(labelleft=False)
        bias = fig.add_subplot(grid[1, c])
        heads.matrix_panel(bias, b[x][None], [f"b_{x}"], norm=bias_norm, theme=ctx.theme, title="",
                                        xlabel="head component", separators=False, cmap=diverging)
        mats.append(ax)
    bar = fig.colorbar(image, ax=mats, fraction=0.04, pad=0.02, aspect=30)
    bar.outline.set_visible(False)
    bar.set_label("weight")
    fro = {x: round(float(np.linalg.norm(W[x])), 4) for x in KINDS}
    pooled_note = f" Averaged over blocks of {block} rows to keep the image small." if block > 1 else ""
    return Figure(
        data={**ex, "d_model": d_model, "d_head": d_head, "shape": [d_model, d_head], "block_rows": block,
              "n_heads": H,
              # W_Q, W_K, W_V and b_Q, b_K, b_V: of one head, and of all the layer's heads (no W_O, no b_O) …
              "params_per_head": 3 * (d_model * d_head + d_head),
              "params_per_layer": 3 * H * (d_model * d_head + d_head),
              # … and the whole attention sublayer: those plus W_O (H·d_head × d_model) and b_O (d_model).
              "params_attention_sublayer": 3 * H * (d_model * d_head + d_head) + H * d_head * d_model + d_model,
              "norm_W_Q": fro["Q"], "norm_W_K": fro["K"], "norm_W_V": fro["V"]},
        alt=f"Three tall heatmaps, W_Q, W_K and W_V of head {ex['head']}, each {d_model} rows (residual stream "
            f"components) by {d_head} columns (head components), with their bias vectors below; Frobenius "
            f"norms {fro['Q']:.1f}, {fro['K']:.1f} and {fro['V']:.1f}",
        caption=f"What the example head, {ex['head']}, reads the stream with: its query, key and value matrices, each "
                f"turning the stream's {d_model} components (rows) into the head's {d_head} (columns), and below each "
                f"its bias. One colour scale for the three matrices (shown), another for the three biases "
                f"(±{bias_norm.vmax:.2f}).{pooled_note}",
        mpl=fig,
    )


@figure("qkv.vectors", section="qkv", title="Query, key and value vectors of every position",
        caption="The q, k and v vectors one head computes at each position of the prompt.")
def vectors(ctx) -> Figure:
    l, h, ex = _example(ctx)
    t = ctx.trace
    x = t[f"blocks.{l}.ln1.hook_normalized"]  # (pos, d_model): what every head of layer l reads
    traced = {k: t[f"blocks.{l}.attn.hook_{k.lower()}"] for k in KINDS}  # each (pos, head, d_head)
    # Recompute q, k, v of every head of every layer from the normalized stream and the weights.
    diffs = {k: [] for k in KINDS}
    for layer in range(ctx.dims.n_layers):
        xl = t[f"blocks.{layer}.ln1.hook_normalized"]
        for k in KINDS:
            W, b = ctx.weights[f"blocks.{layer}.attn.W_{k}"], ctx.weights[f"blocks.{layer}.attn.b_{k}"]
            diffs[k].append(heads.check(attention.project(xl, W, b), t[f"blocks.{layer}.attn.hook_{k.lower()}"]))
    head_diff = {k: heads.check(attention.project(x, ctx.weights[f"blocks.{l}.attn.W_{k}"][h:h + 1],
                                                   ctx.weights[f"blocks.{l}.attn.b_{k}"][h:h + 1])[:, 0],
                                 traced[k][:, h]) for k in KINDS}

    n, d_head = traced["Q"].shape[0], traced["Q"].shape[-1]
    n_shown = heads.shown_positions(n)
    labels = token_labels(ctx)[:n_shown]
    fig = MplFigure(figsize=(heads.WIDTH_IN, 0.22 * n_shown + 1.8), layout="constrained")
    axes = fig.subplots(1, 3)
    diverging = style.cmap("diverging", ctx.theme)
    for c, (ax, k) in enumerate(zip(axes, KINDS)):
        m = traced[k][:n_shown, h]  # (pos, d_head)
        image = heads.matrix_panel(ax, m, labels if c == 0 else None, norm=style.symmetric_norm(m),
                                   theme=ctx.theme, title=f"{k.lower()} = x W_{k} + b_{k}",
                                   xlabel=f"component (all {d_head})", cmap=diverging,
                                   separators=n_shown <= 16)
        if c == 0:
            ax.tick_params(axis="y", labelsize=8)
        bar = fig.colorbar(image, ax=ax, orientation="horizontal", fraction=0.08, pad=0.02, aspect=12)
        bar.outline.set_visible(False)
        bar.ax.xaxis.set_major_locator(MaxNLocator(3, symmetric=True))
    norms = {k: np.linalg.norm(traced[k][:, h], axis=-1) for k in KINDS}
    scale = max(float(np.abs(traced[k][:, h]).max()) for k in KINDS)  # the size the differences compare with
    return Figure(
        data={**ex, "n_positions": n, "d_head": d_head, "shape": [n, d_head],
              "q_max_abs_diff": head_diff["Q"], "k_max_abs_diff": head_diff["K"], "v_max_abs_diff": head_diff["V"],
              "max_abs_diff_all_heads": max(max(v) for v in diffs.values()), "max_abs_value": round(scale, 4),
              "q_norms": rounded(norms["Q"]), "k_norms": rounded(norms["K"]),
              "v_norms": rounded(norms["V"])},
        alt=f"Three blocks of strips for head {ex['head']}: its query, key and value vectors, one strip of "
            f"{d_head} cells per position for the prompt's {n} positions",
        caption=f"Every position gets its own query, key and value from {heads.example_caption(ex)}, made from that "
                f"position's vector alone: x W + b, one row per token ({d_head} components each; each block has its "
                "own colour scale)." + heads.positions_note(n),
        mpl=fig,
    )
