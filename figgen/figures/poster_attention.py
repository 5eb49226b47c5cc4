"""The poster's attention sublayer (layer 0): LN₁, then one row per head — q k → A · v = z → z·W_O —
each head adding its own output vector to the stream (no concatenation), the QK and OV circuits
marked under the rows, and the heads' output vectors summed, plus the bias b_O, written back with ⊕.

A head's row holds six blocks side by side in the column, so it shows fewer components than a stream
strip: the first `HEAD_SHOWN` of d_head and the first `RESULT_SHOWN` of d_model (the poster says so).

Drawn by the overview section module on a `poster_canvas.Canvas`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.patches import Polygon, Rectangle

from . import style
from .poster_canvas import Canvas, block_scale, weight_colours, wrap
from .poster_layout import BUS_X, C_MAX, HEAD_X0, NOTE_X, OPGAP, PITCH_H, RIGHT, SH_H, SMALL, X0, strip_id

L = 0  # the layer drawn in full


@dataclass
class Columns:
    """x (inches) of each column of a head's row — q k → A · v = z → z·W_O —, the cell width c, the
    pattern's width and the bus that sums the rows. `headers`: column key → (x, width, chip, chip
    colour, chip section, label, hook, section)."""

    q: float
    k: float
    a: float
    v: float
    z: float
    r: float
    bus: float
    c: float
    pw: float
    headers: dict


def draw_attention(p: Canvas):
    """The whole sublayer, in its frame, and the residual stream after it (hook_resid_mid)."""
    a = f"blocks.{L}.attn."
    frame_top = p.y
    p.text(RIGHT - 0.1, p.y + 0.06, f"blocks.{L}.attn.*", size=SMALL, mono=True, color=p.muted, ha="right",
           va="top", section="attention-head")
    p.title(f"Attention sublayer · layer {L} · {p.d.n_heads} heads", "attention-head")
    xhat_bottom = _read(p)
    cols = _columns(p)
    vectors = _head_vectors(p, a)
    _column_headers(p, cols, a)
    row_h = (p.P - 1) * PITCH_H + SH_H
    first_mid = p.y + row_h / 2
    for h in range(p.d.n_heads):
        _head_row(p, h, cols, vectors, a, row_h)
        p.y += row_h + 0.1
    last_mid = p.y - 0.1 - row_h / 2
    # Every head reads x̂: a bus from the LN output down the left of the rows.
    p.line([BUS_X, BUS_X], [xhat_bottom + 0.06, last_mid], lw=0.6)
    p.line([BUS_X, X0 + 0.2], [xhat_bottom + 0.06, xhat_bottom + 0.06], lw=0.6)
    _circuits(p, cols)
    bottom = _sum_of_heads(p, cols, first_mid)
    p.frame(frame_top - 0.06, bottom + 0.12, style.ATTENTION)
    p.y = bottom + 0.32
    p.y = p.stream_block(p.y, f"blocks.{L}.hook_resid_mid",
                         "x + attention output · residual stream", "residual-stream",
                         "Each position has added what its heads read at itself and earlier positions: "
                         "attention is the only place where positions exchange information.") + 0.1
    # Which of these heads a task needs: found by removing each in turn (the day-of-week deep dive).
    p.text(RIGHT / 2 + 0.1, p.y + 0.1, "Which heads the next-day task needs, found by ablating each in turn: "
           "the day circuit ↗", ha="center", color=p.muted, section="day-circuit")
    p.y += 0.45


def _read(p: Canvas) -> float:
    """The read through LayerNorm 1: x̂, what every head reads; then what a head's row shows. Returns the
    bottom y of x̂."""
    ym = p.mid(p.y, labelled=False)
    p.read(ym, "LN₁")
    xhat_bottom = p.block(X0, p.y, f"blocks.{L}.ln1.hook_normalized",
                          p.t[f"blocks.{L}.ln1.hook_normalized"][p.positions, : p.km],
                          "x̂ = LN₁(x) · what every head reads", "layernorm", labelled=False)
    p.note(p.y, "LayerNorm centres each position's vector, scales it to unit variance, then applies "
           "γ and β (learned, one value per component).", "layernorm")
    p.y = xhat_bottom + 0.16
    d = p.d
    def shown(k: int, n: int) -> str:
        return f"all {n:,}" if k == n else f"the first {k} of {n:,}"

    what = (f"One row per head; each row's strips are the shown positions. Each head adds its own output "
            f"vector to the stream (no concatenation). Shown: {shown(p.kh, d.d_head)} components of q, k, v "
            f"and z, {shown(p.kr, d.d_model)} of each output vector; one scale per column, shared by the heads.")
    for line in wrap(what, RIGHT - X0):
        p.text(X0, p.y, line, size=SMALL, color=p.muted, va="top")
        p.y += 0.16
    p.y += 0.14
    return xhat_bottom


def _columns(p: Canvas) -> Columns:
    """The column geometry of a head's row: q k → A · v = z → z·W_O, filling the width to the bus."""
    kh, kr = p.kh, p.kr
    pw = (p.P - 1) * PITCH_H + SH_H  # the pattern: square, as tall as the row
    bus = RIGHT - 0.08
    fixed = 0.06 + 4 * OPGAP + pw + 0.1
    c = min(C_MAX, (bus - HEAD_X0 - fixed) / (4 * kh + kr))
    xq = HEAD_X0
    xk = xq + kh * c + 0.06
    xa = xk + kh * c + OPGAP
    xv = xa + pw + OPGAP
    xz = xv + kh * c + OPGAP
    xr = xz + kh * c + OPGAP
    bus = min(bus, xr + kr * c + 0.1)
    headers = {
        "q": (xq, kh * c, f"$W_Q^{{{L},h}}$", style.PARAMETER, "qkv", f"$q^{{{L},h}}$", "hook_q", "qkv"),
        "k": (xk, kh * c, f"$W_K^{{{L},h}}$", style.PARAMETER, "qkv", f"$k^{{{L},h}}$", "hook_k", "qkv"),
        "A": (xa, pw, "softmax", style.OPERATION, "causal-attention", f"$A^{{{L},h}}$", "hook_pattern",
              "attention-pattern"),
        "v": (xv, kh * c, f"$W_V^{{{L},h}}$", style.PARAMETER, "qkv", f"$v^{{{L},h}}$", "hook_v", "qkv"),
        "z": (xz, kh * c, r"$\Sigma_j A_{ij} v_j$", style.OPERATION, "result-vectors", f"$z^{{{L},h}}$",
              "hook_z", "result-vectors"),
        "r": (xr, kr * c, f"$W_O^{{{L},h}}$", style.PARAMETER, "output-vectors",
              f"$z^{{{L},h}}W_O^{{{L},h}}$", "hook_result", "output-vectors"),
    }
    return Columns(xq, xk, xa, xv, xz, xr, bus, c, pw, headers)


