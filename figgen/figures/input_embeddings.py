"""Input embeddings: token embedding + positional embedding, position by position, and their lengths.

Figures: for each position the three strips W_E[t], W_pos[p] and their sum (which is the first
layer's resid_pre, recomputed as an internal-consistency check), and a chart of the three vectors' lengths per position.
"""

from __future__ import annotations

import altair as alt
import numpy as np

from . import style
from .labels import rounded, sig, token_labels
from .registry import Figure, figure
from .vector import SHOWN, shown_note, strips

MAX_POS = 12  # positions drawn as strips (three strips each); longer prompts show their first MAX_POS
PARTS = ("token embedding", "positional embedding", "input embedding")
SIMILAR = 1.5  # two average lengths within this factor of each other: "about as long as each other"


def _size_phrase(pos_over_token: float) -> str:
    """How the positional embeddings' average length compares with the token embeddings', in words: "about as long"
    within a factor of 1.5 either way, else how many times."""
    r = pos_over_token
    if 1 / SIMILAR <= r <= SIMILAR:
        return "On average the token and the positional embeddings are about as long as each other."
    if r < 1:
        return f"The token embeddings are on average {1 / r:.1f} times as long as the positional embeddings."
    return f"The positional embeddings are on average {r:.1f} times as long as the token embeddings."


def parts(ctx) -> np.ndarray:
    """(3, pos, d_model) float64: hook_embed (W_E[t]), hook_pos_embed (W_pos[p]) and their sum."""
    t = ctx.trace
    embed = np.asarray(t["hook_embed"], np.float64)
    pos = np.asarray(t["hook_pos_embed"], np.float64)
    return np.stack([embed, pos, embed + pos])


def checks(ctx) -> dict:
    """Internal consistency (recomputations from the trace's own vectors, not an independent check): the
    traced embeddings are the weight rows, and their sum is resid_pre of layer 0."""
    t, W = ctx.trace, ctx.weights
    n = len(t.tokens)
    embed, pos, total = ctx.analysis(parts)
    out = {"max_diff_sum_vs_resid_pre": sig(float(np.abs(total - t["blocks.0.hook_resid_pre"]).max()), 3),
           "max_diff_embed_vs_W_E": sig(float(np.abs(embed - W["W_E"][t.tokens]).max()), 3),
           "max_diff_pos_vs_W_pos": sig(float(np.abs(pos - W["W_pos"][:n]).max()), 3)}
    worst = max(out["max_diff_embed_vs_W_E"], out["max_diff_pos_vs_W_pos"])
    out["rows_note"] = ("are exactly the rows of W_E and W_pos for the prompt's tokens and positions" if worst == 0
                        else "match the rows of W_E and W_pos for the prompt's tokens and positions to within "
                             f"{worst:.1e}")
    return out


@figure("input-embeddings.strips", section="input-embeddings", title="Token + position = input embedding",
        caption="For each position: the token's row of W_E, the position's row of W_pos, and their sum.")
def strip_figure(ctx) -> Figure:
    t, d = ctx.trace, ctx.dims.d_model
    n_all = len(t.tokens)
    n = min(n_all, MAX_POS)
    stacked = ctx.analysis(parts)[:, :n]  # (3, pos, d_model)
    rows = stacked.transpose(1, 0, 2).reshape(3 * n, d)  # (pos·3, d_model): per position W_E, W_pos, sum
    labels = token_labels(ctx)
    names = []
    for p in range(n):
        names += [f"{labels[p]}  W_E[t]", f"W_pos[{p}]", "= input"]
    fig = strips(rows, names, theme=ctx.theme, norm=style.symmetric_norm(rows[:, :SHOWN], 0.99))
    ax = fig.axes[0]
    for y in np.arange(2.5, 3 * n - 1, 3):  # a wider gap between positions than between their strips
        ax.axhline(y, color=style.background(ctx.theme), linewidth=7)
    c = ctx.analysis(checks)
    more = f" Only the first {MAX_POS} of the prompt's {n_all} positions are drawn." if n_all > MAX_POS else ""
    return Figure(
        data={"n_positions": n_all, "shown_positions": n, "d_model": d, "shown": min(d, SHOWN), **c},
        alt=f"{3 * n} strips of coloured cells, three per position for {n} positions: the token embedding, the "
            f"positional embedding and their sum ({shown_note(d)}); the sum equals the first layer's residual "
            f"stream input to within {c['max_diff_sum_vs_resid_pre']:.1e}",
        caption="Token plus position, one group of strips per position: the third strip of each group is the sum "
                "of the first two, the vector the first layer reads. Nothing else happens here "
                f"({shown_note(d)}; one colour scale for all strips, clipped at the 99th percentile of |value|)." + more,
        mpl=fig,
    )


