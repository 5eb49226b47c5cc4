"""The top of the poster: its title, how to read it and the legend; then the prompt, its tokens, their
token and positional embeddings, and their sum x = e + p where the residual stream starts.

Drawn by the overview section module on a `poster_canvas.Canvas`, top to bottom.
"""

from __future__ import annotations

import textwrap

import numpy as np

from ..context import printable
from . import style
from .poster_canvas import CMAP, Canvas, short
from .poster_layout import CH0, CHX, GAP_S, HOOK_FS, LABEL_H, RIGHT, SH_S
from .vector import shown_note


def draw_header(p: Canvas, ctx):
    """The title, a paragraph on how to read the poster (with the model's sizes), and the legend."""
    d, info = p.d, ctx.model_info
    p.text(CH0, p.y, "A vector-level view of GPT-2, computed", size=17, weight="bold", va="top")
    p.y += 0.42
    lines = [
        f"One forward pass of {info['name']} ({d.n_layers} layers × {d.n_heads} heads, d_model = {d.d_model}, "
        f"d_head = {d.d_head}, d_mlp = {d.d_mlp:,}, {d.d_vocab:,} tokens), drawn one vector at a time.",
        "Each strip is one vector, one cell per component: blue negative, white 0, red positive. "
        "Each block has its own colour scale ±s, printed at its top right.",
        f"Vectors of d_model: {shown_note(d.d_model)}; of d_head: {shown_note(d.d_head)}; "
        f"of d_mlp: {shown_note(d.d_mlp)}.",
        "Small type: the TransformerLens name of each vector in the trace. Click any part to open its page.",
    ]
    if p.P < len(p.t.tokens):
        lines.append(f"Rows are positions: the last {p.P} of the prompt's {len(p.t.tokens)} tokens "
                     "are shown.")
    for line in textwrap.wrap(" ".join(lines), int((RIGHT - CH0) / 0.066)):
        p.text(CH0, p.y, line, size=8.5, color=p.muted, va="top")
        p.y += 0.18
    p.y += 0.05
    _legend(p)
    p.y += 0.5


def _legend(p: Canvas):
    """The infographic's kinds of boxes, and the value colours (a ramp from −s to +s)."""
    x = CH0
    for name, colour in [("operation", style.OPERATION), ("parameter", style.PARAMETER),
                         ("tokenizer", style.TOKENIZER), ("residual stream", style.RESIDUAL),
                         ("attention", style.ATTENTION), ("MLP", style.MLP)]:
        p.box(x, p.y, 0.16, 0.14, colour, alpha=0.35)
        p.text(x + 0.22, p.y + 0.07, name, size=7.5)
        x += 0.32 + 0.075 * len(name)
    ramp = CMAP(np.linspace(0, 1, 128)[None, :], bytes=True)
    p.ax.imshow(ramp, extent=(x + 0.3, x + 2.3, p.y + 0.14, p.y), interpolation="none",
                aspect="auto", zorder=2)
    p.text(x + 0.25, p.y + 0.07, "−s", size=7.5, ha="right")
    p.text(x + 1.3, p.y + 0.24, "0", size=7, ha="center", color=p.muted)
    p.text(x + 2.35, p.y + 0.07, "+s", size=7.5)


def draw_prompt(p: Canvas):
    """The prompt (at most two lines) and the tokenizer chip with the number of tokens."""
    prompt = textwrap.wrap(printable(p.t.prompt), int((RIGHT - 3.3) / 0.072), drop_whitespace=False)
    prompt = prompt[:2] + (["…"] if len(prompt) > 2 else [])
    p.text(CH0, p.y + 0.1, "prompt", size=7, color=p.muted, section="tokenizer")
    h = 0.08 + 0.16 * len(prompt)
    x1 = RIGHT - 2.3
    p.box(0.8, p.y, x1 - 0.8, h, style.TOKENIZER, alpha=0.08)
    for i, line in enumerate(prompt):
        p.text(0.9, p.y + 0.04 + 0.16 * i, line, size=8.5, mono=True, va="top")
    p.link(0.8, p.y, x1, p.y + h, "tokenizer")
    p.arrow(x1, p.y + 0.1, x1 + 0.25, p.y + 0.1, style.OPERATION)
    p.chip(x1 + 0.25, p.y, 0.95, "tokenizer", style.TOKENIZER, "tokenizer", math=False)
    p.text(x1 + 1.3, p.y + 0.1, f"{len(p.t.tokens)} tokens", size=8, color=p.muted)
    p.y += max(h, 0.2) + 0.25


