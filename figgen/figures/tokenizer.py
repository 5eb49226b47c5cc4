"""Tokenizer: the prompt as tokens, and the BPE merges that build one of its words.

Both figures draw tokens as boxes laid out in inches on a canvas at most `style.COLUMN_IN` wide, so
their text keeps its size in the content column; a row of boxes that would not fit wraps. Tokens
and pieces are shown as the site shows every token (`ctx.token_strs`, ␣ for a space), never in the
tokenizer's own byte-level spelling ("Ġ").
"""

from __future__ import annotations

from matplotlib.figure import Figure as MplFigure
from matplotlib.patches import FancyBboxPatch

from ..analysis.tokenization import most_merged_word, piece_text
from ..context import token_display
from . import style
from .registry import Figure, figure

TEXT_PT, SUB_PT = 9.0, 8.0  # a token's string and the id under it (≈ 12 and 10.7 px in the column)
CHAR_IN = 0.6 * TEXT_PT / 72 + 0.004  # DejaVu Sans Mono advances 0.6 em per character
PAD_IN, MIN_BOX_IN = 0.16, 0.36  # a box's inner padding and its narrowest width
GAP_IN = 0.07  # between boxes
ROW_GAP_IN = 0.12  # between rows of boxes
LABEL_IN = 0.85  # room for the rank label right of a merge row


def _box_width(text: str) -> float:
    return max(MIN_BOX_IN, CHAR_IN * len(text) + PAD_IN)


def _wrap(widths: list[float], room: float) -> list[list[int]]:
    """Indices of boxes per line: as many as fit in `room` inches, at least one per line."""
    lines, line, used = [], [], 0.0
    for i, w in enumerate(widths):
        if line and used + w > room:
            lines.append(line)
            line, used = [], 0.0
        line.append(i)
        used += w + GAP_IN
    return lines + [line] if line else lines


def _canvas(width: float, height: float) -> tuple[MplFigure, object]:
    """A figure `width` × `height` inches whose data coordinates are inches (y up)."""
    fig = MplFigure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    return fig, ax


def _box(ax, x: float, y: float, w: float, h: float, text: str, sub: str | None, *, fill: str, theme: str,
         bold: bool = False) -> None:
    ink = style.label_colour(fill)  # black or white, whichever reads on the fill (≥ 4.5:1)
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0,rounding_size=0.05", facecolor=fill,
                                edgecolor=style.ink(theme), linewidth=0.6))
    ax.text(x + w / 2, y + h * (0.66 if sub else 0.5), text, ha="center", va="center", fontsize=TEXT_PT,
            fontfamily="DejaVu Sans Mono", fontweight="bold" if bold else "normal", color=ink)
    if sub:
        ax.text(x + w / 2, y + h * 0.25, sub, ha="center", va="center", fontsize=SUB_PT, color=ink)


def plural(n: int, word: str) -> str:
    """'one token', '3 tokens'."""
    return f"one {word}" if n == 1 else f"{n} {word}s"


@figure("tokenizer.tokens", section="tokenizer", title="The prompt as tokens",
        caption="The prompt as the model receives it: a short list of token ids, each the row of the embedding "
                "matrix it will select (␣ marks a space).")
