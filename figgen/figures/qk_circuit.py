"""The QK circuit: W_Q and W_K only ever act as the product W_QK = W_Q W_Kᵀ.

Figures: one head's W_QK and its singular values (rank ≤ d_head), the positional part of a layer-0
head's QK circuit, and the check that rescaling W_Q and W_K in opposite directions leaves the
prompt's scores unchanged. The head is chosen from the prompt's attention patterns: the one that
attends most to the previous token.
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure as MplFigure

from ..analysis import circuits
from . import style
from .heads import score_scale
from .heatmap import matrix_and_spectrum, spectrum_data
from .labels import head_label, sig, token_labels
from .registry import Figure, figure

MAX_POSITIONS = 64  # positions shown in the positional QK circuit (GPT-2 has 1,024)
MAX_TICKS = 24  # token tick labels per axis; longer prompts label every n-th position


# --- drawing helpers of this page ----------------------------------------------------------------


def _tick_positions(n: int) -> list[int]:
    step = max(1, -(-n // MAX_TICKS))
    return list(range(0, n, step))


def _masked(scores: np.ndarray) -> np.ndarray:
    """−inf (causally masked) → NaN so imshow draws it in the colormap's 'bad' colour."""
    return np.where(np.isfinite(scores), np.round(scores, 4), np.nan)


def _cmap_with_mask(theme: str, name: str = style.DIVERGING):
    import matplotlib
    from matplotlib.colors import to_rgba

    # The masked (future) positions: visible, neutral.
    return matplotlib.colormaps[name].with_extremes(bad=to_rgba(style.muted(theme), 0.25))


# --- choosing a head --------------------------------------------------------------------------------


def previous_token(ctx) -> np.ndarray:
    """(n_layers, n_heads) mean attention each head pays to the previous token in this prompt."""
    return np.stack([circuits.previous_token_scores(ctx.trace[f"blocks.{l}.attn.hook_pattern"])
                     for l in range(ctx.dims.n_layers)])


def chosen_head(ctx, layer: int | None = None) -> tuple[int, int]:
    """The head (of `layer`, or of any layer) that attends most to the previous token (ties: first)."""
    prev = ctx.analysis(previous_token)
    if layer is not None:
        return layer, int(np.argmax(prev[layer]))
    return tuple(int(i) for i in np.unravel_index(np.argmax(prev), prev.shape))


def _weights(ctx, layer: int, head: int, *names: str) -> list[np.ndarray]:
    return [ctx.weights[f"blocks.{layer}.attn.{n}"][head] for n in names]


# --- figures -----------------------------------------------------------------------------------------


@figure("qk-circuit.matrix", section="qk-circuit", title="One head's QK circuit and its rank",
        caption="Left: W_QK = W_Q W_Kᵀ of the head that attends most to the previous token. Right: its "
                "singular values; only the first d_head can be nonzero.")
def matrix(ctx) -> Figure:
    l, h = chosen_head(ctx)
    W_Q, W_K = _weights(ctx, l, h, "W_Q", "W_K")
    m = circuits.qk_matrix(W_Q, W_K)  # (d_model, d_model)
    spec = circuits.spectrum(m)
    d, e = ctx.dims.d_model, ctx.dims.d_head
    label = head_label(l, h)
    fig, block = matrix_and_spectrum(m, spec, e, theme=ctx.theme, name=f"W_QK of {label}",
                                     xlabel="key-side component", ylabel="query-side component")
    data = {"head": label, "layer": l, "head_index": h, "block": block,
            "prev_token_score": round(float(ctx.analysis(previous_token)[l, h]), 4),
            **spectrum_data(spec, e, d)}
    return Figure(
        data=data,
        alt=f"Heatmap of the {d}×{d} matrix W_QK of head {label}, and a log-scale plot of its {d} singular "
            f"values: {spec.rank} are nonzero (d_head = {e}), the rest are {data['sigma_after']:.1e} or "
            f"smaller against a largest of {data['sigma_max']:.3g}",
        caption=f"Left: W_QK = W_Q W_Kᵀ of {label}, the head that attends most to the previous token in this "
                f"prompt ({d}×{d}" + (f", averaged over blocks of {block}×{block}" if block > 1 else "") +
                f"). Right: its singular values; only the first d_head = {e} can be nonzero.",
        mpl=fig,
    )


@figure("qk-circuit.positional", section="qk-circuit", title="The positional part of a first-layer QK circuit",
        caption="Scores a layer-0 head gives each (query position, key position) pair when it sees only the "
                "positional embeddings.")