def _head_vectors(p: Canvas, a: str) -> dict[str, np.ndarray]:
    """Every head's vectors at the shown positions, and one colour scale per hook shared across heads,
    so heads compare."""
    t, kh, kr = p.t, p.kh, p.kr
    q, k, v, z = (t[a + f"hook_{n}"][p.positions, :, :kh] for n in "qkvz")  # (P, head, kh)
    result = t[a + "hook_result"][p.positions, :, :kr]  # (P, head, kr)
    pattern = t[a + "hook_pattern"][:, p.positions][:, :, p.positions]  # (head, P, P)
    for n, vals in zip(("q", "k", "v", "z", "result"), (q, k, v, z, result)):
        p.scales[a + f"hook_{n}"] = block_scale(vals)
    return {"q": q, "k": k, "v": v, "z": z, "result": result, "pattern": pattern}


def _column_headers(p: Canvas, cols: Columns, a: str):
    """Column headers: the parameter or operation, the vector's name, its hook (blocks.0.attn. is in the
    sublayer's title), its scale."""
    for key, (x, w, chip, colour, chip_sec, label, hook, sec) in cols.headers.items():
        cw = min(max(w, 0.55), 0.7)
        p.chip(x + (w - cw) / 2, p.y, cw, chip, colour, chip_sec, math=key != "A")
        p.text(x + w / 2, p.y + 0.27, label, math=True, ha="center", va="top", section=sec)
        p.text(x + w / 2, p.y + 0.47, hook, size=SMALL, mono=True, ha="center", color=p.muted, section=sec)
        scale = "0 … 1" if key == "A" else f"±{p.scales[a + hook]:.3g}"
        p.text(x + w / 2, p.y + 0.63, scale, size=SMALL, ha="center", color=p.muted)
    p.y += 0.84


