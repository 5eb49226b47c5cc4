"""Positional embedding: W_pos as a whole, how positions resemble each other, and the rows used."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure as MplFigure

from ..analysis.vocab import unit_rows
from . import style
from .heatmap import MAX_PIXELS, pool
from .registry import Figure, figure
from .vector import strips


def _heatmap(m: np.ndarray, *, theme: str, xlabel: str, ylabel: str, norm, cmap, extent) -> MplFigure:
    fig = MplFigure(figsize=(6.4, 4.4))
    ax = fig.add_subplot()
    image = ax.imshow(np.round(m, 4), cmap=cmap, norm=norm, aspect="auto", interpolation="nearest",
                      extent=extent)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    bar.outline.set_visible(False)
    return fig


@figure("positional.heatmap", section="positional", title="The positional embedding matrix W_pos",
        caption="Every row of W_pos: one learned vector per position the model can read (rows) by "
                "component (columns).")
def heatmap(ctx) -> Figure:
    W = ctx.weights["W_pos"]  # (n_ctx, d_model)
    pooled, br, bc = pool(W, MAX_PIXELS, MAX_PIXELS)
    n_ctx, d = W.shape
    pooled_note = (f" Shown averaged over blocks of {br} positions × {bc} components to keep the image small."
                   if br * bc > 1 else "")
    fig = _heatmap(pooled, theme=ctx.theme, xlabel="component", ylabel="position",
                   norm=style.symmetric_norm(pooled, 0.99), cmap=style.DIVERGING,
                   extent=(-0.5, d - 0.5, n_ctx - 0.5, -0.5))
    norms = np.linalg.norm(W, axis=-1)
    return Figure(
        data={"n_ctx": n_ctx, "d_model": d, "block_rows": br, "block_cols": bc,
              "norm_first": round(float(norms[0]), 4), "norm_mean": round(float(norms.mean()), 4)},
        alt=f"Heatmap of W_pos, {n_ctx} positions by {d} components; row 0 has length {norms[0]:.2f}, "
            f"the average row {norms.mean():.2f}",
        caption="Every row of W_pos: one learned vector per position the model can read (rows) by "
                "component (columns)." + pooled_note,
        mpl=fig,
    )


@figure("positional.similarity", section="positional", title="How alike the positions are",
        caption="Cosine similarity between the positional embeddings of every pair of positions.")
def similarity(ctx) -> Figure:
    W = unit_rows(ctx.weights["W_pos"])  # (n_ctx, d_model)
    sim = W @ W.T  # (n_ctx, n_ctx)
    pooled, br, _ = pool(sim, MAX_PIXELS, MAX_PIXELS)
    n = len(sim)
    fig = _heatmap(pooled, theme=ctx.theme, xlabel="position", ylabel="position",
                   norm=style.symmetric_norm([1.0]), cmap=style.DIVERGING,
                   extent=(-0.5, n - 0.5, n - 0.5, -0.5))
    neighbour = float(np.mean(np.diag(sim, 1)))
    far = float(np.mean(np.diag(sim, n // 2))) if n > 2 else neighbour
    return Figure(
        data={"n_ctx": n, "block": br, "adjacent_cosine": round(neighbour, 4), "half_context_cosine": round(far, 4)},
        alt=f"Heatmap of cosine similarity between all {n} positions; neighbouring positions average "
            f"{neighbour:.2f}, positions {n // 2} apart average {far:.2f}",
        caption="Cosine similarity between the positional embeddings of every pair of positions"
                + (f" (averaged over blocks of {br} × {br} positions)." if br > 1 else "."),
        mpl=fig,
    )


@figure("positional.rows", section="positional", title="The positional embeddings this prompt uses",
        caption="The rows of W_pos for the prompt's positions, added to the token embeddings.")
def rows(ctx) -> Figure:
    t = ctx.trace
    pos = ctx.trace["hook_pos_embed"]  # (pos, d_model)
    labels = [f"{p}: {s}" for p, s in enumerate(t.display_tokens)]
    norms = np.linalg.norm(pos, axis=-1)
    return Figure(
        data={"n_positions": len(pos), "norms": np.round(norms, 4).tolist()},
        alt=f"{len(pos)} positional embedding vectors (positions 0 to {len(pos) - 1}) drawn as strips of "
            "coloured cells",
        mpl=strips(pos, labels, theme=ctx.theme),
    )
