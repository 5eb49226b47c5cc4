"""Grids of labelled cells (rows × positions): a colour per cell and a short text in it.

Used by the logit-lens figures, whose every cell holds a token or a number. Cell text is black or
white by contrast with its cell (`style.label_colour`); cells can be outlined (e.g. "this guess is
the model's final answer"); long token strings are shortened with an ellipsis.
"""

from __future__ import annotations

import numpy as np
from matplotlib.patches import Rectangle

from . import style

CELL_CHARS = 8  # characters of a token string written in a cell


def short(text: str, n: int = CELL_CHARS) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def text_grid(ax, values: np.ndarray, texts: list[list[str]], *, cmap, norm, theme: str,
              outline: np.ndarray | None = None, fontsize: float = 8.0) -> object:
    """Draw (rows, cols) `values` as coloured cells, row 0 at the top, each with its text; outline the
    cells where `outline` is True. Returns the image (for a colour bar)."""
    rows, cols = values.shape
    image = ax.imshow(values, cmap=cmap, norm=norm, aspect="auto", interpolation="nearest")
    colours = cmap(norm(values))
    for r in range(rows):
        for c in range(cols):
            ax.text(c, r, short(texts[r][c]), ha="center", va="center", fontsize=fontsize,
                    color=style.label_colour(colours[r, c]))
            if outline is not None and outline[r, c]:
                ax.add_patch(Rectangle((c - 0.46, r - 0.44), 0.92, 0.88, fill=False, linewidth=1.6,
                                       edgecolor=style.OPERATION))
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.tick_params(length=0)
    # Gaps between cells in the page's colour: each cell reads as its own.
    for y in np.arange(0.5, rows - 0.5):
        ax.axhline(y, color=style.background(theme), linewidth=1.5)
    for x in np.arange(0.5, cols - 0.5):
        ax.axvline(x, color=style.background(theme), linewidth=1.5)
    return image


def position_axes(ax, inputs: list[str], targets: list[str] | None = None, correct=None) -> None:
    """Input tokens along the bottom (tilted); the true next tokens along the top, with * where the
    model's final guess is right (`correct`, a boolean per column)."""
    ax.set_xticks(range(len(inputs)), [short(s, 10) for s in inputs], rotation=45, ha="right",
                  rotation_mode="anchor")
    if targets is not None:
        top = ax.secondary_xaxis("top")
        marks = [short(s, 10) + (" *" if correct is not None and correct[i] else "") for i, s in enumerate(targets)]
        top.set_xticks(range(len(targets)), marks, rotation=45, ha="left", rotation_mode="anchor")
        top.tick_params(length=0)
        for spine in top.spines.values():
            spine.set_visible(False)
