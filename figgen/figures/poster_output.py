"""The end of the poster: the elided layers and the stream after the last one, then the final position
only — the final LayerNorm, the unembedding into logits, and decoding (softmax → the top tokens →
the most likely one).

Drawn by the overview section module on a `poster_canvas.Canvas`; `elided_layers` and `percent` also
word the figure's alt text.
"""

from __future__ import annotations

import numpy as np
from matplotlib.patches import Rectangle

from ..context import printable
from . import style
from .poster_canvas import Canvas, short
from .poster_layout import CH0, FS, HOOK_FS, LABEL_H, RIGHT, SH_S, TOP_K, X0


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
    stream after the last layer."""
    L = p.d.n_layers
    if L < 2:
        return
    y0, h = p.y, 0.62
    p.box(CH0 - 0.1, y0, RIGHT - CH0 + 0.15, h, style.RESIDUAL, alpha=0.06, lw=1.0, ls=(0, (4, 3)))
    what = elided_layers(L)
    p.text((X0 + RIGHT) / 2, y0 + 0.2, f"⋮   {what} elided: the same attention and MLP sublayers, "
           "each layer with its own weights   ⋮", size=9.5, ha="center", section="residual-stream")
    hooks = "blocks.1.*" if L == 2 else f"blocks.1.* … blocks.{L - 1}.*"
    p.text((X0 + RIGHT) / 2, y0 + 0.42, hooks, size=HOOK_FS + 0.5, mono=True, ha="center",
           color=p.muted, section="residual-stream")
    p.link(CH0 - 0.1, y0, RIGHT + 0.05, y0 + h, "residual-stream")
    p.elided_span = (y0, y0 + h)
    p.y += h + 0.25
    last = p.positions[-1]
    p.y = p.stream_block(
        p.y, f"blocks.{L - 1}.hook_resid_post", f"x · residual stream after the last layer ({L - 1})",
        "residual-stream",
        f"After all {L} layers the last position's vector has length "
        f"{p.length(f'blocks.{L - 1}.hook_resid_post', last):.2f} (it entered with "
        f"{p.length('blocks.0.hook_resid_pre', last):.2f}). Only this position is decoded: its vector "
        "predicts the next token.") + 0.25


def draw_output(p: Canvas, ctx) -> tuple[np.ndarray, np.ndarray]:
    """The final position's LN_f → W_U → logits, then decoding; returns the top (ids, probabilities)."""
    p.text(0.7, p.y, "Output · the final position only", size=10.5, weight="bold", va="top",
           section="unembedding")
    p.y += 0.3
    xl, bottom, logits = _unembedding(p, ctx)
    ids, probs = top_tokens(logits)
    _decoding(p, ctx, xl, bottom, ids, probs)
    return ids, probs


def _unembedding(p: Canvas, ctx) -> tuple[float, float, np.ndarray]:
    """x̂ = LN_f(x) at the last position → W_U → its logits (the first SHOWN token ids); returns the
    logits block's left x and bottom y, and the logits (d_vocab,)."""
    t, km, c = p.t, p.km, p.c
    last = p.positions[-1]
    ym = p.y + LABEL_H + SH_S / 2
    p.read(ym, "LN$_f$")
    p.block(X0, p.y, "ln_final.hook_normalized", t["ln_final.hook_normalized"][[last], :km],
            "x̂ = LN$_f$(x) at the last position", "layernorm", rows=[last])
    p.stream_bottom = ym
    x1 = X0 + km * c + 0.1
    p.arrow(x1, ym, x1 + 0.1, ym)
    W_U, W_E = ctx.weights["W_U"], ctx.weights["W_E"]
    tied = bool(np.array_equal(W_U[:, :64], W_E[:64].T))
    p.chip(x1 + 0.1, ym - 0.1, 1.1, "$W_U = W_E^T$" if tied else "$W_U$", style.PARAMETER, "unembedding")
    xl = x1 + 1.35
    p.arrow(x1 + 1.2, ym, xl, ym)
    logits = t["logits"][last]
    bottom = p.block(xl, p.y, "logits", logits[None, : p.kvocab], "logits: one per token",
                     "unembedding", rows=[last], note=f"ids 0–{p.kvocab - 1} of {p.d.d_vocab:,}")
    return xl, bottom, logits


def _decoding(p: Canvas, ctx, xl: float, bottom: float, ids: np.ndarray, probs: np.ndarray):
    """Decoding under the logits (at xl, from `bottom`): softmax → the top tokens with their
    probabilities as bars → the most likely one."""
    y = bottom + 0.35
    xs = xl + p.kvocab * p.c / 2
    p.arrow(xs, bottom + 0.03, xs, y - 0.03, style.OPERATION)
    p.chip(xs + 0.12, bottom + 0.05, 0.8, "softmax", style.OPERATION, "decoding", math=False)
    tokens = [printable(s) for s in ctx.tokenizer.convert_ids_to_tokens([int(i) for i in ids])]
    p.text(xl, y, f"top {len(ids)} of {p.d.d_vocab:,} next tokens", size=FS, va="top", section="decoding")
    row = 0.19
    for i, (tok, prob) in enumerate(zip(tokens, probs)):
        ry = y + 0.25 + i * row
        p.text(xl, ry + row / 2, short(tok, 16), size=7.5, mono=True, weight="bold" if i == 0 else "normal")
        p.ax.add_patch(Rectangle((xl + 1.3, ry + 0.03), 1.2 * float(prob), row - 0.06,
                                 facecolor=style.TOKENIZER, edgecolor="none", zorder=2))
        p.text(xl + 2.6, ry + row / 2, percent(prob), size=7.5)
    table_bottom = y + 0.25 + len(ids) * row
    p.link(xl, y, xl + 3.1, table_bottom, "decoding")
    tm = y + 0.25 + row / 2
    p.arrow(xl + 3.2, tm, xl + 3.6, tm, style.OPERATION)
    p.text(xl + 3.65, tm - 0.2, "most likely", size=7, color=p.muted)
    w = 0.4 + 0.09 * len(short(tokens[0], 16))
    p.box(xl + 3.65, tm - 0.13, w, 0.26, style.TOKENIZER, alpha=0.3, lw=1.2)
    p.text(xl + 3.65 + w / 2, tm, short(tokens[0], 16), size=10, mono=True, weight="bold", ha="center")
    p.link(xl + 3.65, tm - 0.13, xl + 3.65 + w, tm + 0.13, "decoding")
    p.y = table_bottom + 0.2
