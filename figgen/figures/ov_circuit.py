"""The OV circuit: W_V and W_O only ever act as the product W_OV = W_V W_O.

Figures: a copying score for every head (the sign balance of its token-space OV circuit's
eigenvalues, computed through a d_head × d_head matrix instead of the vocabulary-sized one), the
eigenvalues of the heads with the highest and lowest scores, the highest-scoring head's W_OV and its rank, and the
tokens its OV circuit promotes for each token of the prompt.
"""

from __future__ import annotations

import altair as alt
import numpy as np
from matplotlib.figure import Figure as MplFigure
from matplotlib.patches import Circle

from ..analysis import circuits
from . import heads, style
from .heatmap import matrix_and_spectrum, spectrum_data
from .labels import SUPERSCRIPT, cell_ink, cell_text, head_label, rounded
from .registry import Figure, figure

TOP_K = 5
DECADES = 4  # orders of magnitude the eigenvalue plot spans from its centre to its edge


def _signed(x: float) -> str:
    """A score for a caption or title: a sign always, two decimals, a true minus ("+0.71", "−1.00")."""
    return f"{float(x):+.2f}".replace("-", "−")


def log_radius(lam: np.ndarray) -> np.ndarray:
    """Eigenvalues (n,) complex → same angles, radius 1 + log10(|λ| / max|λ|) / DECADES (clipped at 0),
    so small eigenvalues spread out instead of piling up at the origin and the sign stays visible."""
    mag = np.abs(lam)
    rel = mag / max(mag.max(initial=0.0), 1e-300)
    radius = np.clip(1 + np.log10(np.maximum(rel, 1e-300)) / DECADES, 0, 1)
    return np.where(mag > 0, lam / np.where(mag > 0, mag, 1) * radius, 0)


def copying(ctx) -> circuits.Copying:
    """Every head's token-space eigenvalues and copying score (LayerNorm γ folded in, centred)."""
    W = ctx.weights
    UE = circuits.unembed_embed(W["W_U"], W["W_E"], W["ln_final.w"])  # (d_model, d_model), once per build
    return circuits.copying(W, ctx.dims.n_layers, UE)


def _extremes(cp: circuits.Copying) -> tuple[tuple[int, int], tuple[int, int]]:
    worst = tuple(int(i) for i in np.unravel_index(np.argmin(cp.scores), cp.scores.shape))
    return cp.best, worst


@figure("ov-circuit.copying", section="ov-circuit", title="The copying score of every head",
        caption="Copying score of every head: the sum of its token-space OV circuit's eigenvalues divided by the "
                "sum of their absolute values (+1: all positive, the head copies; −1: all negative).")
def copying_figure(ctx) -> Figure:
    cp = ctx.analysis(copying)
    L, H = cp.scores.shape
    best, worst = _extremes(cp)
    rows = [{"layer": l, "head": h, "label": head_label(l, h), "score": round(float(cp.scores[l, h]), 4)}
            for l in range(L) for h in range(H)]
    base = alt.Chart(alt.Data(values=rows)).encode(x=alt.X("head:O", title="head", axis=alt.Axis(labelAngle=0)),
                                                   y=alt.Y("layer:O", title="layer"))
    chart = (
        base.mark_rect().encode(
            color=alt.Color("score:Q", scale=alt.Scale(range=style.vega_range("diverging"), domain=[-1, 1], domainMid=0),
                            title="copying score"),
            tooltip=[alt.Tooltip("label:N", title="head"), alt.Tooltip("score:Q", format=".3f")])
        + cell_text(base, "score", ".2f", "diverging", (-1.0, 1.0))
    ).properties(width=max(200, 36 * H), height=max(120, 26 * L))
    n_pos = int((cp.scores > 0).sum())
    return Figure(
        data={"scores": rounded(cp.scores), "best_head": head_label(*best),
              "best_score": round(float(cp.scores[best]), 4), "worst_head": head_label(*worst),
              "worst_score": round(float(cp.scores[worst]), 4), "n_heads": L * H, "n_positive": n_pos,
              "n_above_half": int((cp.scores > 0.5).sum()), "d_head": ctx.dims.d_head,
              "d_vocab": ctx.dims.d_vocab},
        alt=f"Heatmap of copying scores for all {L * H} heads ({L} layers × {H} heads) on a scale from −1 to +1; "
            f"{n_pos} are positive; the highest is {head_label(*best)} ({_signed(cp.scores[best])}), the lowest "
            f"{head_label(*worst)} ({_signed(cp.scores[worst])})",
        caption=f"Which heads copy: {n_pos} of the {L * H} heads have a positive copying score, {head_label(*best)} the "
                f"highest ({_signed(cp.scores[best])}). The score is the sum of the eigenvalues of a head's OV circuit "
                "in token space over the sum of their sizes: +1 when all are positive (the head copies), −1 when all "
                "are negative.",
        chart=chart,
    )


