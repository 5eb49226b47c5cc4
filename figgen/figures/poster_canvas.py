"""The poster's canvas: one axes in inches, its drawing primitives, vector strips and the residual stream.

`Canvas` holds what the poster's stage modules (`poster_input`, `poster_attention`, `poster_mlp`,
`poster_output`) share while they draw down the page: the figure, a y-cursor, the positions and
components shown, the cell width, and each block's colour scale (the figure's data). Its methods
are the parts every stage draws with: text, boxes, chips, arrows and ⊕; blocks of strips with their
labels; a checkpoint of the residual stream and the branches that read from it and write to it.
"""

from __future__ import annotations

import textwrap

import matplotlib
import numpy as np
from matplotlib.colors import TwoSlopeNorm, to_rgba
from matplotlib.figure import Figure as MplFigure
from matplotlib.patches import Circle, FancyBboxPatch, Rectangle

from ..context import printable
from . import style
from .poster_layout import (A_MIN, C_MAX, CH0, CH1, CHX, FRAME_ALPHA, FS, GAP_S, HOOK_FS, LABEL_H, LABEL_R,
                            MAX_POSITIONS, MONO, OPGAP, RIGHT, SH_H, SH_S, W, X0, href, strip_id)
from .vector import SHOWN

QUANTILE = 0.98  # each block's colour scale: ±this quantile of its |values| (larger values saturate)
CMAP = matplotlib.colormaps[style.DIVERGING]


def block_scale(values: np.ndarray) -> float:
    """± the colour scale of one block: the QUANTILE of |values| (4 decimals, never 0)."""
    vmax = style.symmetric_norm(np.round(np.asarray(values, np.float64), 4), QUANTILE).vmax
    return max(round(float(vmax), 4), 1e-4)


def cell_colours(values: np.ndarray, scale: float) -> np.ndarray:
    """(..., k) values → (..., k, 4) RGBA bytes: DIVERGING centred at 0, ±scale at the ends."""
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-scale, vmax=scale)
    return CMAP(norm(np.round(np.asarray(values, np.float64), 4)), bytes=True)


def short(s: str, n: int = 12) -> str:
    """A token string made printable and cut to n characters (… marks the cut)."""
    s = printable(s)
    return s if len(s) <= n else s[: n - 1] + "…"


