"""The poster's canvas: one axes in inches, its drawing primitives, vector strips and the residual stream.

`Canvas` holds what the poster's stage modules (`poster_input`, `poster_attention`, `poster_mlp`,
`poster_output`) share while they draw down the page: the figure, a y-cursor, the positions and
components shown, the cell widths, and each block's colour scale (the figure's data). Its methods
are the parts every stage draws with: text, boxes, chips, arrows and ⊕; blocks of strips with their
labels; a checkpoint of the residual stream and the branches that read from it and write to it.

Colours come from the theme: text from `style.ink`/`style.muted`, cells from `style.cmap` (the
"diverging" ramp for vectors, whose midpoint is the page's tone in each theme; "attention" for
patterns).
"""

from __future__ import annotations

import textwrap

import numpy as np
from matplotlib.colors import Normalize, TwoSlopeNorm, to_rgba
from matplotlib.figure import Figure as MplFigure
from matplotlib.patches import Circle, FancyBboxPatch, Rectangle

from . import style
from .poster_layout import (BLOCK_W, C_MAX, CH0, CH1, CHX, FRAME_ALPHA, FRAME_X, FS, HEAD_FS, HEAD_SHOWN, LABEL_H,
                            LABEL_R, MAX_POSITIONS, MONO, MONO_CH, NOTE_X, PITCH_S, PITCH_T, QUANTILE,
                            RESULT_SHOWN, RIGHT, SANS_CH, SH_S, SH_T, SHOWN, SMALL, W, X0, href, strip_id)


def block_scale(values: np.ndarray, quantile: float = QUANTILE) -> float:
    """± the colour scale of one block: the `quantile` of |values| (4 decimals, never 0)."""
    vmax = style.symmetric_norm(np.round(np.asarray(values, np.float64), 4), quantile).vmax
    return max(round(float(vmax), 4), 1e-4)


def cell_colours(values: np.ndarray, scale: float, theme: str) -> np.ndarray:
    """(..., k) values → (..., k, 4) RGBA bytes: the theme's diverging ramp centred at 0, ±scale at the ends."""
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-scale, vmax=scale)
    return style.cmap("diverging", theme)(norm(np.round(np.asarray(values, np.float64), 4)), bytes=True)


def weight_colours(weights: np.ndarray, theme: str) -> np.ndarray:
    """Attention weights in [0, 1] → RGBA bytes on the theme's "attention" ramp (as every pattern on the site)."""
    return style.cmap("attention", theme)(Normalize(0.0, 1.0)(np.round(np.asarray(weights, np.float64), 4)),
                                          bytes=True)


def short(s: str, n: int) -> str:
    """A string cut to n characters (… marks the cut)."""
    return s if len(s) <= n else s[: n - 1] + "…"


def wrap(text: str, width_in: float, size: float = SMALL) -> list[str]:
    """`text` wrapped to lines about `width_in` wide at `size` pt (DejaVu Sans)."""
    return textwrap.wrap(text, max(8, int(width_in / (SANS_CH * size / SMALL))))


