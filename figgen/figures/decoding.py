"""Decoding: the real next-token distribution under temperature, top-k and top-p.

The interactive chart recomputes the distribution in the browser with Vega-Lite transforms (no
server) over the likeliest N_SHIPPED tokens; figgen.analysis.decoding is the reference it follows.
"""

from __future__ import annotations

import altair as alt
import numpy as np
from matplotlib.figure import Figure as MplFigure

from ..analysis.decoding import entropy, sampling_distribution, settings, softmax
from . import style
from .axes import style_axes
from .labels import rounded
from .registry import Figure, figure

N_SHIPPED = 50  # tokens whose logits the interactive chart carries
N_SHOWN = 20  # bars drawn
GRID = [(1.0, None, 1.0), (0.5, None, 1.0), (2.0, None, 1.0), (1.0, 3, 1.0), (1.0, None, 0.9)]


def ranked(ctx, n: int = N_SHIPPED):
    """(ids, logits) of the n likeliest next tokens at the final position, likeliest first."""
    logits = ctx.trace["logits"][-1]
    order = np.lexsort((np.arange(len(logits)), -logits))[:n]
    return order, logits[order]


@figure("decoding.interactive", section="decoding", title="Temperature, top-k and top-p, live",
        caption="The next-token distribution after the prompt, recomputed as you move the sliders.")
def interactive(ctx) -> Figure:
    ids, logits = ctx.analysis(ranked)
    n = len(ids)
    full = softmax(ctx.trace["logits"][-1])
    mass = float(full[ids].sum())
    rows = [{"rank": r + 1, "token": ctx.token_str(i), "logit": rounded(lg)} for r, (i, lg) in enumerate(zip(ids, logits))]
    T = alt.param(name="temperature", value=1.0, bind=alt.binding_range(min=0.1, max=3, step=0.05, name="temperature "))
    k = alt.param(name="top_k", value=n, bind=alt.binding_range(min=1, max=n, step=1, name="top-k "))
    p = alt.param(name="top_p", value=1.0, bind=alt.binding_range(min=0.05, max=1, step=0.05, name="top-p "))
    d = alt.datum
    chart = (
        alt.Chart(alt.Data(values=rows))
        .transform_calculate(s=d.logit / T)
        .transform_joinaggregate(s_max="max(s)")
        .transform_calculate(e=alt.expr.exp(d.s - d.s_max))
        .transform_joinaggregate(Z="sum(e)")
        .transform_calculate(p_T=d.e / d.Z)  # softmax(logits / T) over the shipped tokens
        .transform_calculate(e_k=alt.expr.if_(d.rank <= k, d.p_T, 0))
        .transform_joinaggregate(Z_k="sum(e_k)")
        .transform_calculate(p_k=d.e_k / d.Z_k)  # top-k: keep the k likeliest, renormalise
        .transform_window(cum="sum(p_k)", sort=[alt.SortField("rank")], frame=[None, 0])
        .transform_calculate(kept=(d.rank <= k) & ((d.cum - d.p_k < p) | (d.rank == 1)))
        .transform_calculate(e_p=alt.expr.if_(d.kept, d.p_k, 0))
        .transform_joinaggregate(Z_p="sum(e_p)")
        .transform_calculate(probability=d.e_p / d.Z_p)  # top-p: the smallest set reaching p, renormalised
        .transform_filter(d.rank <= N_SHOWN)
        .mark_bar()
        .encode(
            x=alt.X("token:N", sort=alt.EncodingSortField("rank"), title=None,
                    axis=alt.Axis(labelAngle=-50, labelFont="monospace")),
            y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1]), title="probability of being sampled"),
            color=alt.condition("datum.kept", alt.value("#e7298a"), alt.value("#9e9e9e")),
            tooltip=["rank:O", "token:N", alt.Tooltip("logit:Q", format=".3f"),
                     alt.Tooltip("probability:Q", format=".4f"), alt.Tooltip("kept:N", title="can be sampled")],
        )
        .add_params(T, k, p)
        .properties(width=max(300, 24 * min(n, N_SHOWN)), height=260)
    )
    return Figure(
        data={"n_shipped": n, "n_shown": min(n, N_SHOWN), "shipped_mass": round(mass, 6)},
        alt=f"Bar chart of the probabilities of the {min(n, N_SHOWN)} likeliest next tokens, with sliders for "
            f"temperature, top-k and top-p; at the defaults (T = 1, no cut) the first is {rows[0]['token']!r}",
        caption=f"The next-token distribution after the prompt under the sliders' temperature, top-k and top-p; "
                f"pink bars can be sampled, grey ones are cut. Computed in your browser over the {n} likeliest "
                f"tokens, which hold {mass:.2%} of the probability at T = 1 (the rest of the vocabulary is left "
                "out, so the numbers are renormalised over these).",
        chart=chart,
    )


@figure("decoding.settings", section="decoding", title="Five ways to pick the next token",
        caption="The same logits under five decoding settings: how much probability each of the likeliest "
                "tokens gets.")
def five_settings(ctx) -> Figure:
    logits = ctx.trace["logits"][-1]
    sets = ctx.analysis(_settings)
    order = np.lexsort((np.arange(len(logits)), -logits))[:8]
    labels = [ctx.token_str(i) for i in order]
    fig = MplFigure(figsize=(10, 3.2), layout="constrained")
    axes = fig.subplots(1, len(sets), sharey=True)
    for ax, s in zip(axes, sets):
        probs = np.round(s.probs[order], 4)
        ax.barh(range(len(order)), probs, color=[style.OPERATION if q > 0 else style.RESIDUAL for q in probs])
        ax.set_title(f"{s.label}\n{s.support:,} token{'s' if s.support != 1 else ''} possible", fontsize=8)
        ax.set_xlim(0, 1)
        ax.set_xticks([0, 0.5, 1])
        style_axes(ax, ctx.theme)
    axes[0].set_yticks(range(len(order)), labels, fontfamily="monospace", fontsize=8)
    axes[0].invert_yaxis()
    base = sets[0].probs
    greedy = int(order[0])
    p09 = sampling_distribution(logits, 1.0, None, 0.9)
    return Figure(
        data={"greedy": ctx.token_str(greedy), "greedy_prob": rounded(base[greedy]),
              "entropy": round(entropy(base), 4), "nucleus_090": int((p09 > 0).sum()),
              "settings": [{"label": s.label, "support": s.support, "top_prob": rounded(s.probs[greedy]),
                            "entropy": round(entropy(s.probs), 4)} for s in sets]},
        alt=f"Five bar charts of the probability of the 8 likeliest tokens under {', '.join(s.label for s in sets)}; "
            f"the likeliest token {ctx.token_str(greedy)!r} gets "
            + ", ".join(f"{s.probs[greedy]:.1%}" for s in sets),
        mpl=fig,
    )


def _settings(ctx):
    return settings(ctx.trace["logits"][-1], GRID)
