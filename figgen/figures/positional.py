"""Positional embedding: W_pos as a whole, how positions resemble each other, and the rows used.

Only the model's context is drawn: the first `ctx.dims.n_ctx` rows of W_pos (all of them: a GPT-2's
W_pos has exactly one row per position it reads; mini's was cut to the 65 positions its training
used, see `figgen.mini.train.trained_context`).
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure as MplFigure

from ..analysis.vocab import unit_rows
from . import style
from .heatmap import MAX_PIXELS, pool
from .labels import token_labels
from .registry import Figure, figure
from .vector import strips

ALIKE = 0.5  # an average cosine of neighbouring rows at least this high: "neighbouring positions look alike"


def _num(x: float) -> str:
    """A cosine for a sentence: two decimals, a true minus sign."""
    return f"{x:.2f}".replace("-", "−")


def context_rows(ctx) -> np.ndarray:
    """(n_ctx, d_model) the rows of W_pos for the positions the model reads (never more than n_ctx)."""
    return ctx.weights["W_pos"][: ctx.dims.n_ctx]


def _heatmap(m: np.ndarray, *, theme: str, xlabel: str, ylabel: str, norm, extent, label: str) -> MplFigure:
    fig = MplFigure(figsize=(5.6, 4.2), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(np.round(m, 4), cmap=style.cmap("diverging", theme), norm=norm, aspect="auto",
                      interpolation="nearest", extent=extent)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    bar = fig.colorbar(image, ax=ax, fraction=0.05, pad=0.02)
    bar.outline.set_visible(False)
    bar.set_label(label)
    return fig


@figure("positional.heatmap", section="positional", title="The positional embedding matrix W_pos",
        caption="Every row of W_pos: one learned vector per position the model can read (rows) by "
                "component (columns).")
def heatmap(ctx) -> Figure:
    W = context_rows(ctx)  # (n_ctx, d_model)
    pooled, br, bc = pool(W, MAX_PIXELS, MAX_PIXELS)
    n_ctx, d = W.shape
    pooled_note = (f" Shown averaged over blocks of {br} positions × {bc} components to keep the image small."
                   if br * bc > 1 else "")
    fig = _heatmap(pooled, theme=ctx.theme, xlabel="component", ylabel="position",
                   norm=style.symmetric_norm(pooled, 0.99), extent=(-0.5, d - 0.5, n_ctx - 0.5, -0.5),
                   label="value (clipped at the 99th percentile of |value|)")
    norms = np.linalg.norm(W, axis=-1)
    short, long_ = int(np.argmin(norms)), int(np.argmax(norms))
    return Figure(
        data={"n_ctx": n_ctx, "n_rows": int(ctx.weights["W_pos"].shape[0]), "d_model": d,
              "block_rows": br, "block_cols": bc,
              "norm_first": round(float(norms[0]), 4), "norm_mean": round(float(norms.mean()), 4),
              "norm_median": round(float(np.median(norms)), 4),
              "norm_min": round(float(norms[short]), 4), "norm_min_position": short,
              "norm_max": round(float(norms[long_]), 4), "norm_max_position": long_,
              "last_position": n_ctx - 1},
        alt=f"Heatmap of W_pos, {n_ctx} positions by {d} components; row 0 has length {norms[0]:.2f}, "
            f"the average row {norms.mean():.2f}; the shortest is position {short} ({norms[short]:.2f}), the "
            f"longest position {long_} ({norms[long_]:.2f})",
        caption=f"The model's sense of place: one learned vector for each of the {n_ctx} positions it can read "
                f"(rows, positions 0 to {n_ctx - 1}), by component (columns). Colours clipped at the 99th percentile "
                "of |value|." + pooled_note,
        mpl=fig,
    )


@figure("positional.similarity", section="positional", title="How alike the positions are",
        caption="Cosine similarity between the positional embeddings of every pair of positions.")
def similarity(ctx) -> Figure:
    W = unit_rows(context_rows(ctx))  # (n_ctx, d_model)
    sim = W @ W.T  # (n_ctx, n_ctx)
    pooled, br, _ = pool(sim, MAX_PIXELS, MAX_PIXELS)
    n = len(sim)
    # Cosines are signed: a diverging scale with 0 (perpendicular) at the page's tone, ±1 at the ends.
    fig = _heatmap(pooled, theme=ctx.theme, xlabel="position", ylabel="position",
                   norm=TwoSlopeNorm(vcenter=0.0, vmin=-1.0, vmax=1.0), extent=(-0.5, n - 0.5, n - 0.5, -0.5),
                   label="cosine similarity")
    neighbour = float(np.mean(np.diag(sim, 1))) if n > 1 else 1.0
    far = float(np.mean(np.diag(sim, n // 2))) if n > 2 else neighbour
    alike = neighbour >= ALIKE and neighbour > far
    adjacent = np.diag(sim, 1) if n > 1 else np.ones(1)
    odd = int(np.argmin(adjacent))  # the least alike pair of neighbours: positions odd and odd + 1
    if alike:
        verdict = (f"Neighbouring positions look alike: the rows of neighbours have an average cosine similarity of "
                   f"{_num(neighbour)}, against {_num(far)} for rows half the context ({n // 2} positions) apart.")
    else:
        verdict = (f"Neighbouring positions do not clearly look alike here: the rows of neighbours have an average "
                   f"cosine similarity of {_num(neighbour)}, rows half the context ({n // 2} positions) apart "
                   f"{_num(far)}.")
    rule = (f"Neighbouring positions count as alike when the rows of neighbours average a cosine similarity of at "
            f"least {ALIKE} and more than rows half the context apart average.")
    return Figure(
        data={"n_ctx": n, "block": br, "adjacent_cosine": round(neighbour, 4), "half_context_cosine": round(far, 4),
              "half_context": n // 2, "alike_threshold": ALIKE, "neighbours_alike": bool(alike),
              "verdict": verdict, "alike_rule": rule, "min_cosine": round(float(sim.min()), 4),
              "least_alike_position": odd, "least_alike_next": odd + 1,
              "least_alike_cosine": round(float(adjacent[odd]), 4)},
        alt=f"Heatmap of cosine similarity between all {n} positions; neighbouring positions average "
            f"{neighbour:.2f}, positions {n // 2} apart average {far:.2f}",
        caption=("Nearby positions get similar vectors: the cosine similarity of two rows of W_pos is higher for "
                 "neighbours than for positions half the context apart" if alike else
                 "The cosine similarity of every pair of rows of W_pos: here neighbouring positions are not clearly "
                 "more alike than distant ones")
                + " (red: the same direction, blue: opposite, neutral: perpendicular"
                + (f"; averaged over blocks of {br} × {br} positions)." if br > 1 else ")."),
        mpl=fig,
    )


@figure("positional.rows", section="positional", title="The positional embeddings this prompt uses",
        caption="The rows of W_pos for the prompt's positions, added to the token embeddings.")
def rows(ctx) -> Figure:
    pos = ctx.trace["hook_pos_embed"]  # (pos, d_model)
    norms = np.linalg.norm(pos, axis=-1)
    return Figure(
        data={"n_positions": len(pos), "norms": np.round(norms, 4).tolist()},
        alt=f"{len(pos)} positional embedding vectors (positions 0 to {len(pos) - 1}) drawn as strips of "
            "coloured cells",
        caption="The rows of W_pos this prompt uses, one per position: each is added to the token embedding at "
                "its position, whatever the token is (one colour scale for all strips).",
        mpl=strips(pos, token_labels(ctx), theme=ctx.theme),
    )