@figure("input-embeddings.norms", section="input-embeddings", title="How long each part is",
        caption="Length of the token embedding, the positional embedding and their sum at each position.")
def norms(ctx) -> Figure:
    vecs = ctx.analysis(parts)  # (3, pos, d_model)
    lengths = np.linalg.norm(vecs, axis=-1)  # (3, pos)
    labels = token_labels(ctx)
    n = lengths.shape[1]
    rows = [{"position": p, "token": labels[p], "vector": PARTS[k], "order": k, "norm": round(float(lengths[k, p]), 4)}
            for p in range(n) for k in range(3)]
    names = alt.param(name="position_names", value=labels)
    chart = (
        alt.Chart(alt.Data(values=rows))
        .mark_bar()
        .encode(
            x=alt.X("position:O", title="position",
                    axis=alt.Axis(labelExpr="position_names[datum.value]", labelAngle=-45, labelLimit=120)),
            xOffset=alt.XOffset("order:O"),
            y=alt.Y("norm:Q", title="length (L2 norm)"),
            color=alt.Color("vector:N", sort=list(PARTS), title=None,
                            scale=alt.Scale(domain=list(PARTS), range=[style.TOKENIZER, style.PARAMETER,
                                                                        style.RESIDUAL])),
            tooltip=[alt.Tooltip("token:N", title="position"), alt.Tooltip("vector:N"),
                     alt.Tooltip("norm:Q", format=".3f", title="length")])
        .add_params(names)
        .properties(width=max(240, 42 * n), height=220, title="Lengths of the three vectors at each position")
    )
    tok, pos, inp = lengths
    # Cosine of W_E[t] and W_pos[p]: near 0, the sum's length is close to √(|W_E[t]|² + |W_pos[p]|²).
    cosine = np.sum(vecs[0] * vecs[1], -1) / np.maximum(tok * pos, 1e-12)  # (pos,)
    later = slice(1, None) if n > 1 else slice(0, None)
    return Figure(
        data={"token_norms": rounded(tok), "pos_norms": rounded(pos), "input_norms": rounded(inp),
              "mean_token_norm": round(float(tok.mean()), 4), "mean_pos_norm": round(float(pos.mean()), 4),
              "mean_input_norm": round(float(inp.mean()), 4),
              "pos_norm_first": round(float(pos[0]), 4),
              "mean_pos_norm_later": round(float(pos[later].mean()), 4),
              "mean_pos_over_token": round(float(pos.mean() / max(tok.mean(), 1e-12)), 4),
              "similar_factor": SIMILAR,
              "cosines": rounded(cosine), "mean_abs_cosine": round(float(np.abs(cosine).mean()), 4),
              # E|cos| of two independent random directions in d dimensions ≈ √(2 / (π d)): the reference value.
              "random_abs_cosine": round(float(np.sqrt(2 / (np.pi * vecs.shape[-1]))), 4)},
        alt=f"Grouped bar chart of lengths at {n} positions: token embeddings average {tok.mean():.2f}, "
            f"positional embeddings {pos.mean():.2f} (position 0: {pos[0]:.2f}), their sums {inp.mean():.2f}",
        caption=f"{_size_phrase(float(pos.mean() / max(tok.mean(), 1e-12)))} Their sum, the input embedding, is "
                "shorter than the two lengths added: the two parts point in different directions. Hover a bar for "
                "its length.",
        chart=chart,
    )
