"""The end of the poster: the elided layers and the stream after the last one, then the final position
only — the final LayerNorm, the unembedding into logits, and decoding (softmax → the top tokens →
the most likely one).

The stream after the last layer and the logits are clipped at `CLIP_QUANTILE` (one position, or one
token, can dwarf the rest), and the logits are drawn minus their mean over the whole vocabulary: the
softmax ignores a shift, and GPT-2's logits are all far below 0, which a ramp centred at 0 would show
as one flat colour.

Drawn by the overview section module on a `poster_canvas.Canvas`; `elided_layers` and `percent` also
word the figure's alt text.
"""

from __future__ import annotations

import numpy as np
from matplotlib.patches import Rectangle

from . import style
from .poster_canvas import Canvas, block_scale, short
from .poster_layout import CLIP_QUANTILE, FS, MONO_CH, RIGHT, SMALL, TOP_K, X0

STEP = 0.42  # between two stacked blocks: an arrow down and the chip beside it


def elided_layers(n_layers: int) -> str:
    return "Layer 1" if n_layers == 2 else f"Layers 1–{n_layers - 1}"


def percent(p: float) -> str:
    return f"{p:.1%}" if p >= 0.001 else f"{p * 100:.1g}%"


def top_tokens(logits: np.ndarray, k: int = TOP_K) -> tuple[np.ndarray, np.ndarray]:
    """(ids, probabilities) of the k most likely next tokens, ties broken by lower id."""
    z = logits.astype(np.float64) - logits.max()
    probs = np.exp(z) / np.exp(z).sum()
    ids = np.argsort(-probs, kind="stable")[:k]
    return ids, probs[ids]


def draw_elided(p: Canvas):
    """A dashed box standing for layers 1 … n−1 (nothing for a one-layer model), then the residual
    stream after the last layer, clipped at CLIP_QUANTILE."""
    L = p.d.n_layers
    last = p.positions[-1]
    if L >= 2:
        y0, h = p.y, 0.58
        p.box(0.0, y0, RIGHT, h, style.RESIDUAL, alpha=0.06, lw=1.0, ls=(0, (4, 3)))
        p.text(RIGHT / 2 + 0.1, y0 + 0.19, f"⋮  {elided_layers(L)} elided: the same two sublayers, "
               "each layer with its own weights  ⋮", ha="center", section="residual-stream")
        hooks = "blocks.1.*" if L == 2 else f"blocks.1.* … blocks.{L - 1}.*"
        p.text(RIGHT / 2 + 0.1, y0 + 0.41, hooks, size=SMALL, mono=True, ha="center", color=p.muted,
               section="residual-stream")
        p.link(0.0, y0, RIGHT, y0 + h, "residual-stream")
        p.elided_span = (y0, y0 + h)
        p.y += h + 0.25
    hook = f"blocks.{L - 1}.hook_resid_post"
    p.y = p.stream_block(
        p.y, hook, f"x · stream after the last layer ({L - 1})", "residual-stream",
        f"After {L} layers the last position's vector has length {p.length(hook, last):.2f} (it entered "
        f"with {p.length('blocks.0.hook_resid_pre', last):.2f}). Only this position predicts the next token.",
        quantile=CLIP_QUANTILE) + 0.1
    # Every layer's stream can be read the way this last one is about to be: the logit lens.
    p.text(RIGHT / 2 + 0.1, p.y + 0.1, "Any layer's stream read as a guess, the way this one is read next: "
           "the logit lens ↗", ha="center", color=p.muted, section="logit-lens")
    p.y += 0.35


def draw_output(p: Canvas, ctx) -> tuple[np.ndarray, np.ndarray]:
    """The final position's LN_f → W_U → logits, then decoding; returns the top (ids, probabilities)."""
    p.title("Output · the final position only", "unembedding")
    bottom, logits = _unembedding(p, ctx)
    ids, probs = top_tokens(logits)
    _decoding(p, ctx, bottom, ids, probs)
    return ids, probs


