"""Tokenizer: the prompt as tokens, and the BPE merges that build one of its words."""

from __future__ import annotations

from matplotlib.figure import Figure as MplFigure
from matplotlib.patches import FancyBboxPatch

from ..analysis.tokenization import most_merged_word
from . import style
from .registry import Figure, figure

BOX_W, BOX_H, GAP = 1.0, 0.62, 0.12


def _box(ax, x: float, y: float, w: float, text: str, sub: str | None, *, fill: str, theme: str, bold=False):
    ax.add_patch(FancyBboxPatch((x, y), w, BOX_H, boxstyle="round,pad=0,rounding_size=0.08",
                                facecolor=fill, edgecolor=style.ink(theme), linewidth=0.8))
    ax.text(x + w / 2, y + BOX_H * (0.62 if sub else 0.5), text, ha="center", va="center",
            fontsize=10, fontfamily="DejaVu Sans Mono", fontweight="bold" if bold else "normal",
            color="#111111")
    if sub:
        ax.text(x + w / 2, y + BOX_H * 0.22, sub, ha="center", va="center", fontsize=7, color="#333333")


def _width(text: str) -> float:
    return max(BOX_W, 0.16 * len(text) + 0.3)


def _row(ax, y: float, items: list[tuple[str, str | None]], *, fill, theme, highlight=()) -> float:
    x = 0.0
    for i, (text, sub) in enumerate(items):
        w = _width(text)
        _box(ax, x, y, w, text, sub, fill=style.OPERATION if i in highlight else fill, theme=theme,
             bold=i in highlight)
        x += w + GAP
    return x


def _canvas(width: float, height: float) -> tuple[MplFigure, object]:
    fig = MplFigure(figsize=(min(max(width * 0.62, 3.0), 14.0), max(height * 0.62, 1.0)))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-0.1, width + 0.1)
    ax.set_ylim(-0.1, height + 0.1)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


@figure("tokenizer.tokens", section="tokenizer", title="The prompt as tokens",
        caption="Each box is one token of the prompt: its string as the tokenizer stores it (Ġ marks "
                "a leading space) above its id, the row of the embedding matrix it selects. The first "
                "token, <|endoftext|>, is prepended so that every prompt starts from the same place.")
def tokens(ctx) -> Figure:
    t = ctx.trace
    items = [(s, str(i)) for s, i in zip(t.display_tokens, t.tokens.tolist())]
    width = sum(_width(s) + GAP for s, _ in items)
    fig, ax = _canvas(width, BOX_H)
    _row(ax, 0, items, fill=style.TOKENIZER, theme=ctx.theme)
    words = [s for s in t.str_tokens[1 if t.prepend_bos else 0:]]
    return Figure(
        data={"n_tokens": len(t.tokens), "n_prompt_tokens": len(words), "prepend_bos": t.prepend_bos,
              "tokens": t.display_tokens, "ids": t.tokens.tolist(), "d_vocab": ctx.dims.d_vocab},
        alt=f"The prompt split into {len(t.tokens)} tokens: "
            + ", ".join(f"{s} (id {i})" for s, i in zip(t.display_tokens, t.tokens.tolist())),
        mpl=fig,
    )


@figure("tokenizer.merges", section="tokenizer", title="Byte-pair merges building one word",
        caption="Byte-pair encoding starts from single bytes and repeatedly joins the adjacent pair "
                "that was merged earliest in training (lowest rank). Each row is one merge; the pink "
                "box is the piece just formed, and its rank is on the right.")
def merges(ctx) -> Figure:
    steps = most_merged_word(ctx.tokenizer, ctx.prompt)
    rows = len(steps.parts)
    width = max(sum(_width(p) + GAP for p in parts) for parts in steps.parts) + 2.2
    fig, ax = _canvas(width, rows * (BOX_H + 0.25))
    for r, parts in enumerate(steps.parts):
        y = (rows - 1 - r) * (BOX_H + 0.25)
        highlight = ()
        if r > 0:  # the piece formed by the merge that led to this row
            joined = "".join(steps.merged[r - 1])
            before = steps.parts[r - 1]
            # Its index: where this row first differs from the previous one.
            idx = next((i for i, (a, b) in enumerate(zip(parts, before)) if a != b), len(parts) - 1)
            highlight = (idx,) if parts[idx] == joined else ()
        end = _row(ax, y, [(p, None) for p in parts], fill=style.TOKENIZER, theme=ctx.theme, highlight=highlight)
        label = "bytes" if r == 0 else f"rank {steps.ranks[r - 1]:,}"
        ax.text(end + 0.1, y + BOX_H / 2, label, va="center", fontsize=8, color=style.muted(ctx.theme))
    final = steps.parts[-1]
    return Figure(
        data={"word": steps.word, "n_merges": len(steps.merged), "n_bytes": len(steps.parts[0]),
              "pieces": final, "ranks": steps.ranks},
        alt=f"The word {steps.word!r} built from {len(steps.parts[0])} byte-level characters in "
            f"{len(steps.merged)} merges, ending as {len(final)} token(s): {', '.join(final)}",
        mpl=fig,
    )
