"""Vectors drawn as strips of cells, as in the infographic: one row per vector, one cell per component.

The infographic shows 128 of GPT-2's 768 components per vector; `strips` shows the first
`max_components` (all of them for small models) and says in a note how many of how many are shown.
Colours: the shared diverging ramp centred at 0, in each theme's version. Strips are drawn the
column's width (`style.COLUMN_IN`) whatever the number of components, so labels stay legible.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure as MplFigure

from . import style

SHOWN = 128  # components per strip, as in the infographic


def shown_note(d: int, max_components: int = SHOWN) -> str:
    n = min(d, max_components)
    return f"first {n} of {d} components shown" if n < d else f"all {d} components shown"


def strips(vectors: np.ndarray, labels: list[str], *, theme: str, title: str | None = None,
           max_components: int = SHOWN, norm=None, colorbar: bool = True) -> MplFigure:
    """Draw `vectors` (n, d) as n strips of min(d, max_components) cells, each labelled on the left.

    Values are rounded (4 decimals) before plotting so the SVG bytes depend only on the data.
    """
    vectors = np.round(np.asarray(vectors, dtype=np.float64), 4)
    n, d = vectors.shape
    k = min(d, max_components)
    shown = vectors[:, :k]
    norm = norm or style.symmetric_norm(shown)
    fig = MplFigure(figsize=(style.COLUMN_IN - 0.15, 0.3 * n + 0.8), layout="constrained")  # tight bbox adds ~0.1 in
    ax = fig.add_subplot()
    image = ax.imshow(shown, cmap=style.cmap("diverging", theme), norm=norm, aspect="auto", interpolation="nearest")
    ax.set_yticks(range(n), labels)
    ax.set_xticks([0, k - 1], ["0", str(k - 1)])
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    # Thin separators between rows make each vector read as its own strip.
    for y in np.arange(0.5, n - 0.5, 1):
        ax.axhline(y, color=style.background(theme), linewidth=3)
    ax.set_xlabel(f"component ({shown_note(d, max_components)})", color=style.muted(theme))
    if title:
        ax.set_title(title, loc="left")
    if colorbar:
        bar = fig.colorbar(image, ax=ax, fraction=0.025, pad=0.01)
        bar.outline.set_visible(False)
    return fig