@figure("ov-circuit.eigenvalues", section="ov-circuit", title="Eigenvalues of two OV circuits",
        caption="The eigenvalues of the token-space OV circuit of the heads with the highest and the lowest copying "
                "score in the complex plane, pink with positive, blue with negative real part. Angles are exact; distances "
                "from the centre are logarithmic: the edge is the largest magnitude, each ring a factor of 10 "
                "smaller.")
def eigenvalues(ctx) -> Figure:
    cp = ctx.analysis(copying)
    best, worst = _extremes(cp)
    fig = MplFigure(figsize=(heads.WIDTH_IN, 3.9), layout="constrained")
    axes = fig.subplots(1, 2)
    counts = {}
    for ax, (l, h) in zip(axes, (best, worst)):
        lam = cp.eigenvalues[l, h]
        counts[(l, h)] = int((lam.real > 0).sum())
        points = np.round(log_radius(lam), 4)
        for decade in range(1, DECADES):  # rings at 10⁻¹, 10⁻², … of the largest magnitude
            r = 1 - decade / DECADES
            ax.add_patch(Circle((0, 0), r, fill=False, color=style.muted(ctx.theme), linewidth=0.4))
            ax.annotate(f"10{str(-decade).translate(SUPERSCRIPT)}", (r * 0.71, r * 0.71),
                        color=style.muted(ctx.theme))
        ax.axhline(0, color=style.muted(ctx.theme), linewidth=0.6)
        ax.axvline(0, color=style.muted(ctx.theme), linewidth=0.6)
        colour = [style.OPERATION if r > 0 else style.MLP for r in lam.real]
        ax.scatter(points.real, points.imag, s=16, c=colour, linewidths=0)
        ax.set_xlim(-1.1, 1.1)
        ax.set_ylim(-1.1, 1.1)
        ax.set_aspect("equal")
        ax.set_xticks([])  # positions are log-scaled radii: only angles and rings carry values
        ax.set_yticks([])
        ax.set_xlabel("real part (− ← → +)")
        ax.set_ylabel("imaginary part")
        ax.set_title(f"{head_label(l, h)}: score {_signed(cp.scores[l, h])}\n{counts[(l, h)]} of {len(lam)} with "
                     "positive real part", loc="left")
    e = cp.eigenvalues.shape[-1]
    return Figure(
        data={"best_head": head_label(*best), "worst_head": head_label(*worst), "d_head": e,
              "best_n_positive": counts[best], "worst_n_positive": counts[worst]},
        alt=f"Two scatter plots of {e} eigenvalues each in the complex plane: {head_label(*best)} has "
            f"{counts[best]} with positive real part, {head_label(*worst)} has {counts[worst]}",
        caption=f"What the scores are made of: the {e} eigenvalues of the token-space OV circuit of {head_label(*best)}, "
                f"the highest score ({counts[best]} with positive real part, pink), and of {head_label(*worst)}, the "
                f"lowest ({counts[worst]}). Angles are exact; distances from the centre are logarithmic: the edge is "
                "the largest magnitude, each ring a factor of 10 smaller.",
        mpl=fig,
    )


@figure("ov-circuit.matrix", section="ov-circuit", title="The highest-scoring head's OV circuit and its rank",
        caption="Left: W_OV = W_V W_O of the head with the highest copying score. Right: its singular values; "
                "only the first d_head can be nonzero.")