def tokens(ctx) -> Figure:
    t = ctx.trace
    shown, ids = ctx.token_strs(), t.tokens.tolist()
    widths = [max(_box_width(s), _box_width(str(i))) for s, i in zip(shown, ids)]
    room = style.COLUMN_IN - 0.05
    lines = _wrap(widths, room)
    h = 0.5
    height = len(lines) * (h + ROW_GAP_IN)
    width = room if len(lines) > 1 else sum(widths[i] + GAP_IN for i in lines[0])
    fig, ax = _canvas(width + 0.02, height)
    for r, line in enumerate(lines):
        x, y = 0.01, height - (r + 1) * (h + ROW_GAP_IN) + ROW_GAP_IN / 2
        for i in line:
            _box(ax, x, y, widths[i], h, shown[i], str(ids[i]), fill=style.TOKENIZER, theme=ctx.theme)
            x += widths[i] + GAP_IN
    n_prompt = len(ids) - (1 if t.prepend_bos else 0)
    return Figure(
        data={"n_tokens": len(ids), "n_prompt_tokens": n_prompt, "prepend_bos": t.prepend_bos,
              "tokens": shown, "ids": ids, "d_vocab": ctx.dims.d_vocab},
        alt=f"The prompt split into {plural(len(ids), 'token')}: "
            + ", ".join(f"{s} (id {i})" for s, i in zip(shown, ids)),
        caption=f"The prompt as the model receives it: {plural(len(ids), 'token')}, each an id, the row of the "
                "embedding matrix it will select (␣ marks a space)"
                + (f"; the first, {shown[0]}, is put in front of every prompt." if t.prepend_bos else "."),
        mpl=fig,
    )


@figure("tokenizer.merges", section="tokenizer", title="Byte-pair merges building one word",
        caption="One word of the prompt built up from single bytes, one merge per row: each merge joins the "
                "adjacent pair that was learned earliest in training (the lowest rank, on the right).")
def merges(ctx) -> Figure:
    steps = most_merged_word(ctx.tokenizer, ctx.prompt)
    show = [[token_display(piece_text(p)) for p in parts] for parts in steps.parts]  # as the site shows text
    h = 0.34
    rows = len(show)
    row_widths = [sum(_box_width(p) + GAP_IN for p in parts) for parts in show]
    width = min(max(row_widths) + LABEL_IN, style.COLUMN_IN)
    height = rows * (h + ROW_GAP_IN)
    fig, ax = _canvas(width, height)
    for r, parts in enumerate(show):
        y = height - (r + 1) * (h + ROW_GAP_IN) + ROW_GAP_IN / 2
        formed = None
        if r > 0:  # the piece formed by the merge that led to this row: where it first differs from the last
            before, joined = steps.parts[r - 1], "".join(steps.merged[r - 1])
            idx = next((i for i, (a, b) in enumerate(zip(steps.parts[r], before)) if a != b), len(parts) - 1)
            formed = idx if steps.parts[r][idx] == joined else None
        x = 0.01
        for i, p in enumerate(parts):
            w = _box_width(p)
            _box(ax, x, y, w, h, p, None, fill=style.OPERATION if i == formed else style.TOKENIZER,
                 theme=ctx.theme, bold=i == formed)
            x += w + GAP_IN
        label = "bytes" if r == 0 else f"rank {steps.ranks[r - 1]:,}"
        ax.text(x + 0.03, y + h / 2, label, va="center", fontsize=SUB_PT, color=style.muted(ctx.theme))
    final = show[-1]
    word = token_display(piece_text(steps.word))
    result = plural(len(final), "token")
    # The replay is compared with the tokenizer's own split of the same word.
    own = ctx.tokenizer.convert_ids_to_tokens(ctx.tokenizer(piece_text(steps.word), add_special_tokens=False)["input_ids"])
    same = own == steps.parts[-1]
    return Figure(
        data={"word": word, "n_merges": len(steps.merged), "n_bytes": len(steps.parts[0]),
              "pieces": final, "n_pieces": len(final), "result": result, "ranks": steps.ranks,
              "merges_text": plural(len(steps.merged), "merge"), "replay_matches": same,
              "replay_note": ("the same split the tokenizer itself makes" if same else
                              "a different split from the tokenizer's own ("
                              + ", ".join(token_display(piece_text(t)) for t in own) + ")")},
        alt=f"The word {word} built from {len(steps.parts[0])} bytes in {plural(len(steps.merged), 'merge')}, "
            f"ending as {result}: {', '.join(final)}",
        caption=f"{word} built up from {plural(len(steps.parts[0]), 'byte')} to {result}, one merge per row: each "
                "merge joins the adjacent pair learned earliest in training (the lowest rank, on the right); pink "
                "marks the piece it forms.",
        mpl=fig,
    )