def draw_embeddings(p: Canvas):
    """Tokens (rows) → W_E rows: token embeddings e; positions → W_pos rows: positional embeddings p;
    both join the channel at ⊕ as x = e + p, the first checkpoint of the residual stream."""
    top = p.y + LABEL_H
    _tokens(p, top)
    ym = p.mid(p.y)
    xe = 2.3
    bottom = _token_embeddings(p, xe, ym)
    xp = _positional_embeddings(p, xe + p.km * p.c, top, ym)
    # e + p: both join the channel at ⊕, where the residual stream starts.
    yj = bottom + 0.2
    for xc in (xe + p.km * p.c / 2, xp + p.km * p.c / 2):
        p.line([xc, xc], [bottom + 0.02, yj])
    p.line([xp + p.km * p.c / 2, CHX + 0.09], [yj, yj])
    p.plus(CHX, yj, section="input-embeddings")
    p.stream_top = yj
    p.y = yj + 0.22
    last = p.positions[-1]
    p.y = p.stream_block(
        p.y, "blocks.0.hook_resid_pre", "x = e + p · input embeddings", "input-embeddings",
        "The first vector of each position: its token's embedding plus its position's embedding. From "
        "here on the stream changes only by addition (⊕): each sublayer reads it through a LayerNorm and "
        f"adds its output back. Length of the last position's vector: "
        f"{p.length('blocks.0.hook_resid_pre', last):.2f}.") + 0.3


def _tokens(p: Canvas, top: float):
    """One box per position: the token's string and its id."""
    t = p.t
    for i, pos in enumerate(p.positions):
        ty = top + i * (SH_S + GAP_S)
        p.box(CH0, ty, 1.25, SH_S, style.TOKENIZER, alpha=0.22, lw=0.5, round_=0.02)
        p.text(CH0 + 0.04, ty + SH_S / 2, short(t.display_tokens[pos], 15), size=HOOK_FS, mono=True)
        p.text(CH0 + 1.21, ty + SH_S / 2, str(int(t.tokens[pos])), size=5.5, mono=True, ha="right",
               color=p.muted)
    p.link(CH0, top, CH0 + 1.25, top + p.P * (SH_S + GAP_S), "tokenizer")
    p.text(CH0, p.y, "tokens", math=False, va="top", section="tokenizer")
    p.text(CH0, p.y + 0.17, "id per position", size=HOOK_FS, color=p.muted, va="top")


def _token_embeddings(p: Canvas, xe: float, ym: float) -> float:
    """tokens → W_E → the block e at xe; returns its bottom y."""
    p.arrow(CH0 + 1.27, ym, 1.6, ym)
    p.chip(1.6, ym - 0.1, 0.6, "$W_E$", style.PARAMETER, "embedding")
    p.arrow(2.2, ym, xe, ym)
    return p.block(xe, p.y, "hook_embed", p.t["hook_embed"][p.positions, : p.km],
                   "e · token embeddings", "embedding", note="rows of W_E")


def _positional_embeddings(p: Canvas, xe1: float, top: float, ym: float) -> float:
    """+, the positions → W_pos → the block p, right of e (which ends at xe1); returns p's left x."""
    p.glyph(xe1 + 0.17, ym, "+")
    xp_lbl = xe1 + 0.35
    for i, pos in enumerate(p.positions):
        p.text(xp_lbl + 0.25, top + i * (SH_S + GAP_S) + SH_S / 2, str(pos), size=HOOK_FS, mono=True,
               ha="right", color=p.muted, section="positional")
    p.text(xp_lbl, p.y + 0.17, "pos", size=HOOK_FS, color=p.muted, va="top")
    p.arrow(xp_lbl + 0.3, ym, xp_lbl + 0.4, ym)
    p.chip(xp_lbl + 0.4, ym - 0.1, 0.7, "$W_{pos}$", style.PARAMETER, "positional")
    xp = xp_lbl + 1.2
    p.arrow(xp_lbl + 1.1, ym, xp, ym)
    p.block(xp, p.y, "hook_pos_embed", p.t["hook_pos_embed"][p.positions, : p.km],
            "p · positional embeddings", "positional", note="rows of W_pos")
    return xp
