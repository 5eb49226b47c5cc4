"""Colours and matplotlib settings shared by every figure (the infographic's legend).

Every matplotlib figure is rendered twice, once under `rc("light")` and once under `rc("dark")`;
figures take text and line colours from rcParams (or `ink(theme)`), so both read well.
Activations use one diverging map centred at 0 (`DIVERGING`, with `symmetric_norm`).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot imports anywhere in figgen

from matplotlib.colors import TwoSlopeNorm  # noqa: E402

THEMES = ("light", "dark")

# Figures are drawn for where they are read: the content column, ≈ 690 CSS px beside the table of
# contents at a 1280 px window (see figgen.legibility). An SVG no wider than that is shown at its
# natural size, 1 pt = 4/3 px; a wider one is scaled down, and its text with it.
COLUMN_IN = 690 / 96  # inches at 96 px per inch

# The infographic's legend: what kind of thing a box is.
OPERATION = "#e7298a"  # pink: operations (add, matmul, softmax, …)
PARAMETER = "#7b8da6"  # blue-grey: learned parameters
TOKENIZER = "#1b9e77"  # green: tokenizer
RESIDUAL = "#9e9e9e"  # grey: residual stream
ATTENTION = "#4daf4a"  # green: attention
MLP = "#377eb8"  # blue: MLP

DIVERGING = "RdBu_r"  # negative blue, positive red, 0 white/neutral
SEQUENTIAL = "viridis"

_INK = {"light": "#1f2328", "dark": "#e6e6e6"}
_MUTED = {"light": "#6e7781", "dark": "#a0a6ad"}


def ink(theme: str) -> str:
    """Text and line colour for `theme`."""
    return _INK[theme]


def muted(theme: str) -> str:
    """Secondary text (ticks, notes) for `theme`."""
    return _MUTED[theme]


def background(theme: str) -> str:
    """The page background Material uses in each palette (for gaps drawn between cells)."""
    return {"light": "#ffffff", "dark": "#1e2129"}[theme]


def rc(theme: str) -> dict:
    """rcParams for one theme: transparent background, theme ink, deterministic SVG output."""
    fg, mid = _INK[theme], _MUTED[theme]
    return {
        "figure.facecolor": "none",
        "axes.facecolor": "none",
        "savefig.facecolor": "none",
        "savefig.transparent": True,
        "text.color": fg,
        "axes.labelcolor": fg,
        "axes.edgecolor": mid,
        "axes.titlecolor": fg,
        "xtick.color": mid,
        "ytick.color": mid,
        "xtick.labelcolor": fg,
        "ytick.labelcolor": fg,
        "grid.color": mid,
        "legend.frameon": False,
        "legend.labelcolor": fg,
        "font.family": "DejaVu Sans",
        "font.size": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "svg.hashsalt": "figgen",  # stable ids in the SVG
        "svg.fonttype": "none",  # text stays text: selectable, searchable, small
        "image.cmap": DIVERGING,
        # Token strings are untrusted and may contain "$": never parse them as mathtext.
        "text.parse_math": False,
    }


def symmetric_norm(values, quantile: float = 1.0) -> TwoSlopeNorm:
    """A colour norm centred at 0 spanning ±max|values| (or that quantile of |values|)."""
    import numpy as np

    a = np.abs(np.asarray(values, dtype=np.float64))
    vmax = float(np.quantile(a, quantile)) if a.size else 1.0
    vmax = vmax or 1.0
    return TwoSlopeNorm(vcenter=0.0, vmin=-vmax, vmax=vmax)
