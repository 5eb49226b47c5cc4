"""The QK circuit: W_Q and W_K only ever act as the product W_QK = W_Q W_Kᵀ (the biases aside).

Figures: one head's W_QK and its singular values (rank ≤ d_head), the positional part of a layer-0
head's QK circuit, and the prompt's scores recomputed with W_Q, b_Q and W_K, b_K rescaled in opposite
directions (unchanged) and with W_Q, b_Q alone rescaled (changed). The head is chosen from the prompt's
attention patterns: the one with the highest previous-token score (`attention.previous_share`); whether it
is a previous-token head is decided by `attention.PREVIOUS_TOKEN_THRESHOLD`.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure as MplFigure

from ..analysis import attention, circuits
from . import heads, style
from .heatmap import matrix_and_spectrum, spectrum_data
from .labels import SUPERSCRIPT, head_label, sig, token_labels
from .registry import Figure, figure

MAX_POSITIONS = 64  # positions shown in the positional QK circuit (GPT-2 has 1,024)


# --- drawing helpers of this page ----------------------------------------------------------------


def _tiny(x: float) -> str:
    """A rounding-sized number for a panel title: "2.1 × 10⁻⁶" (no e-notation), "0" for an exact zero."""
    if x == 0:
        return "0"
    k = int(np.floor(np.log10(abs(x))))
    return f"{x / 10.0 ** k:.1f} × 10{str(k).translate(SUPERSCRIPT)}"


def _masked(scores: np.ndarray) -> np.ndarray:
    """−inf (causally masked) → NaN: transparent, `heads.hatch_future` draws the mask."""
    return np.where(np.isfinite(scores), np.round(scores, 4), np.nan)


# --- choosing a head --------------------------------------------------------------------------------


def previous_token(ctx) -> np.ndarray:
    """(n_layers, n_heads) each head's previous-token score on this prompt: mean attention a query puts on
    the position just before it, queries from position 2 on (`attention.previous_share`)."""
    return np.stack([circuits.previous_token_scores(ctx.trace[f"blocks.{l}.attn.hook_pattern"])
                     for l in range(ctx.dims.n_layers)])


def chosen_head(ctx, layer: int | None = None) -> tuple[int, int]:
    """The head (of `layer`, or of any layer) with the highest previous-token score (ties: first)."""
    prev = ctx.analysis(previous_token)
    if layer is not None:
        return layer, int(np.argmax(prev[layer]))
    return tuple(int(i) for i in np.unravel_index(np.argmax(prev), prev.shape))


def head_data(ctx, layer: int | None = None) -> dict:
    """The chosen head as data: its previous-token score, the threshold, whether it passes, where its
    queries look most (the key with the highest mean attention, queries from position 2 on), and a verdict."""
    prev = ctx.analysis(previous_token)
    l, h = chosen_head(ctx, layer)
    threshold = attention.PREVIOUS_TOKEN_THRESHOLD
    score = float(prev[l, h])
    pattern = ctx.trace[f"blocks.{l}.attn.hook_pattern"][h].astype(np.float64)  # (query_pos, key_pos)
    on_keys = attention.mean_on_keys(pattern)  # (key_pos,)
    top = int(np.argmax(on_keys))
    label = head_label(l, h)
    scope = prev if layer is None else prev[layer:layer + 1]
    n_pass = int((scope > threshold).sum())
    where = "this model" if layer is None else f"layer {layer}"
    top_token = ctx.token_str(ctx.trace.tokens[top])
    if score > threshold:
        verdict = (f"{label} is a previous-token head: on average {score:.0%} of a query's attention goes to the "
                   "token just before it")
    else:
        verdict = (f"{where.capitalize()} has no previous-token head on this prompt. The best candidate, {label}, "
                   f"puts {score:.0%} of a query's attention on the previous token on average; the key it attends "
                   f"to most is position {top} ({top_token}, {on_keys[top]:.0%} of a query's attention on average)")
    short = (f"{score:.0%} of a query's attention on the previous token: a previous-token head" if score > threshold
             else f"{score:.0%} of a query's attention on the previous token: not a previous-token head")
    return {"head": label, "layer": l, "head_index": h, "prev_token_score": round(score, 4), "short_verdict": short,
            "prev_token_threshold": threshold, "is_previous_token_head": score > threshold,
            "n_previous_token_heads": n_pass, "top_key_position": top, "top_key_token": top_token,
            "top_key_share": round(float(on_keys[top]), 4), "verdict": verdict,
            "role": "the previous-token head" if score > threshold else
                    "the head with the highest previous-token score"}


def _weights(ctx, layer: int, head: int, *names: str) -> list[np.ndarray]:
    return [ctx.weights[f"blocks.{layer}.attn.{n}"][head] for n in names]


# --- figures -----------------------------------------------------------------------------------------


@figure("qk-circuit.matrix", section="qk-circuit", title="One head's QK circuit and its rank",
        caption="Left: W_QK = W_Q W_Kᵀ of the head with the highest previous-token score. Right: its "
                "singular values; only the first d_head can be nonzero.")
def matrix(ctx) -> Figure:
    hd = ctx.analysis(head_data)
    l, h, label = hd["layer"], hd["head_index"], hd["head"]
    W_Q, W_K = _weights(ctx, l, h, "W_Q", "W_K")
    m = circuits.qk_matrix(W_Q, W_K)  # (d_model, d_model)
    spec = circuits.spectrum(m)
    d, e = ctx.dims.d_model, ctx.dims.d_head
    fig, block = matrix_and_spectrum(m, spec, e, theme=ctx.theme, name=f"W_QK of {label}",
                                     xlabel="key-side component", ylabel="query-side component")
    data = {**hd, "block": block, **spectrum_data(spec, e, d)}
    return Figure(
        data=data,
        alt=f"Heatmap of the {d}×{d} matrix W_QK of head {label}, and a log-scale plot of its {d} singular "
            f"values: {spec.rank} are nonzero (d_head = {e}), the rest are {data['sigma_after']:.1e} or "
            f"smaller against a largest of {data['sigma_max']:.3g}",
        caption=f"A {d}×{d} matrix of rank {spec.rank}: left, W_QK = W_Q W_Kᵀ of {label}, {hd['role']} ("
                + (f"averaged over blocks of {block}×{block}; " if block > 1 else "")
                + f"colours clipped at the 99th percentile of |W_QK|); right, its singular values, of which only the "
                f"first d_head = {e} can be nonzero.",
        mpl=fig,
    )


@figure("qk-circuit.positional", section="qk-circuit", title="The positional part of a first-layer QK circuit",
        caption="Scores a layer-0 head gives each (query position, key position) pair when it sees only the "
                "positional embeddings.")
def positional(ctx) -> Figure:
    hd = ctx.analysis(head_data, 0)
    l, h, label = hd["layer"], hd["head_index"], hd["head"]
    n = min(MAX_POSITIONS, ctx.dims.n_ctx)
    W = ctx.weights
    x = circuits.layer_norm(W["W_pos"][:n], W["blocks.0.ln1.w"], W["blocks.0.ln1.b"],
                            getattr(ctx.model.cfg, "layer_norm_epsilon", 1e-5))  # (n, d_model)
    W_Q, b_Q, W_K, b_K = _weights(ctx, l, h, "W_Q", "b_Q", "W_K", "b_K")
    scores = circuits.attention_scores(x, W_Q, b_Q, W_K, b_K, heads.score_scale(ctx, l))  # (n, n), −inf above
    pattern = attention.softmax(scores)  # (n, n) softmax over keys, 0 where masked
    q = np.arange(1, n)
    argmax = np.argmax(np.where(np.isfinite(scores), scores, -np.inf), -1)
    prev_share = float(np.mean(argmax[q] == q - 1))
    self_share = float(np.mean(argmax[q] == q))
    prev_mean = float(pattern[q, q - 1].mean())

    fig = MplFigure(figsize=(heads.WIDTH_IN, 3.9), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    panels = [(_masked(scores), heads.diverging_cmap(ctx.theme),
               style.symmetric_norm(scores[np.isfinite(scores)], 0.99), "scores", "score"),
              (_masked(np.where(np.isfinite(scores), pattern, -np.inf)), heads.weight_cmap(ctx.theme),
               heads.WEIGHT_NORM, "softmax over keys", "attention weight")]
    for i, (ax, (img, cmap, norm, title, what)) in enumerate(zip(axes, panels)):
        image = ax.imshow(img, cmap=cmap, norm=norm, interpolation="nearest")
        heads.hatch_future(ax, n, ctx.theme, label=False)
        ax.set_xlabel("key position")
        if i == 0:
            ax.set_ylabel("query position")
        ax.set_title(f"{label}, positions 0–{n - 1}: {title}", loc="left")
        bar = fig.colorbar(image, ax=ax, orientation="horizontal", fraction=0.05, pad=0.02, aspect=25)
        bar.outline.set_visible(False)
        bar.set_label(what)
    return Figure(
        data={**hd, "n_positions": n, "n_ctx": ctx.dims.n_ctx,
              "argmax_prev_share": round(prev_share, 4), "argmax_self_share": round(self_share, 4),
              "prev_attention_mean": round(prev_mean, 4)},
        alt=f"Two triangular heatmaps over positions 0 to {n - 1} for head {label}: the scores computed from "
            f"positional embeddings alone, and their softmax. For {prev_share:.0%} of query positions the "
            f"highest score is the previous position, for {self_share:.0%} the position itself; on average "
            f"{prev_mean:.0%} of the attention goes to the previous position",
        caption=f"What {label} prefers by position alone: its scores for every pair of the first {n} positions "
                "computed from the positional embeddings only (each row of W_pos through layer 0's LayerNorm, as if "
                "the token embedding were zero, then W_Q, W_K and their biases). Left: the scores (colours clipped "
                "at their 99th percentile); right: their softmax. Hatched: future positions, masked.",
        mpl=fig,
    )


@figure("qk-circuit.scaling", section="qk-circuit", title="Only the product W_Q W_Kᵀ matters",
        caption="One head's attention scores on this prompt: as recorded, recomputed with W_Q and b_Q doubled and "
                "W_K and b_K halved, and with W_Q and b_Q doubled alone.")
def scaling(ctx) -> Figure:
    hd = ctx.analysis(head_data)
    l, h, label = hd["layer"], hd["head_index"], hd["head"]
    x = ctx.trace[f"blocks.{l}.ln1.hook_normalized"]  # (pos, d_model): what the head reads
    traced = ctx.trace[f"blocks.{l}.attn.hook_attn_scores"][h]  # (query_pos, key_pos)
    W_Q, b_Q, W_K, b_K = _weights(ctx, l, h, "W_Q", "b_Q", "W_K", "b_K")
    check = circuits.scaling_check(x, W_Q, b_Q, W_K, b_K, heads.score_scale(ctx, l), factor=2.0)
    diff = {name: circuits.max_abs_diff(getattr(check, name), traced)
            for name in ("original", "balanced", "rotated", "query_only")}
    finite = np.isfinite(traced)
    ratio = float(np.nanmedian(check.query_only[finite] / np.where(traced[finite] == 0, np.nan, traced[finite])))
    n_all = len(traced)
    m = heads.shown_positions(n_all)
    labels = token_labels(ctx)[:m]

    fig = MplFigure(figsize=(heads.WIDTH_IN, 0.17 * m + 3.0), layout="constrained")
    axes = fig.subplots(1, 3, sharey=True)
    norm = style.symmetric_norm(check.query_only[np.isfinite(check.query_only)])
    cmap = heads.diverging_cmap(ctx.theme)
    panels = [(traced, "as recorded"),
              (check.balanced, f"W_Q, b_Q ×2; W_K, b_K ×½\nunchanged (max |Δ| {_tiny(diff['balanced'])})"),
              (check.query_only, f"W_Q, b_Q ×2 only\nchanged (max |Δ| {diff['query_only']:.1f})")]
    step = max(1, -(-m // 12))
    ticks = list(range(0, m, step))
    for i, (ax, (s, title)) in enumerate(zip(axes, panels)):
        image = ax.imshow(_masked(np.asarray(s, np.float64)[:m, :m]), cmap=cmap, norm=norm, interpolation="nearest")
        heads.hatch_future(ax, m, ctx.theme, label=False)
        ax.set_title(title, loc="left")
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.set_xlabel("key position")
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
    axes[0].set_yticks(ticks, [labels[t] for t in ticks])
    axes[0].set_ylabel("query")
    bar = fig.colorbar(image, ax=list(axes), orientation="horizontal", fraction=0.05, pad=0.02, aspect=40)
    bar.outline.set_visible(False)
    bar.set_label(f"score of {label} (one scale for the three panels)")
    return Figure(
        data={**hd, "factor": check.factor,
              "max_abs_score": round(float(np.abs(traced[finite]).max()), 4),
              "max_abs_diff_recomputed": sig(diff["original"], 3), "max_abs_diff_balanced": sig(diff["balanced"], 3),
              "max_abs_diff_rotated": sig(diff["rotated"], 3), "max_abs_diff_query_only": round(diff["query_only"], 4),
              "query_only_ratio": round(ratio, 4)},
        alt=f"Three triangular heatmaps of head {label}'s scores over the prompt's {n_all} tokens. With "
            f"W_Q and b_Q doubled and W_K and b_K halved the scores differ from the recorded ones by at most "
            f"{diff['balanced']:.1e}; with W_Q and b_Q doubled alone they differ by up to {diff['query_only']:.2f}, "
            f"about {ratio:.2f} times the recorded scores",
        caption=f"Doubling the query side and halving the key side leaves {label}'s scores as they were; doubling "
                "the query side alone does not. Its scores on this prompt (query down, key across; hatched: masked) "
                "as recorded in the trace, recomputed with W_Q and its bias b_Q doubled and W_K and b_K halved, and "
                "with W_Q and b_Q doubled alone. One colour scale for the three." + heads.positions_note(n_all),
        mpl=fig,
    )