class Canvas:
    """A y-cursor layout on one axes spanning the figure, in inches (x right, y down)."""

    def __init__(self, ctx):
        self.ctx, self.theme, self.t, self.d = ctx, ctx.theme, ctx.trace, ctx.dims
        n = len(self.t.tokens)
        self.positions = list(range(max(0, n - MAX_POSITIONS), n))
        self.P = len(self.positions)
        self.tokens = ctx.token_strs([int(self.t.tokens[p]) for p in self.positions])  # as the site shows them
        d = self.d
        self.km, self.kmlp, self.kvocab = (min(x, SHOWN) for x in (d.d_model, d.d_mlp, d.d_vocab))
        self.kh, self.kr = min(d.d_head, HEAD_SHOWN), min(d.d_model, RESULT_SHOWN)
        # One cell width for every block of SHOWN components (stream, sublayers, logits).
        self.c = min(C_MAX, BLOCK_W / max(self.km, self.kmlp, self.kvocab))
        self.fig = MplFigure(figsize=(W, 10))
        self.ax = self.fig.add_axes((0, 0, 1, 1))
        self.ax.set_axis_off()
        self.ink, self.muted, self.bg = style.ink(self.theme), style.muted(self.theme), style.background(self.theme)
        self.scales: dict[str, float] = {}
        self.y = 0.05
        # The residual stream's channel runs from stream_top (set where e + p join) to stream_bottom
        # (the final LayerNorm's read), dashed over elided_span if layers are elided.
        self.stream_top = self.stream_bottom = 0.0
        self.elided_span: tuple[float, float] | None = None

    # --- primitives ---------------------------------------------------------------------------

    def text(self, x, y, s, *, size=FS, color=None, ha="left", va="center", math=False, mono=False,
             weight="normal", section=None, rotation=0, z=4, linespacing=1.25, bg=None):
        """Text; `math` parses $…$ (only for our own labels: token strings are never parsed); `bg`
        paints that colour behind it, so lines there pass behind the text."""
        t = self.ax.text(x, y, s, fontsize=max(size, SMALL), color=color or self.ink, ha=ha, va=va,
                         parse_math=math, fontweight=weight, rotation=rotation, zorder=z,
                         linespacing=linespacing, **({"fontfamily": MONO} if mono else {}),
                         **({"bbox": dict(facecolor=bg, edgecolor="none", pad=1.0)} if bg is not None else {}))
        if section:
            t.set_url(href(section))
        return t

    def inside(self, colour) -> tuple:
        """The opaque colour of a sublayer frame's tinted fill (FRAME_ALPHA of `colour` over the page)."""
        a, page = FRAME_ALPHA, np.array(to_rgba(self.bg))
        return tuple((1 - a) * page + a * np.array(to_rgba(colour)))

    def link(self, x0, y0, x1, y1, section):
        """An invisible clickable area (fill painted at opacity 0, so it takes clicks)."""
        r = Rectangle((x0, y0), x1 - x0, y1 - y0, facecolor=(0, 0, 0, 0), edgecolor="none", zorder=6)
        r.set_url(href(section))
        self.ax.add_patch(r)

    def box(self, x, y, w, h, colour, *, alpha=0.2, lw=0.8, ls="-", z=1, round_=0.05, edge=None):
        self.ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle=f"round,pad=0,rounding_size={round_}",
                                         facecolor=to_rgba(colour, alpha), edgecolor=edge or colour,
                                         linewidth=lw, linestyle=ls, zorder=z))

    def chip(self, x, y, w, s, colour, section, *, h=0.2, size=SMALL, math=True):
        """A small labelled box (a parameter or an operation), top-left at (x, y)."""
        self.box(x, y, w, h, colour, alpha=0.22, z=3, round_=0.04)
        self.text(x + w / 2, y + h / 2, s, size=size, ha="center", math=math)
        self.link(x, y, x + w, y + h, section)

    def arrow(self, x0, y0, x1, y1, colour=None, lw=0.9):
        self.ax.annotate("", (x1, y1), (x0, y0), zorder=3, arrowprops=dict(
            arrowstyle="-|>", color=colour or self.muted, lw=lw, shrinkA=0, shrinkB=0, mutation_scale=7))

    def line(self, xs, ys, colour=None, lw=0.9, ls="-", z=2):
        self.ax.plot(xs, ys, color=colour or self.muted, lw=lw, ls=ls, zorder=z, solid_capstyle="butt")

    def plus(self, x, y, r=0.075, section="residual-stream"):
        """⊕: an addition into the residual stream."""
        self.ax.add_patch(Circle((x, y), r, facecolor=self.bg, edgecolor=style.OPERATION, lw=1.2, zorder=5))
        self.line([x - r * 0.6, x + r * 0.6], [y, y], style.OPERATION, lw=1.2, z=5)
        self.line([x, x], [y - r * 0.6, y + r * 0.6], style.OPERATION, lw=1.2, z=5)
        self.link(x - r, y - r, x + r, y + r, section)

    def glyph(self, x, y, s):
        self.text(x, y, s, size=14 if s == "·" else 10, color=style.OPERATION, ha="center")

    def frame(self, y0, y1, colour):
        """The tinted frame around a sublayer (attention, MLP), from y0 to y1 across the page."""
        self.box(FRAME_X, y0, RIGHT - FRAME_X, y1 - y0, colour, alpha=FRAME_ALPHA, lw=1.0, z=0, round_=0.08)

    def title(self, s: str, section: str):
        """A sublayer's title at the top of its frame."""
        self.text(FRAME_X + 0.1, self.y + 0.04, s, size=HEAD_FS, weight="bold", va="top", section=section)
        self.y += 0.36

    # --- vectors --------------------------------------------------------------------------------

    def strips(self, x, y, values, hook, rows, *, scale, c=None, sh=SH_S, pitch=PITCH_S, head=None) -> float:
        """values (len(rows), k) as strips of k cells from (x, y), one per entry of `rows` (its position);
        returns the bottom y."""
        rgba = cell_colours(values, scale, self.theme)  # (rows, k, 4)
        k, c = rgba.shape[1], c or self.c
        for i, p in enumerate(rows):
            top = y + i * pitch
            im = self.ax.imshow(rgba[i:i + 1], extent=(x, x + k * c, top + sh, top),
                                interpolation="none", aspect="auto", zorder=2)
            im.set_gid(strip_id(hook, p, head))
        return y + (len(rows) - 1) * pitch + sh

    def block(self, x, y, hook, values, label, section, *, rows=None, note=None, scale=None,
              labelled=True) -> float:
        """A block of strips under two label lines (its math label; its hook name, and at the right its
        colour scale ±s and `note`); returns the bottom y. `labelled`: rows are as tall as a token
        label (a stream block); otherwise thinner (inside a sublayer)."""
        rows = self.positions if rows is None else rows
        scale = self.scales[hook] = block_scale(values) if scale is None else scale
        w = values.shape[-1] * self.c
        self.text(x, y, label, math=True, va="top", section=section)
        self.text(x, y + 0.19, hook, size=SMALL, mono=True, color=self.muted, va="top", section=section)
        # The scale and note right of the hook name, or under the block when they don't fit beside it.
        side = f"±{scale:.3g}" + (f" · {note}" if note else "")
        room = w - len(hook) * MONO_CH - 0.1
        sh, pitch = (SH_S, PITCH_S) if labelled else ((SH_T, PITCH_T) if len(rows) > 1 else (SH_S, PITCH_S))
        bottom = self.strips(x, y + LABEL_H, values, hook, rows, scale=scale, sh=sh, pitch=pitch)
        if len(side) * SANS_CH <= room:
            self.text(x + w, y + 0.19, side, size=SMALL, color=self.muted, ha="right", va="top")
        else:
            self.text(x + w, bottom + 0.03, side, size=SMALL, color=self.muted, ha="right", va="top")
            bottom += 0.2
        self.link(x, y, x + w, bottom, section)
        return bottom

    def block_height(self, rows: int | None = None, labelled=True) -> float:
        """The height of a `block` with that many rows (its label lines included)."""
        n = self.P if rows is None else rows
        sh, pitch = (SH_S, PITCH_S) if labelled or n == 1 else (SH_T, PITCH_T)
        return LABEL_H + (n - 1) * pitch + sh

    def note(self, y, text: str, section: str, x=NOTE_X):
        """A few lines of explanation right of a block (our words, computed numbers)."""
        if text:
            self.text(x, y, "\n".join(wrap(text, RIGHT - x)), size=SMALL, color=self.muted, va="top",
                      section=section, linespacing=1.35)

    def length(self, hook: str, p: int) -> float:
        return round(float(np.linalg.norm(self.t[hook][p].astype(np.float64))), 2)

    def token_labels(self, top, x=LABEL_R):
        """The shown positions' tokens, right-aligned at x, one per labelled strip from `top`."""
        n = int((x - CH1 - 0.08) / MONO_CH)
        for i, s in enumerate(self.tokens):
            self.text(x, top + i * PITCH_S + SH_S / 2, short(s, n), size=SMALL, mono=True, ha="right",
                      color=self.muted, section="tokenizer")

    def mid(self, y0, rows: int | None = None, labelled=True):
        """The y of the middle of a block's strips whose label starts at y0."""
        return y0 + LABEL_H + (self.block_height(rows, labelled) - LABEL_H) / 2

    # --- the residual stream --------------------------------------------------------------------

    def stream_block(self, y, hook, label, section, note: str = "", *, quantile=None, note_y=None) -> float:
        """A checkpoint of the residual stream: a grey band from the channel, tokens, the block, a note."""
        values = self.t[hook][self.positions, : self.km]
        top = y + LABEL_H
        h = self.block_height()
        self.box(CH0, y - 0.06, X0 + self.km * self.c + 0.08 - CH0, h + 0.12, style.RESIDUAL, alpha=0.1, lw=0,
                 z=0)
        self.token_labels(top)
        self.note(y if note_y is None else note_y, note, section)
        scale = None if quantile is None else block_scale(values, quantile)
        clip = f"clipped at the {quantile * 100:.0f}th pct" if quantile is not None else None
        return self.block(X0, y, hook, values, label, section, scale=scale, note=clip)

    def read(self, y, s, section="layernorm"):
        """A branch reading the stream through a LayerNorm: channel → LN chip → the block at X0."""
        self.arrow(CH1, y, FRAME_X + 0.1, y, style.OPERATION)
        self.chip(FRAME_X + 0.1, y - 0.1, X0 - FRAME_X - 0.25, s, style.OPERATION, section)
        self.arrow(X0 - 0.15, y, X0 - 0.01, y, style.OPERATION)

    def write(self, y, section):
        """A branch writing back: an arrow from a block's left edge into ⊕ on the channel."""
        self.arrow(X0 - 0.02, y, CHX + 0.08, y, style.OPERATION)
        self.plus(CHX, y, section=section)

    def channel(self):
        """The residual stream's channel from e + p to the final LayerNorm's read (dashed where elided)."""
        y0, y1 = self.stream_top, self.stream_bottom
        spans = [(y0, y1)]
        if self.elided_span is not None:
            e0, e1 = self.elided_span
            spans = [(y0, e0), (e1, y1)]
            self.ax.add_patch(Rectangle((CH0, e0), CH1 - CH0, e1 - e0, facecolor="none",
                                        edgecolor=to_rgba(style.RESIDUAL, 0.8), hatch="...", lw=0, zorder=1))
        for a, b in spans:
            self.ax.add_patch(Rectangle((CH0, a), CH1 - CH0, b - a, facecolor=to_rgba(style.RESIDUAL, 0.45),
                                        edgecolor="none", zorder=1))
        for a, b in spans:
            self.link(CH0, a, CH1, b, "residual-stream")
            if b - a > 3:
                fill = np.array(to_rgba(style.RESIDUAL, 0.45))
                under = fill[3] * fill + (1 - fill[3]) * np.array(to_rgba(self.bg))  # the channel, opaque
                self.text(CHX, a + 0.9, "residual stream", size=SMALL, rotation=90, ha="center", va="top",
                          color=style.label_colour(tuple(under[:3])))

    def finish(self):
        """Fit the figure's height to what was drawn; return the figure."""
        h = self.y + 0.05
        self.fig.set_size_inches(W, h)
        self.ax.set_xlim(0, W)
        self.ax.set_ylim(h, 0)
        return self.fig