class Canvas:
    """A y-cursor layout on one axes spanning the figure, in inches (x right, y down)."""

    def __init__(self, ctx):
        self.ctx, self.theme, self.t, self.d = ctx, ctx.theme, ctx.trace, ctx.dims
        n = len(self.t.tokens)
        self.positions = list(range(max(0, n - MAX_POSITIONS), n))
        self.P = len(self.positions)
        self.km, self.kh = min(self.d.d_model, SHOWN), min(self.d.d_head, SHOWN)
        self.kmlp, self.kvocab = min(self.d.d_mlp, SHOWN), min(self.d.d_vocab, SHOWN)
        self.a_w = max(A_MIN, self.P * SH_H + 2 * OPGAP)
        # Cell width: a head's row (q, k, pattern, v, z, output vector) fills the width; the rows with
        # two blocks side by side (e and p; LN₂'s output and the up-projection; the final LN and the
        # logits) must fit too.
        fixed = 0.1 + self.a_w + 2 * OPGAP + 0.2
        self.c = min(C_MAX, (RIGHT - X0 - fixed) / (4 * self.kh + self.km), (RIGHT - 5.2) / (2 * self.km),
                     (RIGHT - X0 - 1.4) / (self.km + max(self.kmlp, self.kvocab)))
        self.fig = MplFigure(figsize=(W, 10))
        self.ax = self.fig.add_axes((0, 0, 1, 1))
        self.ax.set_axis_off()
        self.ink, self.muted, self.bg = style.ink(self.theme), style.muted(self.theme), style.background(self.theme)
        self.scales: dict[str, float] = {}
        self.y = 0.25
        # The residual stream's channel runs from stream_top (set where e + p join) to stream_bottom
        # (the final LayerNorm's read), dashed over elided_span if layers are elided.
        self.stream_top = self.stream_bottom = 0.0
        self.elided_span: tuple[float, float] | None = None

    # --- primitives ---------------------------------------------------------------------------

    def text(self, x, y, s, *, size=FS, color=None, ha="left", va="center", math=False, mono=False,
             weight="normal", section=None, rotation=0, z=4, linespacing=1.2, bg=False):
        """Text; `math` parses $…$ (only for our own labels: token strings are never parsed); `bg` paints
        the attention frame's fill behind it, so lines there pass behind the text."""
        t = self.ax.text(x, y, s, fontsize=size, color=color or self.ink, ha=ha, va=va, parse_math=math,
                         fontweight=weight, rotation=rotation, zorder=z, linespacing=linespacing,
                         **({"fontfamily": MONO} if mono else {}),
                         **({"bbox": dict(facecolor=self.inside(style.ATTENTION), edgecolor="none", pad=1.0)}
                            if bg else {}))
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

    def chip(self, x, y, w, s, colour, section, *, h=0.2, size=FS, math=True):
        """A small labelled box (a parameter or an operation), top-left at (x, y)."""
        self.box(x, y, w, h, colour, alpha=0.22, z=3, round_=0.04)
        self.text(x + w / 2, y + h / 2, s, size=size, ha="center", math=math)
        self.link(x, y, x + w, y + h, section)

    def arrow(self, x0, y0, x1, y1, colour=None, lw=0.9):
        self.ax.annotate("", (x1, y1), (x0, y0), zorder=3, arrowprops=dict(
            arrowstyle="-|>", color=colour or self.muted, lw=lw, shrinkA=0, shrinkB=0, mutation_scale=7))

    def line(self, xs, ys, colour=None, lw=0.9, ls="-", z=2):
        self.ax.plot(xs, ys, color=colour or self.muted, lw=lw, ls=ls, zorder=z, solid_capstyle="butt")

    def plus(self, x, y, r=0.085, section="residual-stream"):
        """⊕: an addition into the residual stream."""
        self.ax.add_patch(Circle((x, y), r, facecolor=self.bg, edgecolor=style.OPERATION, lw=1.2, zorder=5))
        self.line([x - r * 0.6, x + r * 0.6], [y, y], style.OPERATION, lw=1.2, z=5)
        self.line([x, x], [y - r * 0.6, y + r * 0.6], style.OPERATION, lw=1.2, z=5)
        self.link(x - r, y - r, x + r, y + r, section)

    def glyph(self, x, y, s):
        self.text(x, y, s, size=16 if s == "·" else 10, color=style.OPERATION, ha="center")

    def frame(self, y0, y1, colour):
        """The tinted frame around a sublayer (attention, MLP), from y0 to y1 across the page."""
        self.box(0.6, y0, RIGHT - 0.6 + 0.05, y1 - y0, colour, alpha=FRAME_ALPHA, lw=1.0, z=0, round_=0.08)

    # --- vectors --------------------------------------------------------------------------------

    def strips(self, x, y, values, hook, rows, *, scale, sh=SH_S, gap=GAP_S, head=None) -> float:
        """values (len(rows), k) as strips of k cells from (x, y), one per entry of `rows` (its position);
        returns the bottom y."""
        rgba = cell_colours(values, scale)  # (rows, k, 4)
        k = rgba.shape[1]
        for i, p in enumerate(rows):
            top = y + i * (sh + gap)
            im = self.ax.imshow(rgba[i:i + 1], extent=(x, x + k * self.c, top + sh, top),
                                interpolation="none", aspect="auto", zorder=2)
            im.set_gid(strip_id(hook, p, head))
        return y + len(rows) * (sh + gap) - gap

    def block(self, x, y, hook, values, label, section, *, rows=None, note=None) -> float:
        """A labelled block of strips (math label and hook name above, its own colour scale); returns
        the bottom y."""
        rows = self.positions if rows is None else rows
        scale = self.scales[hook] = block_scale(values)
        w = values.shape[-1] * self.c
        self.text(x, y, label, math=True, va="top", section=section)
        self.text(x, y + 0.17, hook, size=HOOK_FS, mono=True, color=self.muted, va="top", section=section)
        self.text(x + w, y + 0.17, f"±{scale:.3g}" + (f" · {note}" if note else ""), size=HOOK_FS,
                  color=self.muted, ha="right", va="top")
        bottom = self.strips(x, y + LABEL_H, values, hook, rows, scale=scale)
        self.link(x, y, x + w, bottom, section)
        return bottom

    def note(self, y, text: str, section: str):
        """A few lines of explanation right of a block that starts at X0 (our words, computed numbers)."""
        if text:
            x = X0 + self.km * self.c + 0.45
            lines = textwrap.wrap(text, int((RIGHT - x) / 0.07))
            self.text(x, y + LABEL_H, "\n".join(lines), size=8.5, color=self.muted, va="top", section=section,
                      linespacing=1.4)

    def length(self, hook: str, p: int) -> float:
        return round(float(np.linalg.norm(self.t[hook][p].astype(np.float64))), 2)

    def token_labels(self, top):
        for i, p in enumerate(self.positions):
            self.text(LABEL_R, top + i * (SH_S + GAP_S) + SH_S / 2, short(self.t.display_tokens[p], 14), size=HOOK_FS,
                      mono=True, ha="right", color=self.muted, section="tokenizer")

    def mid(self, y0):
        """The y of the middle of a block's strips whose label starts at y0."""
        return y0 + LABEL_H + (self.P * (SH_S + GAP_S) - GAP_S) / 2

    # --- the residual stream --------------------------------------------------------------------

    def stream_block(self, y, hook, label, section, note: str = "") -> float:
        """A checkpoint of the residual stream: a grey band from the channel, tokens, the block, a note."""
        values = self.t[hook][self.positions, : self.km]
        top = y + LABEL_H
        self.box(CH0, y - 0.06, X0 + self.km * self.c + 0.08 - CH0, LABEL_H + self.P * (SH_S + GAP_S) + 0.1,
                 style.RESIDUAL, alpha=0.1, lw=0, z=0)
        self.token_labels(top)
        self.note(y, note, section)
        return self.block(X0, y, hook, values, label, section)

    def read(self, y, s, section="layernorm"):
        """A branch reading the stream through a LayerNorm: channel → LN chip → the block at X0."""
        self.arrow(CH1, y, 0.66, y, style.OPERATION)
        self.chip(0.66, y - 0.1, LABEL_R - 0.66, s, style.OPERATION, section)
        self.arrow(LABEL_R, y, X0, y, style.OPERATION)

    def write(self, y, section):
        """A branch writing back: an arrow from a block's left edge into ⊕ on the channel."""
        self.arrow(X0 - 0.02, y, CHX + 0.09, y, style.OPERATION)
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
                self.text(CHX, a + 1.0, "residual stream", size=7, rotation=90, ha="center", va="top",
                          color=self.ink)

    def finish(self):
        """Fit the figure's height to what was drawn; return the figure."""
        h = self.y + 0.1
        self.fig.set_size_inches(W, h)
        self.ax.set_xlim(0, W)
        self.ax.set_ylim(h, 0)
        return self.fig
