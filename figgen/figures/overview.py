"""The poster: the whole forward pass as one vector-level graph, computed from the build's trace.

One tall figure in the infographic's vertical order: the prompt and its tokens; the W_E and W_pos
lookups; the input embeddings; the residual stream running down the left edge, with branches that
read it through a LayerNorm and write back with ⊕ — layer 0's attention sublayer (its heads stacked,
each adding its own output vector z·W_O to the stream, no concatenation) and layer 0's MLP; the
other layers elided; the final LayerNorm; the unembedding of the final position only; decoding.

Every vector is a strip of cells in the shared diverging map (first `SHOWN` components). A strip is
a one-pixel-high image drawn without interpolation (`image-rendering: pixelated`), so its cells stay
sharp at any zoom while GPT-2's ~50,000 cells cost a few hundred kilobytes (as <rect>s they would
take ~5 MB). Each strip image has the id `<hook>/p<pos>` (`<hook>/h<head>/p<pos>` for per-head
vectors, `<hook>/h<head>` for a pattern), so tests can find its cells. Every part links (SVG <a>)
to its section page with an href relative to where the build serves figure files (`SERVED_AT`),
so the links work under any site prefix (mike versions) and when the SVG is opened on its own.
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
from .registry import PAGES, Figure, figure
from .vector import SHOWN, shown_note

# Where the site serves generated figure files (figgen.mkdocs_plugin.SITE_DIR + "/figures/"; a test
# holds the two equal). Links inside the SVG resolve against this folder, not against the page.
SERVED_AT = "figgen/figures/"

MAX_POSITIONS = 12  # longer prompts show their last 12 positions (the final one is the one decoded)
TOP_K = 5  # rows of the decoding table
QUANTILE = 0.98  # each block's colour scale: ±this quantile of its |values| (larger values saturate)
CMAP = matplotlib.colormaps[style.DIVERGING]

# Geometry, in inches; y grows down the page.
W = 11.0  # figure width: fonts are sized for it at ~1,000 px on screen
RIGHT = W - 0.25  # right edge of the content
CH0, CH1 = 0.25, 0.5  # the residual stream's channel
CHX = (CH0 + CH1) / 2
LABEL_R = 1.4  # right edge of the row labels (tokens, heads) left of the blocks
BUS_X = 0.78  # the line that carries LN₁'s output down to every head
X0 = 1.5  # left edge of every block drawn next to the channel
SH_S, GAP_S = 0.1, 0.022  # a stream strip's height and the gap between strips
SH_H, GAP_H = 0.05, 0.012  # the same for the heads' strips
LABEL_H = 0.34  # a block's two label lines (math name, hook name) above its strips
OPGAP = 0.32  # room for an operator glyph (→, ·, =) between two blocks in a head's row
A_MIN = 1.35  # room for the attention pattern's column (its hook name is long)
C_MAX = 0.045  # widest cell (small models)
FS = 9.5  # main label size (pt); hook names use HOOK_FS in monospace
HOOK_FS = 7.0
MONO = "DejaVu Sans Mono"
FRAME_ALPHA = 0.05  # tint of a sublayer's frame


def href(section: str) -> str:
    """The link to a section's page from where the poster's SVG is served."""
    return "../" * SERVED_AT.count("/") + PAGES[section]


def strip_id(hook: str, pos: int | None = None, head: int | None = None) -> str:
    """The id of a strip's image (or a pattern's) in the SVG: `<hook>[/h<head>][/p<pos>]`."""
    return hook + (f"/h{head}" if head is not None else "") + (f"/p{pos}" if pos is not None else "")


def block_scale(values: np.ndarray) -> float:
    """± the colour scale of one block: the QUANTILE of |values| (4 decimals, never 0)."""
    vmax = style.symmetric_norm(np.round(np.asarray(values, np.float64), 4), QUANTILE).vmax
    return max(round(float(vmax), 4), 1e-4)


def cell_colours(values: np.ndarray, scale: float) -> np.ndarray:
    """(..., k) values → (..., k, 4) RGBA bytes: DIVERGING centred at 0, ±scale at the ends."""
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-scale, vmax=scale)
    return CMAP(norm(np.round(np.asarray(values, np.float64), 4)), bytes=True)


def top_tokens(logits: np.ndarray, k: int = TOP_K) -> tuple[np.ndarray, np.ndarray]:
    """(ids, probabilities) of the k most likely next tokens, ties broken by lower id."""
    z = logits.astype(np.float64) - logits.max()
    probs = np.exp(z) / np.exp(z).sum()
    ids = np.argsort(-probs, kind="stable")[:k]
    return ids, probs[ids]


def _short(s: str, n: int = 12) -> str:
    s = printable(s)
    return s if len(s) <= n else s[: n - 1] + "…"


def _elided(n_layers: int) -> str:
    return "Layer 1" if n_layers == 2 else f"Layers 1–{n_layers - 1}"


def _percent(p: float) -> str:
    return f"{p:.1%}" if p >= 0.001 else f"{p * 100:.1g}%"


class _Poster:
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

    def stream_block(self, y, hook, label, section, note: str = "") -> float:
        """A checkpoint of the residual stream: a grey band from the channel, tokens, the block, a note."""
        values = self.t[hook][self.positions, : self.km]
        top = y + LABEL_H
        self.box(CH0, y - 0.06, X0 + self.km * self.c + 0.08 - CH0, LABEL_H + self.P * (SH_S + GAP_S) + 0.1,
                 style.RESIDUAL, alpha=0.1, lw=0, z=0)
        self.token_labels(top)
        self.note(y, note, section)
        return self.block(X0, y, hook, values, label, section)

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
            self.text(LABEL_R, top + i * (SH_S + GAP_S) + SH_S / 2, _short(self.t.display_tokens[p], 14), size=HOOK_FS,
                      mono=True, ha="right", color=self.muted, section="tokenizer")

    def read(self, y, s, section="layernorm"):
        """A branch reading the stream through a LayerNorm: channel → LN chip → the block at X0."""
        self.arrow(CH1, y, 0.66, y, style.OPERATION)
        self.chip(0.66, y - 0.1, LABEL_R - 0.66, s, style.OPERATION, section)
        self.arrow(LABEL_R, y, X0, y, style.OPERATION)

    def write(self, y, section):
        """A branch writing back: an arrow from a block's left edge into ⊕ on the channel."""
        self.arrow(X0 - 0.02, y, CHX + 0.09, y, style.OPERATION)
        self.plus(CHX, y, section=section)

    def mid(self, y0):
        """The y of the middle of a block's strips whose label starts at y0."""
        return y0 + LABEL_H + (self.P * (SH_S + GAP_S) - GAP_S) / 2

    # --- sections -------------------------------------------------------------------------------

    def header(self, ctx):
        d, info = self.d, ctx.model_info
        self.text(CH0, self.y, "A vector-level view of GPT-2, computed", size=17, weight="bold", va="top")
        self.y += 0.42
        lines = [
            f"One forward pass of {info['name']} ({d.n_layers} layers × {d.n_heads} heads, d_model = {d.d_model}, "
            f"d_head = {d.d_head}, d_mlp = {d.d_mlp:,}, {d.d_vocab:,} tokens), drawn one vector at a time.",
            "Each strip is one vector, one cell per component: blue negative, white 0, red positive. "
            "Each block has its own colour scale ±s, printed at its top right.",
            f"Vectors of d_model: {shown_note(d.d_model)}; of d_head: {shown_note(d.d_head)}; "
            f"of d_mlp: {shown_note(d.d_mlp)}.",
            "Small type: the TransformerLens name of each vector in the trace. Click any part to open its page.",
        ]
        if self.P < len(self.t.tokens):
            lines.append(f"Rows are positions: the last {self.P} of the prompt's {len(self.t.tokens)} tokens "
                         "are shown.")
        for line in textwrap.wrap(" ".join(lines), int((RIGHT - CH0) / 0.066)):
            self.text(CH0, self.y, line, size=8.5, color=self.muted, va="top")
            self.y += 0.18
        self.y += 0.05
        # Legend: the infographic's kinds of boxes, and the value colours.
        x = CH0
        for name, colour in [("operation", style.OPERATION), ("parameter", style.PARAMETER),
                             ("tokenizer", style.TOKENIZER), ("residual stream", style.RESIDUAL),
                             ("attention", style.ATTENTION), ("MLP", style.MLP)]:
            self.box(x, self.y, 0.16, 0.14, colour, alpha=0.35)
            self.text(x + 0.22, self.y + 0.07, name, size=7.5)
            x += 0.32 + 0.075 * len(name)
        ramp = CMAP(np.linspace(0, 1, 128)[None, :], bytes=True)
        self.ax.imshow(ramp, extent=(x + 0.3, x + 2.3, self.y + 0.14, self.y), interpolation="none",
                       aspect="auto", zorder=2)
        self.text(x + 0.25, self.y + 0.07, "−s", size=7.5, ha="right")
        self.text(x + 1.3, self.y + 0.24, "0", size=7, ha="center", color=self.muted)
        self.text(x + 2.35, self.y + 0.07, "+s", size=7.5)
        self.y += 0.5

    def embedding(self):
        t, P = self.t, self.P
        # The prompt and the tokenizer.
        prompt = textwrap.wrap(printable(t.prompt), int((RIGHT - 3.3) / 0.072), drop_whitespace=False)
        prompt = prompt[:2] + (["…"] if len(prompt) > 2 else [])
        self.text(CH0, self.y + 0.1, "prompt", size=7, color=self.muted, section="tokenizer")
        h = 0.08 + 0.16 * len(prompt)
        x1 = RIGHT - 2.3
        self.box(0.8, self.y, x1 - 0.8, h, style.TOKENIZER, alpha=0.08)
        for i, line in enumerate(prompt):
            self.text(0.9, self.y + 0.04 + 0.16 * i, line, size=8.5, mono=True, va="top")
        self.link(0.8, self.y, x1, self.y + h, "tokenizer")
        self.arrow(x1, self.y + 0.1, x1 + 0.25, self.y + 0.1, style.OPERATION)
        self.chip(x1 + 0.25, self.y, 0.95, "tokenizer", style.TOKENIZER, "tokenizer", math=False)
        self.text(x1 + 1.3, self.y + 0.1, f"{len(t.tokens)} tokens", size=8, color=self.muted)
        self.y += max(h, 0.2) + 0.25
        # Tokens (rows) → W_E rows: token embeddings e; positions → W_pos rows: positional embeddings p.
        top = self.y + LABEL_H
        for i, p in enumerate(self.positions):
            ty = top + i * (SH_S + GAP_S)
            self.box(CH0, ty, 1.25, SH_S, style.TOKENIZER, alpha=0.22, lw=0.5, round_=0.02)
            self.text(CH0 + 0.04, ty + SH_S / 2, _short(t.display_tokens[p], 15), size=HOOK_FS, mono=True)
            self.text(CH0 + 1.21, ty + SH_S / 2, str(int(t.tokens[p])), size=5.5, mono=True, ha="right",
                      color=self.muted)
        self.link(CH0, top, CH0 + 1.25, top + P * (SH_S + GAP_S), "tokenizer")
        self.text(CH0, self.y, "tokens", math=False, va="top", section="tokenizer")
        self.text(CH0, self.y + 0.17, "id per position", size=HOOK_FS, color=self.muted, va="top")
        ym = self.mid(self.y)
        xe = 2.3
        self.arrow(CH0 + 1.27, ym, 1.6, ym)
        self.chip(1.6, ym - 0.1, 0.6, "$W_E$", style.PARAMETER, "embedding")
        self.arrow(2.2, ym, xe, ym)
        bottom = self.block(xe, self.y, "hook_embed", t["hook_embed"][self.positions, : self.km],
                            "e · token embeddings", "embedding", note="rows of W_E")
        xe1 = xe + self.km * self.c
        self.glyph(xe1 + 0.17, ym, "+")
        xp_lbl = xe1 + 0.35
        for i, p in enumerate(self.positions):
            self.text(xp_lbl + 0.25, top + i * (SH_S + GAP_S) + SH_S / 2, str(p), size=HOOK_FS, mono=True,
                      ha="right", color=self.muted, section="positional")
        self.text(xp_lbl, self.y + 0.17, "pos", size=HOOK_FS, color=self.muted, va="top")
        self.arrow(xp_lbl + 0.3, ym, xp_lbl + 0.4, ym)
        self.chip(xp_lbl + 0.4, ym - 0.1, 0.7, "$W_{pos}$", style.PARAMETER, "positional")
        xp = xp_lbl + 1.2
        self.arrow(xp_lbl + 1.1, ym, xp, ym)
        self.block(xp, self.y, "hook_pos_embed", t["hook_pos_embed"][self.positions, : self.km],
                   "p · positional embeddings", "positional", note="rows of W_pos")
        # e + p: both join the channel at ⊕, where the residual stream starts.
        yj = bottom + 0.2
        for xc in (xe + self.km * self.c / 2, xp + self.km * self.c / 2):
            self.line([xc, xc], [bottom + 0.02, yj])
        self.line([xp + self.km * self.c / 2, CHX + 0.09], [yj, yj])
        self.plus(CHX, yj, section="input-embeddings")
        self.stream_top = yj
        self.y = yj + 0.22
        last = self.positions[-1]
        self.y = self.stream_block(
            self.y, "blocks.0.hook_resid_pre", "x = e + p · input embeddings", "input-embeddings",
            "The first vector of each position: its token's embedding plus its position's embedding. From "
            "here on the stream changes only by addition (⊕): each sublayer reads it through a LayerNorm and "
            f"adds its output back. Length of the last position's vector: "
            f"{self.length('blocks.0.hook_resid_pre', last):.2f}.") + 0.3

    def attention(self):
        t, d, P = self.t, self.d, self.P
        L = 0
        a = f"blocks.{L}.attn."
        frame_top = self.y
        self.text(0.7, self.y + 0.02, f"Attention sublayer · layer {L} · {d.n_heads} heads, each adding its own "
                  "output vector to the stream (no concatenation)", size=10.5, weight="bold", va="top",
                  color=self.ink, section="attention-head")
        self.y += 0.35
        # Read: LayerNorm 1.
        ym = self.mid(self.y)
        self.read(ym, "LN₁")
        xhat_bottom = self.block(X0, self.y, f"blocks.{L}.ln1.hook_normalized",
                                 t[f"blocks.{L}.ln1.hook_normalized"][self.positions, : self.km],
                                 "x̂ = LN₁(x), what every head reads", "layernorm")
        self.note(self.y, "LayerNorm centres each position's vector, scales it to unit variance, then "
                  "multiplies it by γ and adds β (learned, one value per component). Every read of the stream "
                  "goes through one.", "layernorm")
        self.y = xhat_bottom + 0.25
        # Column geometry of a head's row: q k → A · v = z → z·W_O.
        c, kh, km = self.c, self.kh, self.km
        xq = X0
        xk = xq + kh * c + 0.1
        xa = xk + kh * c + (self.a_w - P * SH_H) / 2
        xv = xk + kh * c + self.a_w
        xz = xv + kh * c + OPGAP
        xr = xz + kh * c + OPGAP
        xbus = xr + km * c + 0.12
        cols = {
            "q": (xq, kh * c, f"$W_Q^{{{L},h}}$", style.PARAMETER, "qkv", f"$q^{{{L},h}}$", "hook_q", "qkv"),
            "k": (xk, kh * c, f"$W_K^{{{L},h}}$", style.PARAMETER, "qkv", f"$k^{{{L},h}}$", "hook_k", "qkv"),
            "A": (xa + P * SH_H / 2 - 0.6, 1.2, "softmax, causal", style.OPERATION, "causal-attention",
                  f"$A^{{{L},h}}$ pattern", "hook_pattern", "attention-pattern"),
            "v": (xv, kh * c, f"$W_V^{{{L},h}}$", style.PARAMETER, "qkv", f"$v^{{{L},h}}$", "hook_v", "qkv"),
            "z": (xz, kh * c, r"$\Sigma_j\,A_{ij}v_j$", style.OPERATION, "result-vectors", f"$z^{{{L},h}}$",
                  "hook_z", "result-vectors"),
            "r": (xr, km * c, f"$W_O^{{{L},h}}$", style.PARAMETER, "output-vectors",
                  f"$z^{{{L},h}}W_O^{{{L},h}}$ · output vector", "hook_result", "output-vectors"),
        }
        # Shared colour scales per hook (across heads), so heads compare.
        q, k, v, z = (t[a + f"hook_{n}"][self.positions, :, :kh] for n in "qkvz")  # (P, head, kh)
        result = t[a + "hook_result"][self.positions, :, :km]  # (P, head, km)
        pattern = t[a + "hook_pattern"][:, self.positions][:, :, self.positions]  # (head, P, P)
        for n, vals in zip(("q", "k", "v", "z", "result"), (q, k, v, z, result)):
            self.scales[a + f"hook_{n}"] = block_scale(vals)
        # Column headers: the parameter or operation, the vector's name, its hook (the common prefix
        # blocks.0.attn. once, on the left: the full names don't fit over narrow columns), its scale.
        self.text(LABEL_R, self.y + 0.52, a, size=HOOK_FS, mono=True, ha="right", color=self.muted, bg=True)
        for key, (x, w, chip, colour, chip_sec, label, hook, sec) in cols.items():
            cw = min(w, 1.2) if key != "A" else w
            self.chip(x + (w - cw) / 2, self.y, cw, chip, colour, chip_sec, math=key != "A", size=8)
            self.text(x + w / 2, self.y + 0.28, label, math=True, ha="center", va="top", section=sec)
            self.text(x + w / 2, self.y + 0.52, hook, size=HOOK_FS, mono=True, ha="center", color=self.muted,
                      section=sec)
            if key != "A":
                self.text(x + w / 2, self.y + 0.64, f"±{self.scales[a + hook]:.3g}", size=HOOK_FS - 0.5,
                          ha="center", color=self.muted)
            else:
                self.text(x + w / 2, self.y + 0.64, "0 … 1", size=HOOK_FS - 0.5, ha="center", color=self.muted)
        self.y += 0.74
        bus_top = self.y
        row_h = P * (SH_H + GAP_H) - GAP_H
        first_mid = None
        for h in range(d.n_heads):
            y = self.y
            m = y + row_h / 2
            first_mid = first_mid or m
            self.arrow(BUS_X, m, xq - 0.02, m, lw=0.6)
            self.text((BUS_X + X0) / 2, m, f"L{L}H{h}", size=7.5, ha="center", section="attention-head", bg=True)
            for key, vals in (("q", q), ("k", k), ("v", v), ("z", z)):
                self.strips(cols[key][0], y, vals[:, h], a + f"hook_{key}", self.positions,
                            scale=self.scales[a + f"hook_{key}"], sh=SH_H, gap=GAP_H, head=h)
            self.strips(xr, y, result[:, h], a + "hook_result", self.positions, scale=self.scales[a + "hook_result"],
                        sh=SH_H, gap=GAP_H, head=h)
            # The pattern: query rows × key columns, masked (transparent) above the diagonal.
            rgba = cell_colours(pattern[h], 1.0)
            rgba[np.triu(np.ones((P, P), bool), 1)] = 0
            im = self.ax.imshow(rgba, extent=(xa, xa + P * SH_H, y + P * SH_H, y), interpolation="none",
                                aspect="auto", zorder=2)
            im.set_gid(strip_id(a + "hook_pattern", head=h))
            self.ax.add_patch(Rectangle((xa, y), P * SH_H, P * SH_H, facecolor="none", edgecolor=self.muted,
                                        lw=0.4, zorder=2))
            self.glyph(xk + kh * c + (xa - xk - kh * c) / 2, m, "→")
            self.glyph(xa + P * SH_H + (xv - xa - P * SH_H) / 2, m, "·")
            self.glyph(xz - OPGAP / 2, m, "=")
            self.glyph(xr - OPGAP / 2, m, "→")
            self.line([xr + km * c + 0.02, xbus], [m, m], lw=0.6)
            for key, sec in (("q", "qkv"), ("k", "qkv"), ("v", "qkv"), ("z", "result-vectors"),
                             ("r", "output-vectors")):
                x, w = cols[key][0], cols[key][1]
                self.link(x, y, x + w, y + row_h, sec)
            self.link(xa, y, xa + P * SH_H, y + P * SH_H, "attention-pattern")
            self.y += row_h + 0.14
        # Every head reads x̂: a bus from the LN output down the left of the rows.
        self.line([BUS_X, BUS_X], [xhat_bottom + 0.04, self.y - 0.14 - row_h / 2], lw=0.6)
        self.line([BUS_X, X0 + 0.2], [xhat_bottom + 0.04, xhat_bottom + 0.04], lw=0.6)
        # QK and OV circuits.
        yb = self.y
        for x0, x1, s, sec in ((xq, xa + P * SH_H, f"QK circuit: $W_Q^{{{L},h}}$ and $W_K^{{{L},h}}$ decide "
                                "where each position reads (A)", "qk-circuit"),
                               (xv, xr + km * c, f"OV circuit: $W_V^{{{L},h}}$ and $W_O^{{{L},h}}$ decide what "
                                "is written", "ov-circuit")):
            self.line([x0, x0, x1, x1], [yb, yb + 0.07, yb + 0.07, yb], colour=self.ink, lw=0.8)
            self.text((x0 + x1) / 2, yb + 0.12, s, size=7.5, math=True, ha="center", va="top", section=sec)
            self.link(x0, yb, x1, yb + 0.3, sec)
        self.y = yb + 0.42
        # Sum of the heads' outputs + b_O → attn_out → ⊕ into the stream.
        ym = self.mid(self.y)
        self.line([xbus, xbus], [first_mid, ym], lw=0.9)
        chip_x = X0 + km * c + 0.35
        chip_w = 2.3
        self.line([xbus, chip_x + chip_w], [ym, ym], lw=0.9)
        self.arrow(chip_x + chip_w, ym, chip_x + chip_w - 0.001, ym)
        self.chip(chip_x, ym - 0.11, chip_w, rf"$\Sigma_h\, z^{{{L},h}}W_O^{{{L},h}} + b_O^{{{L}}}$",
                  style.OPERATION, "output-vectors", h=0.22)
        self.arrow(chip_x, ym, X0 + km * c + 0.03, ym, style.OPERATION)
        bottom = self.block(X0, self.y, f"blocks.{L}.hook_attn_out",
                            t[f"blocks.{L}.hook_attn_out"][self.positions, :km],
                            "attention output: the sum of the heads' output vectors", "output-vectors")
        self.write(ym, "residual-stream")
        self.frame(frame_top - 0.08, bottom + 0.12, style.ATTENTION)
        self.y = bottom + 0.3
        self.y = self.stream_block(self.y, f"blocks.{L}.hook_resid_mid",
                                   "x + attention output · residual stream", "residual-stream",
                                   "After attention: each position has added its heads' output vectors, made of "
                                   "what they read at this and earlier positions. Attention is the only place "
                                   "where positions exchange information.") + 0.3

    def frame(self, y0, y1, colour):
        self.box(0.6, y0, RIGHT - 0.6 + 0.05, y1 - y0, colour, alpha=FRAME_ALPHA, lw=1.0, z=0, round_=0.08)

    def mlp(self):
        t, L, km, c = self.t, 0, self.km, self.c
        frame_top = self.y
        self.text(0.7, self.y + 0.02, f"MLP sublayer · layer {L} · each position on its own", size=9.5,
                  weight="bold", va="top", section="mlp")
        self.y += 0.35
        ym = self.mid(self.y)
        self.read(ym, "LN₂")
        self.block(X0, self.y, f"blocks.{L}.ln2.hook_normalized",
                   t[f"blocks.{L}.ln2.hook_normalized"][self.positions, :km], "x̂ = LN₂(x)", "layernorm")
        x1 = X0 + km * c + 0.1
        self.arrow(x1, ym, x1 + 0.1, ym)
        self.chip(x1 + 0.1, ym - 0.1, 0.8, f"$W_{{in}}^{{{L}}}$", style.PARAMETER, "up-projection")
        xpre = x1 + 1.1
        self.arrow(x1 + 0.9, ym, xpre, ym)
        pre_bottom = self.block(xpre, self.y, f"blocks.{L}.mlp.hook_pre",
                                t[f"blocks.{L}.mlp.hook_pre"][self.positions, :self.kmlp],
                                f"h = x̂ $W_{{in}}^{{{L}}} + b_{{in}}^{{{L}}}$ · up-projection", "up-projection",
                                note=f"{self.kmlp} of {self.d.d_mlp:,} shown")
        # GELU, down the page; then back (right to left) through W_out into the stream.
        y2 = pre_bottom + 0.3
        xc = xpre + self.kmlp * c / 2
        self.arrow(xc, pre_bottom + 0.02, xc, y2 - 0.02, style.OPERATION)
        self.chip(xc + 0.12, pre_bottom + 0.04, 0.7, "GELU", style.OPERATION, "gelu", math=False)
        ym2 = self.mid(y2)
        self.block(xpre, y2, f"blocks.{L}.mlp.hook_post", t[f"blocks.{L}.mlp.hook_post"][self.positions, :self.kmlp],
                   "GELU(h) · activations", "gelu")
        self.arrow(xpre - 0.02, ym2, x1 + 0.9, ym2)
        self.chip(x1 + 0.1, ym2 - 0.1, 0.8, f"$W_{{out}}^{{{L}}}$", style.PARAMETER, "down-projection")
        self.arrow(x1 + 0.1, ym2, X0 + km * c + 0.03, ym2)
        bottom = self.block(X0, y2, f"blocks.{L}.hook_mlp_out", t[f"blocks.{L}.hook_mlp_out"][self.positions, :km],
                            f"GELU(h) $W_{{out}}^{{{L}}} + b_{{out}}^{{{L}}}$ · MLP output", "down-projection")
        self.write(ym2, "residual-stream")
        self.frame(frame_top - 0.08, bottom + 0.12, style.MLP)
        self.y = bottom + 0.3
        self.y = self.stream_block(self.y, f"blocks.{L}.hook_resid_post",
                                   "x + MLP output · residual stream after layer 0", "residual-stream",
                                   "After the MLP, which works on each position on its own. This is what the "
                                   "next layer reads (its hook_resid_pre).") + 0.25

    def elided(self):
        L = self.d.n_layers
        if L < 2:
            return
        y0, h = self.y, 0.62
        self.box(CH0 - 0.1, y0, RIGHT - CH0 + 0.15, h, style.RESIDUAL, alpha=0.06, lw=1.0, ls=(0, (4, 3)))
        what = _elided(L)
        self.text((X0 + RIGHT) / 2, y0 + 0.2, f"⋮   {what} elided: the same attention and MLP sublayers, "
                  "each layer with its own weights   ⋮", size=9.5, ha="center", section="residual-stream")
        hooks = "blocks.1.*" if L == 2 else f"blocks.1.* … blocks.{L - 1}.*"
        self.text((X0 + RIGHT) / 2, y0 + 0.42, hooks, size=HOOK_FS + 0.5, mono=True, ha="center",
                  color=self.muted, section="residual-stream")
        self.link(CH0 - 0.1, y0, RIGHT + 0.05, y0 + h, "residual-stream")
        self.elided_span = (y0, y0 + h)
        self.y += h + 0.25
        last = self.positions[-1]
        self.y = self.stream_block(
            self.y, f"blocks.{L - 1}.hook_resid_post", f"x · residual stream after the last layer ({L - 1})",
            "residual-stream",
            f"After all {L} layers the last position's vector has length "
            f"{self.length(f'blocks.{L - 1}.hook_resid_post', last):.2f} (it entered with "
            f"{self.length('blocks.0.hook_resid_pre', last):.2f}). Only this position is decoded: its vector "
            "predicts the next token.") + 0.25

    def output(self, ctx):
        t, km, c = self.t, self.km, self.c
        last = self.positions[-1]
        self.text(0.7, self.y, "Output · the final position only", size=10.5, weight="bold", va="top",
                  section="unembedding")
        self.y += 0.3
        ym = self.y + LABEL_H + SH_S / 2
        self.read(ym, "LN$_f$")
        self.block(X0, self.y, "ln_final.hook_normalized", t["ln_final.hook_normalized"][[last], :km],
                   "x̂ = LN$_f$(x) at the last position", "layernorm", rows=[last])
        self.stream_bottom = ym
        x1 = X0 + km * c + 0.1
        self.arrow(x1, ym, x1 + 0.1, ym)
        W_U, W_E = ctx.weights["W_U"], ctx.weights["W_E"]
        tied = bool(np.array_equal(W_U[:, :64], W_E[:64].T))
        self.chip(x1 + 0.1, ym - 0.1, 1.1, "$W_U = W_E^T$" if tied else "$W_U$", style.PARAMETER, "unembedding")
        xl = x1 + 1.35
        self.arrow(x1 + 1.2, ym, xl, ym)
        logits = t["logits"][last]
        bottom = self.block(xl, self.y, "logits", logits[None, : self.kvocab], "logits: one per token",
                            "unembedding", rows=[last], note=f"ids 0–{self.kvocab - 1} of {self.d.d_vocab:,}")
        # Decoding: softmax → top tokens with their probabilities → the most likely one.
        y = bottom + 0.35
        ids, probs = top_tokens(logits)
        xs = xl + self.kvocab * c / 2
        self.arrow(xs, bottom + 0.03, xs, y - 0.03, style.OPERATION)
        self.chip(xs + 0.12, bottom + 0.05, 0.8, "softmax", style.OPERATION, "decoding", math=False)
        tokens = [printable(s) for s in ctx.tokenizer.convert_ids_to_tokens([int(i) for i in ids])]
        self.text(xl, y, f"top {len(ids)} of {self.d.d_vocab:,} next tokens", size=FS, va="top", section="decoding")
        row = 0.19
        for i, (tok, p) in enumerate(zip(tokens, probs)):
            ry = y + 0.25 + i * row
            self.text(xl, ry + row / 2, _short(tok, 16), size=7.5, mono=True, weight="bold" if i == 0 else "normal")
            self.ax.add_patch(Rectangle((xl + 1.3, ry + 0.03), 1.2 * float(p), row - 0.06,
                                        facecolor=style.TOKENIZER, edgecolor="none", zorder=2))
            self.text(xl + 2.6, ry + row / 2, _percent(p), size=7.5)
        table_bottom = y + 0.25 + len(ids) * row
        self.link(xl, y, xl + 3.1, table_bottom, "decoding")
        tm = y + 0.25 + row / 2
        self.arrow(xl + 3.2, tm, xl + 3.6, tm, style.OPERATION)
        self.text(xl + 3.65, tm - 0.2, "most likely", size=7, color=self.muted)
        w = 0.4 + 0.09 * len(_short(tokens[0], 16))
        self.box(xl + 3.65, tm - 0.13, w, 0.26, style.TOKENIZER, alpha=0.3, lw=1.2)
        self.text(xl + 3.65 + w / 2, tm, _short(tokens[0], 16), size=10, mono=True, weight="bold", ha="center")
        self.link(xl + 3.65, tm - 0.13, xl + 3.65 + w, tm + 0.13, "decoding")
        self.y = table_bottom + 0.2
        return ids, probs

    def channel(self):
        """The residual stream's channel from e + p to the final LayerNorm's read (dashed where elided)."""
        y0, y1 = self.stream_top, self.stream_bottom
        spans = [(y0, y1)]
        if hasattr(self, "elided_span"):
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
        h = self.y + 0.1
        self.fig.set_size_inches(W, h)
        self.ax.set_xlim(0, W)
        self.ax.set_ylim(h, 0)
        return self.fig


