"""Colours, sizes and matplotlib/Vega settings shared by every figure (the infographic's legend).

Every matplotlib figure is rendered twice, once under `rc("light")` and once under `rc("dark")`;
figures take text and line colours from rcParams (or `ink(theme)`), so both read well. Vega-Lite
charts are themed where they are drawn: `vega_config(theme)` (applied by `save` to the static
fallbacks and by the page script in the browser).

The standard every figure is drawn to (DESIGN.md, Conventions; checked by tests/test_legibility.py):
- Width: at most `COLUMN_IN` (the ≈ 690 px content column); wider figures are scaled down, text too.
  Side-by-side panels that do not fit are stacked.
- Text: at least `MIN_FONT_PT` (10 px in the column; `rc` uses 8–9 pt, ≈ 11–12 px). Charts: ≥ 11 px.
- Colour ramps by meaning, one per kind of value, each with a light and a dark version
  (`cmap(name, theme)` for matplotlib, the same stops as named Vega ranges, `vega_range(name)`): "diverging"
  (activations, signed values; its midpoint is the page background's tone in each theme),
  "attention" (weights in [0, 1], green), "magnitude" (lengths and scales, purple), "similarity"
  (cosines, blue). Low values are close to the background in both themes.
- Text on a coloured cell is black or white, whichever contrasts more (`label_colour`: ≥ 4.5:1 on
  any colour).
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

MIN_FONT_PT = 7.5  # 10 px at 96/72 px per pt, in a figure no wider than COLUMN_IN

# Colour ramps by meaning: stops from low to high, per theme. Dark versions start near the dark
# page's tone, so "nothing" looks like the page in both themes (no white slabs on slate).
RAMPS = {
    "diverging": {"light": ["#2166ac", "#92c5de", "#f7f7f7", "#f4a582", "#b2182b"],
                  "dark": ["#6cb0f0", "#2f5b85", "#262a33", "#8f3b37", "#ff8a7a"]},
    "attention": {"light": ["#f7fcf5", "#a1d99b", "#41ab5d", "#006d2c", "#00441b"],
                  "dark": ["#222a25", "#24573a", "#2f8a4f", "#5cc879", "#b9f5c4"]},
    "magnitude": {"light": ["#fcfbfd", "#cbc9e2", "#9e9ac8", "#6a51a3", "#3f007d"],
                  "dark": ["#26242f", "#47406b", "#6e60a8", "#a394e0", "#e2dcff"]},
    "similarity": {"light": ["#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b"],
                   "dark": ["#1f2530", "#22476e", "#2f70a8", "#5fa8e6", "#c4e3ff"]},
}

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
        "font.size": 9,  # 12 px in the column
        "axes.titlesize": 9,
        "axes.labelsize": 8.5,
        "xtick.labelsize": 8,  # 10.7 px
        "ytick.labelsize": 8,
        "legend.fontsize": 8,
        "legend.title_fontsize": 8.5,
        "figure.titlesize": 9.5,
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


def cmap(name: str, theme: str):
    """The matplotlib colormap of ramp `name` ("diverging", "attention", "magnitude", "similarity")."""
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list(f"figgen-{name}-{theme}", RAMPS[name][theme])


_RANGE_TAG = "figgen-range:"


def vega_range(name: str) -> list[str]:
    """A chart scale's `range` naming one of `vega_config`'s ranges ("attention", "magnitude-labels"…):
    `alt.Scale(range=style.vega_range("attention"))`. Vega resolves named ranges from the config, but
    altair's schema allows only Vega-Lite's built-in names, so the name travels as a one-item list
    that `save.vegalite_spec` turns back into the name."""
    return [_RANGE_TAG + name]


def vega_config(theme: str) -> dict:
    """Vega-Lite config for one theme: the ramps as named ranges (`alt.Scale(range=vega_range("attention"))`;
    "diverging" is also Vega-Lite's default for a scale with domainMid), fonts at ≥ 11 px, theme ink."""
    ink_, muted_ = _INK[theme], _MUTED[theme]
    font = {"labelFontSize": 11, "titleFontSize": 11, "labelColor": ink_, "titleColor": ink_}
    return {
        "range": {**{name: stops[theme] for name, stops in RAMPS.items()},
                  **{f"{name}-labels": label_range(name, theme) for name in RAMPS}},
        "axis": {**font, "domainColor": muted_, "tickColor": muted_, "gridColor": muted_, "gridOpacity": 0.25},
        "legend": font,
        "header": font,
        "title": {"fontSize": 12, "color": ink_, "subtitleColor": muted_},
        "text": {"fontSize": 11, "color": ink_},
        "view": {"stroke": None},
        "background": None,
    }


def _luminance(rgb) -> float:
    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(float(c)) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a, b) -> float:
    """WCAG contrast ratio of two colours (anything matplotlib's to_rgb understands)."""
    from matplotlib.colors import to_rgb

    la, lb = sorted((_luminance(to_rgb(a)), _luminance(to_rgb(b))), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def label_colour(cell) -> str:
    """The text colour for a label on a `cell` colour: black or white, whichever contrasts more.

    Pure black and white guarantee ≥ 4.58:1 on any colour (they tie at luminance 0.179); the
    theme inks (#1f2328, #e6e6e6) would leave mid-tones below 4.5:1."""
    return max(("#000000", "#ffffff"), key=lambda ink_: contrast(ink_, cell))


def label_range(name: str, theme: str, bins: int = 10) -> list[str]:
    """Label colours for `bins` equal steps of ramp `name` (the range of `labels.cell_text`'s threshold
    scale; its `bins` must match)."""
    ramp = cmap(name, theme)
    return [label_colour(ramp((i + 0.5) / bins)) for i in range(bins)]