def matrix(ctx) -> Figure:
    l, h = ctx.analysis(copying).best
    W = ctx.weights
    m = circuits.ov_matrix(W[f"blocks.{l}.attn.W_V"][h], W[f"blocks.{l}.attn.W_O"][h])  # (d_model, d_model)
    spec = circuits.spectrum(m)
    d, e = ctx.dims.d_model, ctx.dims.d_head
    label = head_label(l, h)
    fig, block = matrix_and_spectrum(m, spec, e, theme=ctx.theme, name=f"W_OV of {label}",
                                     xlabel="output component (written)", ylabel="input component (read)")
    data = {"head": label, "layer": l, "head_index": h, "block": block, **spectrum_data(spec, e, d)}
    return Figure(
        data=data,
        alt=f"Heatmap of the {d}×{d} matrix W_OV of head {label}, and a log-scale plot of its {d} singular values: "
            f"{spec.rank} are nonzero (d_head = {e}), the rest are {data['sigma_after']:.1e} or smaller",
        caption=f"A {d}×{d} matrix of rank {spec.rank}: left, W_OV = W_V W_O of {label}, the head with the highest "
                "copying score (" + (f"averaged over blocks of {block}×{block}; " if block > 1 else "")
                + f"colours clipped at the 99th percentile of |W_OV|); right, its singular values, of which only the "
                f"first d_head = {e} can be nonzero.",
        mpl=fig,
    )


@figure("ov-circuit.top-tokens", section="ov-circuit", title="What the highest-scoring head writes",
        caption="For each token of the prompt: the tokens whose logits the OV circuit of the head with the highest "
                "copying score raises most when it attends to that token.")
def top_tokens(ctx) -> Figure:
    l, h = ctx.analysis(copying).best
    unique = list(dict.fromkeys(ctx.trace.tokens.tolist()))
    ids, logits = circuits.ov_logits_top(ctx.weights, l, h, unique, k=TOP_K)  # (n, k) each
    rows, table, n_self = [], [], 0
    for src, r_ids, r_logits in zip(unique, ids, logits):
        token = ctx.token_str(src)
        top = [[ctx.token_str(i), round(float(v), 4)] for i, v in zip(r_ids, r_logits)]
        is_self = bool(src in r_ids.tolist())
        n_self += is_self
        table.append({"token": token, "top": top, "self_in_top": is_self})
        for rank, (name, v) in enumerate(top, start=1):
            rows.append({"token": token, "rank": rank, "promoted": name, "logit": v,
                         "self": int(r_ids[rank - 1] == src)})
    values = [r["logit"] for r in rows]
    domain = (min(0.0, min(values)), max(values))  # the colour scale, and the label inks' thresholds
    width = min(100, 520 // TOP_K)
    base = alt.Chart(alt.Data(values=rows)).encode(
        y=alt.Y("token:N", sort=None, title="prompt token (attended to)"),
        x=alt.X("rank:O", title="rank", axis=alt.Axis(labelAngle=0)),
        tooltip=[alt.Tooltip("token:N", title="attended token"), alt.Tooltip("promoted:N", title="promoted token"),
                 alt.Tooltip("logit:Q", format=".3f", title="logit (relative)")],
    )
    ink = cell_ink("logit", "magnitude", domain)
    chart = (
        base.mark_rect().encode(color=alt.Color("logit:Q", scale=alt.Scale(range=style.vega_range("magnitude"), domain=list(domain)),
                                                title="logit", legend=alt.Legend(orient="bottom")))
        + base.mark_text(fontSize=11, font="monospace", limit=width - 4).encode(text="promoted:N", color=ink)
        .transform_filter(alt.datum.self == 0)
        + base.mark_text(fontSize=11, font="monospace", fontWeight="bold", limit=width - 4)
        .encode(text="promoted:N", color=ink).transform_filter(alt.datum.self == 1)
    ).properties(width=width * TOP_K, height=26 * len(unique),
                 title=alt.Title(f"{head_label(l, h)}'s OV circuit, read out through the unembedding",
                                 subtitle="bold: the attended token itself" if n_self else
                                 "the attended token itself is in no row's top tokens"))
    first = table[min(1, len(table) - 1)]
    return Figure(
        data={"head": head_label(l, h), "k": TOP_K, "n_tokens": len(unique), "n_self": n_self, "top": table},
        alt=f"Table of the {TOP_K} tokens {head_label(l, h)}'s OV circuit promotes most for each of the prompt's "
            f"{len(unique)} distinct tokens; for {n_self} of them the token itself is among its own {TOP_K}; for "
            f"example {first['token']!r}: " + ", ".join(repr(n) for n, _ in first["top"]),
        caption=f"What {head_label(l, h)} would write on attending to each token of the prompt: the {TOP_K} tokens whose "
                "logits its OV circuit raises most"
                + (f"; the token itself is among them for {n_self} of the {len(unique)}." if n_self else
                   f"; for none of the {len(unique)} is the token itself among them."),
        chart=chart,
    )