@figure("overview.poster", section="overview", title="The whole forward pass, one vector at a time",
        caption="Every strip is a vector from one forward pass of the prompt: the tokens and their embeddings, "
                "the residual stream down the left, layer 0's attention heads and MLP, the other layers elided, "
                "and the unembedding and decoding of the final position. Click any part to open its page.")
def poster(ctx) -> Figure:
    p = _Poster(ctx)
    p.header(ctx)
    p.embedding()
    p.attention()
    p.mlp()
    p.elided()
    ids, probs = p.output(ctx)
    p.channel()
    fig = p.finish()
    d, t = ctx.dims, ctx.trace
    top = [{"token": ctx.token_str(i), "id": int(i), "prob": round(float(q), 4)} for i, q in zip(ids, probs)]
    return Figure(
        data={"prompt": printable(t.prompt), "n_layers": d.n_layers, "n_heads": d.n_heads, "d_model": d.d_model,
              "d_head": d.d_head, "d_mlp": d.d_mlp, "d_vocab": d.d_vocab, "n_tokens": len(t.tokens), "positions_shown": p.P,
              "components_shown": p.km, "top": top, "predicted": top[0]["token"], "predicted_prob": top[0]["prob"],
              "scales": dict(sorted(p.scales.items())), "links": {s: href(s) for s in PAGES}},
        alt=f"Poster of one forward pass of {ctx.model_info['name']} on the prompt {printable(t.prompt)!r} "
            f"({len(t.tokens)} tokens): token and positional embeddings summed into the residual stream, "
            f"layer 0's {d.n_heads} attention heads each adding its own output vector, layer 0's MLP, "
            f"{_elided(d.n_layers).lower() + ' elided, ' if d.n_layers > 1 else ''}"
            f"and the unembedding of the final position; the most likely next token is {top[0]['token']!r} "
            f"({_percent(top[0]['prob'])}).",
        mpl=fig, links=True, png=True,
    )
