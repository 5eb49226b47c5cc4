"""The top of the poster: its title, the model's sizes and the legend; then the prompt, its tokens, their
token and positional embeddings stacked (e, then p), and their sum x = e + p where the residual stream
starts. The prompt, the tokens and the embeddings stay near the top: the site's social image is cut
from there.

Drawn by the overview section module on a `poster_canvas.Canvas`, top to bottom.
"""

from __future__ import annotations

import numpy as np

from ..context import printable
from . import style
from .poster_canvas import Canvas, short, wrap
from .poster_layout import (CH1, CHX, CLIP_QUANTILE, LABEL_H, LABEL_R, MONO_CH, NOTE_X, PITCH_S,
                            QUANTILE, RIGHT, SANS_CH, SH_S, SMALL, TITLE_FS, X0)


def draw_header(p: Canvas, ctx):
    """The title, the model's sizes, and the legend."""
    d, info = p.d, ctx.model_info
    p.text(0.0, p.y, "A vector-level view of GPT-2, computed", size=TITLE_FS, weight="bold", va="top")
    p.y += 0.3
    sizes = (f"One forward pass of {info['name']}: {d.n_layers} layers × {d.n_heads} heads, d_model {d.d_model:,}, "
             f"d_head {d.d_head:,}, d_mlp {d.d_mlp:,}, d_vocab {d.d_vocab:,}.")
    for line in wrap(sizes, RIGHT, 8.5):
        p.text(0.0, p.y, line, size=8.5, color=p.muted, va="top")
        p.y += 0.17
    p.y += 0.08
    _legend(p)


def _ramp(p: Canvas, x: float, y: float, name: str, w: float = 0.9):
    """A horizontal colour ramp (`style.cmap(name, theme)`), w inches wide, its top-left at (x, y)."""
    ramp = style.cmap(name, p.theme)(np.linspace(0, 1, 64)[None, :], bytes=True)
    p.ax.imshow(ramp, extent=(x, x + w, y + 0.13, y), interpolation="none", aspect="auto", zorder=2)


def _legend(p: Canvas):
    """The infographic's kinds of boxes; the value colours (−s … +s, and attention weights 0 … 1); how each
    block's scale ±s is chosen."""
    x = 0.0
    for name, colour in [("operation", style.OPERATION), ("parameter", style.PARAMETER),
                         ("tokenizer", style.TOKENIZER), ("residual stream", style.RESIDUAL),
                         ("attention", style.ATTENTION), ("MLP", style.MLP)]:
        p.box(x, p.y, 0.15, 0.13, colour, alpha=0.35)
        p.text(x + 0.2, p.y + 0.065, name, size=SMALL)
        x += 0.36 + SANS_CH * len(name)
    p.y += 0.25
    y = p.y
    p.text(0.0, y + 0.065, "values −s", size=SMALL)
    x = 0.0 + SANS_CH * 9 + 0.08
    _ramp(p, x, y, "diverging")
    p.text(x + 0.98, y + 0.065, "+s", size=SMALL)
    x += 1.35
    p.text(x, y + 0.065, "attention 0", size=SMALL)
    x += SANS_CH * 11 + 0.08
    _ramp(p, x, y, "attention", 0.7)
    p.text(x + 0.78, y + 0.065, "1", size=SMALL)
    p.y += 0.2
    how = (f"Each block has its own scale ±s: the {QUANTILE * 100:.0f}th percentile of its |values| (larger "
           f"values saturate); the final residual stream and the logits are clipped at the "
           f"{CLIP_QUANTILE * 100:.0f}th, so a few large values do not wash the rest out.")
    if p.P < len(p.t.tokens):
        how += f" Rows are positions: the last {p.P} of the prompt's {len(p.t.tokens)} tokens are shown."
    for line in wrap(how, RIGHT):
        p.text(0.0, p.y, line, size=SMALL, color=p.muted, va="top")
        p.y += 0.16
    p.y += 0.12