def _head_row(p: Canvas, h: int, cols: Columns, vectors: dict, a: str, row_h: float):
    """Head h's row at p.y: its label on the bus, q k → A · v = z → z·W_O, a line to the sum, links."""
    y, c = p.y, cols.c
    m = y + row_h / 2
    p.arrow(BUS_X, m, cols.q - 0.02, m, lw=0.6)
    p.text((BUS_X + HEAD_X0) / 2, m, f"L{L}H{h}", size=SMALL, ha="center", section="attention-head",
           bg=p.inside(style.ATTENTION))
    for key in ("q", "k", "v", "z"):
        p.strips(cols.headers[key][0], y, vectors[key][:, h], a + f"hook_{key}", p.positions,
                 scale=p.scales[a + f"hook_{key}"], c=c, sh=SH_H, pitch=PITCH_H, head=h)
    p.strips(cols.r, y, vectors["result"][:, h], a + "hook_result", p.positions, scale=p.scales[a + "hook_result"],
             c=c, sh=SH_H, pitch=PITCH_H, head=h)
    _pattern(p, cols.a, y, cols.pw, vectors["pattern"][h], a + "hook_pattern", h)
    p.glyph(cols.a - OPGAP / 2, m, "→")
    p.glyph(cols.v - OPGAP / 2, m, "·")
    p.glyph(cols.z - OPGAP / 2, m, "=")
    p.glyph(cols.r - OPGAP / 2, m, "→")
    p.line([cols.r + p.kr * c + 0.02, cols.bus], [m, m], lw=0.6)
    for key, sec in (("q", "qkv"), ("k", "qkv"), ("v", "qkv"), ("z", "result-vectors"),
                     ("r", "output-vectors")):
        x, w = cols.headers[key][0], cols.headers[key][1]
        p.link(x, y, x + w, y + row_h, sec)
    p.link(cols.a, y, cols.a + cols.pw, y + cols.pw, "attention-pattern")


def _pattern(p: Canvas, x: float, y: float, w: float, pattern: np.ndarray, hook: str, h: int):
    """A head's (P, P) pattern: query rows × key columns on the "attention" ramp, the masked cells above
    the diagonal transparent and hatched (the causal mask, drawn as on the attention pages)."""
    P = len(pattern)
    rgba = weight_colours(pattern, p.theme)
    rgba[np.triu(np.ones((P, P), bool), 1)] = 0
    im = p.ax.imshow(rgba, extent=(x, x + w, y + w, y), interpolation="none", aspect="auto", zorder=2)
    im.set_gid(strip_id(hook, head=h))
    cell = w / P
    pts = [(x + cell, y), (x + w, y), (x + w, y + w - cell)]  # the staircase around the masked cells
    for q in range(P - 2, -1, -1):
        pts += [(x + (q + 1) * cell, y + (q + 1) * cell), (x + (q + 1) * cell, y + q * cell)]
    p.ax.add_patch(Polygon(pts, closed=True, facecolor="none", hatch="////", edgecolor=p.muted, lw=0, zorder=2))
    p.ax.add_patch(Rectangle((x, y), w, w, facecolor="none", edgecolor=p.muted, lw=0.4, zorder=2))


def _circuits(p: Canvas, cols: Columns):
    """Brackets under the rows: the QK circuit (q, k → A) and the OV circuit (v → z·W_O)."""
    yb = p.y
    for x0, x1, s, sec in ((cols.q, cols.a + cols.pw, "QK circuit: where to read", "qk-circuit"),
                           (cols.v, cols.r + p.kr * cols.c, "OV circuit: what to write", "ov-circuit")):
        p.line([x0, x0, x1, x1], [yb, yb + 0.07, yb + 0.07, yb], colour=p.ink, lw=0.8)
        p.text((x0 + x1) / 2, yb + 0.12, s, size=SMALL, ha="center", va="top", section=sec)
        p.link(x0, yb, x1, yb + 0.3, sec)
    p.y = yb + 0.4


def _sum_of_heads(p: Canvas, cols: Columns, first_mid: float) -> float:
    """The heads' output vectors summed, plus the bias b_O → attn_out → ⊕ into the stream; returns
    attn_out's bottom y."""
    km, c = p.km, p.c
    ym = p.mid(p.y, labelled=False)
    p.line([cols.bus, cols.bus], [first_mid, ym], lw=0.9)
    x_block = X0 + km * c
    x_bias = max(NOTE_X - 0.05, x_block + 0.15)
    x_sum = x_bias + 0.75
    p.arrow(cols.bus, ym, x_sum + 0.8, ym)
    p.chip(x_sum, ym - 0.1, 0.8, r"$\Sigma_h$ heads", style.OPERATION, "output-vectors")
    p.arrow(x_sum, ym, x_bias + 0.6, ym, style.OPERATION)
    p.chip(x_bias, ym - 0.1, 0.6, f"$+\\,b_O^{{{L}}}$", style.PARAMETER, "output-vectors")
    p.arrow(x_bias, ym, x_block + 0.03, ym, style.OPERATION)
    bottom = p.block(X0, p.y, f"blocks.{L}.hook_attn_out", p.t[f"blocks.{L}.hook_attn_out"][p.positions, :km],
                     f"attention output = $\\Sigma_h\\, z^{{{L},h}}W_O^{{{L},h}} + b_O^{{{L}}}$", "output-vectors",
                     labelled=False)
    p.write(ym, "residual-stream")
    return bottom
