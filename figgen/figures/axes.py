"""How the line and scatter plots' matplotlib axes look (the gelu and decoding figures use it)."""

from __future__ import annotations

from . import style


def style_axes(ax, theme: str) -> None:
    """Light grid and no top/right spines, for line and scatter plots."""
    ax.grid(True, color=style.muted(theme), alpha=0.25, linewidth=0.5)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