def draw_prompt(p: Canvas):
    """The prompt (at most two lines) and the tokenizer chip with the number of tokens."""
    x1 = RIGHT - 1.75
    prompt = [line for line in wrap(printable(p.t.prompt), x1 - 0.6 - 0.1, SMALL * 1.1)]
    prompt = prompt[:2] + (["…"] if len(prompt) > 2 else [])
    p.text(0.0, p.y + 0.11, "prompt", size=SMALL, color=p.muted, section="tokenizer")
    h = 0.06 + 0.17 * len(prompt)
    p.box(0.55, p.y, x1 - 0.55, h, style.TOKENIZER, alpha=0.08)
    for i, line in enumerate(prompt):
        p.text(0.62, p.y + 0.035 + 0.17 * i, line, size=SMALL, mono=True, va="top")
    p.link(0.55, p.y, x1, p.y + h, "tokenizer")
    p.arrow(x1, p.y + 0.11, x1 + 0.18, p.y + 0.11, style.OPERATION)
    p.chip(x1 + 0.18, p.y + 0.01, 0.8, "tokenizer", style.TOKENIZER, "tokenizer", math=False)
    n = len(p.t.tokens)
    p.text(x1 + 1.05, p.y + 0.11, f"{n} tokens" if n != 1 else "1 token", size=SMALL, color=p.muted)
    p.y += max(h, 0.22) + 0.22


def draw_embeddings(p: Canvas):
    """Tokens (rows) → rows of W_E: token embeddings e; + positions → rows of W_pos: positional
    embeddings p; the sum joins the channel at ⊕ as x = e + p, the first checkpoint of the stream."""
    t = p.t
    e_top = p.y
    ids = [int(t.tokens[q]) for q in p.positions]
    _row_boxes(p, e_top + LABEL_H, p.tokens, "tokenizer", style.TOKENIZER)
    p.text(LABEL_R, e_top, "tokens", ha="right", va="top", section="tokenizer")
    e_bottom = p.block(X0, e_top, "hook_embed", t["hook_embed"][p.positions, : p.km], "e · token embeddings",
                       "embedding")
    _lookup(p, e_top, "$W_E$", "W_E", ids, "embedding")
    p.glyph(X0 + p.km * p.c / 2, e_bottom + 0.14, "+")
    p_top = e_bottom + 0.27
    _row_boxes(p, p_top + LABEL_H, [str(q) for q in p.positions], "positional", style.PARAMETER)
    p.text(LABEL_R, p_top, "positions", ha="right", va="top", section="positional")
    p_bottom = p.block(X0, p_top, "hook_pos_embed", t["hook_pos_embed"][p.positions, : p.km],
                       "p · positional embeddings", "positional")
    _lookup(p, p_top, "$W_{pos}$", "W_pos", p.positions, "positional")
    # e + p: down from p's middle and left into ⊕ on the channel, where the residual stream starts.
    xc, yj = X0 + p.km * p.c / 2, p_bottom + 0.2
    p.line([xc, xc], [p_bottom + 0.02, yj])
    p.line([xc, CHX + 0.08], [yj, yj])
    p.text(xc + 0.08, yj, "e + p", size=SMALL, color=p.muted)
    p.plus(CHX, yj, section="input-embeddings")
    p.stream_top = yj
    p.y = yj + 0.2
    last = p.positions[-1]
    p.y = p.stream_block(
        p.y, "blocks.0.hook_resid_pre", "x = e + p · input embeddings", "input-embeddings",
        "Each position's first vector. From here on the stream changes only by addition (⊕). Length "
        f"at the last position: {p.length('blocks.0.hook_resid_pre', last):.2f}.") + 0.3


def _row_boxes(p: Canvas, top: float, labels: list[str], section: str, colour: str):
    """One small box per shown position, left of a block, holding its label (a token, a position)."""
    n = int((LABEL_R - CH1 - 0.1) / MONO_CH)
    for i, s in enumerate(labels):
        ty = top + i * PITCH_S
        p.box(CH1, ty - 0.01, LABEL_R - CH1 + 0.02, SH_S + 0.02, colour, alpha=0.22, lw=0.5, round_=0.02)
        p.text(LABEL_R - 0.02, ty + SH_S / 2, short(s, n), size=SMALL, mono=True, ha="right")
    p.link(CH1, top, LABEL_R, top + p.P * PITCH_S, section)


def _lookup(p: Canvas, top: float, chip: str, name: str, rows, section: str):
    """Right of a block: the parameter it looks rows up in, and which row each strip is (W_E[id])."""
    x = NOTE_X
    p.chip(x, top + 0.02, 0.55, chip, style.PARAMETER, section)
    p.text(x + 0.62, top + 0.12, "one row each", size=SMALL, color=p.muted)
    for i, r in enumerate(rows):
        y = top + LABEL_H + i * PITCH_S + SH_S / 2
        p.text(x, y, f"← {name}[{r}]", size=SMALL, mono=True, color=p.muted, section=section)