def positional(ctx) -> Figure:
    l, h = chosen_head(ctx, layer=0)
    n = min(MAX_POSITIONS, ctx.dims.n_ctx)
    W = ctx.weights
    x = circuits.layer_norm(W["W_pos"][:n], W["blocks.0.ln1.w"], W["blocks.0.ln1.b"],
                            getattr(ctx.model.cfg, "layer_norm_epsilon", 1e-5))  # (n, d_model)
    W_Q, b_Q, W_K, b_K = _weights(ctx, l, h, "W_Q", "b_Q", "W_K", "b_K")
    scores = circuits.attention_scores(x, W_Q, b_Q, W_K, b_K, score_scale(ctx, l))  # (n, n), −inf above
    pattern = np.exp(scores - scores.max(-1, keepdims=True))
    pattern /= pattern.sum(-1, keepdims=True)  # (n, n) softmax over keys
    q = np.arange(1, n)
    argmax = np.argmax(np.where(np.isfinite(scores), scores, -np.inf), -1)
    prev_share = float(np.mean(argmax[q] == q - 1))
    self_share = float(np.mean(argmax[q] == q))
    prev_mean = float(pattern[q, q - 1].mean())
    label = head_label(l, h)

    fig = MplFigure(figsize=(10.0, 4.4))
    axes = fig.subplots(1, 2, gridspec_kw={"wspace": 0.25})
    shown = _masked(scores)
    panels = [(shown, _cmap_with_mask(ctx.theme), style.symmetric_norm(scores[np.isfinite(scores)], 0.99),
               "scores (masked: grey)"),
              (_masked(np.where(np.isfinite(scores), pattern, -np.inf)), _cmap_with_mask(ctx.theme, "Greens"),
               Normalize(0, 1), "softmax over keys: the pattern")]
    for ax, (img, cmap, norm, title) in zip(axes, panels):
        image = ax.imshow(img, cmap=cmap, norm=norm, interpolation="nearest")
        ax.set_xlabel("key position")
        ax.set_ylabel("query position")
        ax.set_title(f"{label}, positions 0–{n - 1}: {title}", loc="left", fontsize=9)
        bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
        bar.outline.set_visible(False)
    return Figure(
        data={"head": label, "layer": l, "head_index": h, "n_positions": n, "n_ctx": ctx.dims.n_ctx,
              "prev_token_score": round(float(ctx.analysis(previous_token)[l, h]), 4),
              "argmax_prev_share": round(prev_share, 4), "argmax_self_share": round(self_share, 4),
              "prev_attention_mean": round(prev_mean, 4)},
        alt=f"Two triangular heatmaps over positions 0 to {n - 1} for head {label}: the scores computed from "
            f"positional embeddings alone, and their softmax. For {prev_share:.0%} of query positions the "
            f"highest score is the previous position, for {self_share:.0%} the position itself; on average "
            f"{prev_mean:.0%} of the attention goes to the previous position",
        caption=f"Scores of {label} (the layer-0 head that attends most to the previous token in this prompt) "
                f"for every pair of the first {n} positions, computed from the positional embeddings alone: "
                "each row of W_pos passed through layer 0's LayerNorm (with its γ and β, as if the token "
                "embedding were zero), then W_Q, W_K and their biases. Grey: future positions, masked.",
        mpl=fig,
    )


@figure("qk-circuit.scaling", section="qk-circuit", title="Only the product W_Q W_Kᵀ matters",
        caption="One head's attention scores on this prompt: as recorded, recomputed with W_Q doubled and W_K "
                "halved, and with W_Q doubled alone.")
def scaling(ctx) -> Figure:
    l, h = chosen_head(ctx)
    x = ctx.trace[f"blocks.{l}.ln1.hook_normalized"]  # (pos, d_model): what the head reads
    traced = ctx.trace[f"blocks.{l}.attn.hook_attn_scores"][h]  # (query_pos, key_pos)
    W_Q, b_Q, W_K, b_K = _weights(ctx, l, h, "W_Q", "b_Q", "W_K", "b_K")
    check = circuits.scaling_check(x, W_Q, b_Q, W_K, b_K, score_scale(ctx, l), factor=2.0)
    diff = {name: circuits.max_abs_diff(getattr(check, name), traced)
            for name in ("original", "balanced", "rotated", "query_only")}
    finite = np.isfinite(traced)
    ratio = float(np.nanmedian(check.query_only[finite] / np.where(traced[finite] == 0, np.nan, traced[finite])))
    label = head_label(l, h)
    labels = token_labels(ctx)
    ticks = _tick_positions(len(labels))

    fig = MplFigure(figsize=(11.0, 4.2))
    axes = fig.subplots(1, 3, gridspec_kw={"wspace": 0.08})
    norm = style.symmetric_norm(check.query_only[np.isfinite(check.query_only)])
    cmap = _cmap_with_mask(ctx.theme)
    panels = [(traced, f"as recorded ({label})"),
              (check.balanced, f"W_Q×2, W_K×½: max |Δ| {diff['balanced']:.1e}"),
              (check.query_only, f"W_Q×2 only: max |Δ| {diff['query_only']:.2f}")]
    for i, (ax, (s, title)) in enumerate(zip(axes, panels)):
        image = ax.imshow(_masked(s), cmap=cmap, norm=norm, interpolation="nearest")
        ax.set_title(title, loc="left", fontsize=9)
        ax.set_xticks(ticks, [labels[t] for t in ticks], rotation=90, fontsize=7)
        ax.set_yticks(ticks, [labels[t] for t in ticks] if i == 0 else [], fontsize=7)
        ax.set_xlabel("key")
    axes[0].set_ylabel("query")
    bar = fig.colorbar(image, ax=list(axes), fraction=0.02, pad=0.02)
    bar.outline.set_visible(False)
    return Figure(
        data={"head": label, "layer": l, "head_index": h, "factor": check.factor,
              "max_abs_score": round(float(np.abs(traced[finite]).max()), 4),
              "max_abs_diff_recomputed": sig(diff["original"], 3), "max_abs_diff_balanced": sig(diff["balanced"], 3),
              "max_abs_diff_rotated": sig(diff["rotated"], 3), "max_abs_diff_query_only": round(diff["query_only"], 4),
              "query_only_ratio": round(ratio, 4)},
        alt=f"Three triangular heatmaps of head {label}'s scores over the prompt's {len(labels)} tokens. With "
            f"W_Q doubled and W_K halved the scores differ from the recorded ones by at most "
            f"{diff['balanced']:.1e}; with W_Q doubled alone they differ by up to {diff['query_only']:.2f}, "
            f"about {ratio:.2f} times the recorded scores",
        mpl=fig,
    )