def _step(p: Canvas, y: float, chip: str, colour: str, section: str, w=0.6, math=True) -> float:
    x = X0 + 0.25
    p.arrow(x, y + 0.03, x, y + STEP - 0.03, style.OPERATION)
    p.chip(x + 0.12, y + STEP / 2 - 0.1, w, chip, colour, section, math=math)
    return y + STEP


def _unembedding(p: Canvas, ctx) -> tuple[float, np.ndarray]:
    """x̂ = LN_f(x) at the last position → W_U → its logits (the first SHOWN token ids, minus the mean
    logit, clipped); returns the logits block's bottom y and the logits (d_vocab,)."""
    t, km, d = p.t, p.km, p.d
    last = p.positions[-1]
    ym = p.mid(p.y, rows=1)
    p.read(ym, "LN$_f$")
    p.stream_bottom = ym
    y = p.block(X0, p.y, "ln_final.hook_normalized", t["ln_final.hook_normalized"][[last], :km],
                "x̂ = LN$_f$(x) at the last position", "layernorm", rows=[last])
    W_U, W_E = ctx.weights["W_U"], ctx.weights["W_E"]
    tied = bool(np.array_equal(W_U[:, :64], W_E[:64].T))
    y = _step(p, y, "$W_U = W_E^T$" if tied else "$W_U$", style.PARAMETER, "unembedding", w=0.9)
    logits = t["logits"][last]
    centred = (logits.astype(np.float64) - logits.astype(np.float64).mean())[None, : p.kvocab]
    scale = block_scale(centred, CLIP_QUANTILE)
    ids = f"ids 0–{p.kvocab - 1} of {d.d_vocab:,}" if p.kvocab < d.d_vocab else f"all {d.d_vocab:,}"
    bottom = p.block(X0, y, "logits", centred, "logits − mean logit · one per token", "unembedding",
                     rows=[last], scale=scale, note=f"clipped at the {CLIP_QUANTILE * 100:.0f}th pct · {ids}")
    return bottom, logits


def _decoding(p: Canvas, ctx, bottom: float, ids: np.ndarray, probs: np.ndarray):
    """Decoding under the logits (from `bottom`): softmax → the top tokens with their probabilities as
    bars → the most likely one."""
    y = _step(p, bottom, "softmax", style.OPERATION, "decoding", w=0.75, math=False)
    tokens = ctx.token_strs([int(i) for i in ids])  # as the site shows tokens
    p.text(X0, y, f"top {len(ids)} of {p.d.d_vocab:,} next tokens", size=FS, va="top", section="decoding")
    row = 0.19
    bar0, bar_w = X0 + 1.2, 1.4
    for i, (tok, prob) in enumerate(zip(tokens, probs)):
        ry = y + 0.26 + i * row
        p.text(X0, ry + row / 2, short(tok, 16), size=SMALL, mono=True, weight="bold" if i == 0 else "normal")
        p.ax.add_patch(Rectangle((bar0, ry + 0.03), bar_w * float(prob), row - 0.06,
                                 facecolor=style.TOKENIZER, edgecolor="none", zorder=2))
        p.text(bar0 + bar_w + 0.08, ry + row / 2, percent(prob), size=SMALL)
    table_bottom = y + 0.26 + len(ids) * row
    p.link(X0, y, bar0 + bar_w + 0.6, table_bottom, "decoding")
    tm = y + 0.26 + row / 2
    xb = bar0 + bar_w + 0.65
    p.arrow(xb, tm, xb + 0.3, tm, style.OPERATION)
    best = short(tokens[0], 16)
    w = 0.2 + len(best) * MONO_CH * 10 / SMALL
    p.text(xb + 0.35, tm - 0.22, "most likely", size=SMALL, color=p.muted)
    p.box(xb + 0.35, tm - 0.13, w, 0.26, style.TOKENIZER, alpha=0.3, lw=1.2)
    p.text(xb + 0.35 + w / 2, tm, best, size=10, mono=True, weight="bold", ha="center")
    p.link(xb + 0.35, tm - 0.13, xb + 0.35 + w, tm + 0.13, "decoding")
    p.y = table_bottom + 0.1
