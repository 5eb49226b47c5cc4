"""The poster's attention sublayer (layer 0): LN₁, then one row per head — q k → A · v = z → z·W_O —
each head adding its own output vector to the stream (no concatenation), the QK and OV circuits
marked under the rows, and the sum of the heads' outputs written back with ⊕.

Drawn by the overview section module on a `poster_canvas.Canvas`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.patches import Rectangle

from . import style
from .poster_canvas import Canvas, block_scale, cell_colours
from .poster_layout import BUS_X, GAP_H, HOOK_FS, LABEL_R, OPGAP, SH_H, X0, strip_id

L = 0  # the layer drawn in full


@dataclass
class Columns:
    """x (inches) of each column of a head's row — q k → A · v = z → z·W_O — and of the bus that sums
    the rows. `headers`: column key → (x, width, chip, chip colour, chip section, label, hook, section)."""

    q: float
    k: float
    a: float
    v: float
    z: float
    r: float
    bus: float
    headers: dict


def draw_attention(p: Canvas):
    """The whole sublayer, in its frame, and the residual stream after it (hook_resid_mid)."""
    a = f"blocks.{L}.attn."
    frame_top = p.y
    xhat_bottom = _read(p)
    cols = _columns(p)
    vectors = _head_vectors(p, a)
    _column_headers(p, cols, a)
    row_h = p.P * (SH_H + GAP_H) - GAP_H
    first_mid = p.y + row_h / 2
    for h in range(p.d.n_heads):
        _head_row(p, h, cols, vectors, a, row_h)
        p.y += row_h + 0.14
    # Every head reads x̂: a bus from the LN output down the left of the rows.
    p.line([BUS_X, BUS_X], [xhat_bottom + 0.04, p.y - 0.14 - row_h / 2], lw=0.6)
    p.line([BUS_X, X0 + 0.2], [xhat_bottom + 0.04, xhat_bottom + 0.04], lw=0.6)
    _circuits(p, cols)
    bottom = _sum_of_heads(p, cols, first_mid)
    p.frame(frame_top - 0.08, bottom + 0.12, style.ATTENTION)
    p.y = bottom + 0.3
    p.y = p.stream_block(p.y, f"blocks.{L}.hook_resid_mid",
                         "x + attention output · residual stream", "residual-stream",
                         "After attention: each position has added its heads' output vectors, made of "
                         "what they read at this and earlier positions. Attention is the only place "
                         "where positions exchange information.") + 0.3


def _read(p: Canvas) -> float:
    """The sublayer's title, then the read through LayerNorm 1: x̂, what every head reads; returns the
    bottom y of x̂."""
    p.text(0.7, p.y + 0.02, f"Attention sublayer · layer {L} · {p.d.n_heads} heads, each adding its own "
           "output vector to the stream (no concatenation)", size=10.5, weight="bold", va="top",
           color=p.ink, section="attention-head")
    p.y += 0.35
    ym = p.mid(p.y)
    p.read(ym, "LN₁")
    xhat_bottom = p.block(X0, p.y, f"blocks.{L}.ln1.hook_normalized",
                          p.t[f"blocks.{L}.ln1.hook_normalized"][p.positions, : p.km],
                          "x̂ = LN₁(x), what every head reads", "layernorm")
    p.note(p.y, "LayerNorm centres each position's vector, scales it to unit variance, then "
           "multiplies it by γ and adds β (learned, one value per component). Every read of the stream "
           "goes through one.", "layernorm")
    p.y = xhat_bottom + 0.25
    return xhat_bottom


def _columns(p: Canvas) -> Columns:
    """The column geometry of a head's row: q k → A · v = z → z·W_O."""
    c, kh, km, P = p.c, p.kh, p.km, p.P
    xq = X0
    xk = xq + kh * c + 0.1
    xa = xk + kh * c + (p.a_w - P * SH_H) / 2
    xv = xk + kh * c + p.a_w
    xz = xv + kh * c + OPGAP
    xr = xz + kh * c + OPGAP
    xbus = xr + km * c + 0.12
    headers = {
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
    return Columns(xq, xk, xa, xv, xz, xr, xbus, headers)


def _head_vectors(p: Canvas, a: str) -> dict[str, np.ndarray]:
    """Every head's vectors at the shown positions, and one colour scale per hook shared across heads,
    so heads compare."""
    t, kh, km = p.t, p.kh, p.km
    q, k, v, z = (t[a + f"hook_{n}"][p.positions, :, :kh] for n in "qkvz")  # (P, head, kh)
    result = t[a + "hook_result"][p.positions, :, :km]  # (P, head, km)
    pattern = t[a + "hook_pattern"][:, p.positions][:, :, p.positions]  # (head, P, P)
    for n, vals in zip(("q", "k", "v", "z", "result"), (q, k, v, z, result)):
        p.scales[a + f"hook_{n}"] = block_scale(vals)
    return {"q": q, "k": k, "v": v, "z": z, "result": result, "pattern": pattern}


def _column_headers(p: Canvas, cols: Columns, a: str):
    """Column headers: the parameter or operation, the vector's name, its hook (the common prefix
    blocks.0.attn. once, on the left: the full names don't fit over narrow columns), its scale."""
    p.text(LABEL_R, p.y + 0.52, a, size=HOOK_FS, mono=True, ha="right", color=p.muted, bg=True)
    for key, (x, w, chip, colour, chip_sec, label, hook, sec) in cols.headers.items():
        cw = min(w, 1.2) if key != "A" else w
        p.chip(x + (w - cw) / 2, p.y, cw, chip, colour, chip_sec, math=key != "A", size=8)
        p.text(x + w / 2, p.y + 0.28, label, math=True, ha="center", va="top", section=sec)
        p.text(x + w / 2, p.y + 0.52, hook, size=HOOK_FS, mono=True, ha="center", color=p.muted,
               section=sec)
        if key != "A":
            p.text(x + w / 2, p.y + 0.64, f"±{p.scales[a + hook]:.3g}", size=HOOK_FS - 0.5,
                   ha="center", color=p.muted)
        else:
            p.text(x + w / 2, p.y + 0.64, "0 … 1", size=HOOK_FS - 0.5, ha="center", color=p.muted)
    p.y += 0.74


def _head_row(p: Canvas, h: int, cols: Columns, vectors: dict, a: str, row_h: float):
    """Head h's row at p.y: its label on the bus, q k → A · v = z → z·W_O, a line to the sum, links."""
    y, P, c, kh, km = p.y, p.P, p.c, p.kh, p.km
    m = y + row_h / 2
    p.arrow(BUS_X, m, cols.q - 0.02, m, lw=0.6)
    p.text((BUS_X + X0) / 2, m, f"L{L}H{h}", size=7.5, ha="center", section="attention-head", bg=True)
    for key in ("q", "k", "v", "z"):
        p.strips(cols.headers[key][0], y, vectors[key][:, h], a + f"hook_{key}", p.positions,
                 scale=p.scales[a + f"hook_{key}"], sh=SH_H, gap=GAP_H, head=h)
    p.strips(cols.r, y, vectors["result"][:, h], a + "hook_result", p.positions, scale=p.scales[a + "hook_result"],
             sh=SH_H, gap=GAP_H, head=h)
    _pattern(p, cols.a, y, vectors["pattern"][h], a + "hook_pattern", h)
    p.glyph(cols.k + kh * c + (cols.a - cols.k - kh * c) / 2, m, "→")
    p.glyph(cols.a + P * SH_H + (cols.v - cols.a - P * SH_H) / 2, m, "·")
    p.glyph(cols.z - OPGAP / 2, m, "=")
    p.glyph(cols.r - OPGAP / 2, m, "→")
    p.line([cols.r + km * c + 0.02, cols.bus], [m, m], lw=0.6)
    for key, sec in (("q", "qkv"), ("k", "qkv"), ("v", "qkv"), ("z", "result-vectors"),
                     ("r", "output-vectors")):
        x, w = cols.headers[key][0], cols.headers[key][1]
        p.link(x, y, x + w, y + row_h, sec)
    p.link(cols.a, y, cols.a + P * SH_H, y + P * SH_H, "attention-pattern")


def _pattern(p: Canvas, x: float, y: float, pattern: np.ndarray, hook: str, h: int):
    """A head's (P, P) pattern: query rows × key columns, masked (transparent) above the diagonal."""
    P = p.P
    rgba = cell_colours(pattern, 1.0)
    rgba[np.triu(np.ones((P, P), bool), 1)] = 0
    im = p.ax.imshow(rgba, extent=(x, x + P * SH_H, y + P * SH_H, y), interpolation="none",
                     aspect="auto", zorder=2)
    im.set_gid(strip_id(hook, head=h))
    p.ax.add_patch(Rectangle((x, y), P * SH_H, P * SH_H, facecolor="none", edgecolor=p.muted,
                             lw=0.4, zorder=2))


def _circuits(p: Canvas, cols: Columns):
    """Brackets under the rows: the QK circuit (q, k → A) and the OV circuit (v → z·W_O)."""
    P, c, km = p.P, p.c, p.km
    yb = p.y
    for x0, x1, s, sec in ((cols.q, cols.a + P * SH_H, f"QK circuit: $W_Q^{{{L},h}}$ and $W_K^{{{L},h}}$ decide "
                            "where each position reads (A)", "qk-circuit"),
                           (cols.v, cols.r + km * c, f"OV circuit: $W_V^{{{L},h}}$ and $W_O^{{{L},h}}$ decide what "
                            "is written", "ov-circuit")):
        p.line([x0, x0, x1, x1], [yb, yb + 0.07, yb + 0.07, yb], colour=p.ink, lw=0.8)
        p.text((x0 + x1) / 2, yb + 0.12, s, size=7.5, math=True, ha="center", va="top", section=sec)
        p.link(x0, yb, x1, yb + 0.3, sec)
    p.y = yb + 0.42


def _sum_of_heads(p: Canvas, cols: Columns, first_mid: float) -> float:
    """Sum of the heads' outputs + b_O → attn_out → ⊕ into the stream; returns attn_out's bottom y."""
    km, c = p.km, p.c
    ym = p.mid(p.y)
    p.line([cols.bus, cols.bus], [first_mid, ym], lw=0.9)
    chip_x = X0 + km * c + 0.35
    chip_w = 2.3
    p.line([cols.bus, chip_x + chip_w], [ym, ym], lw=0.9)
    p.arrow(chip_x + chip_w, ym, chip_x + chip_w - 0.001, ym)
    p.chip(chip_x, ym - 0.11, chip_w, rf"$\Sigma_h\, z^{{{L},h}}W_O^{{{L},h}} + b_O^{{{L}}}$",
           style.OPERATION, "output-vectors", h=0.22)
    p.arrow(chip_x, ym, X0 + km * c + 0.03, ym, style.OPERATION)
    bottom = p.block(X0, p.y, f"blocks.{L}.hook_attn_out",
                     p.t[f"blocks.{L}.hook_attn_out"][p.positions, :km],
                     "attention output: the sum of the heads' output vectors", "output-vectors")
    p.write(ym, "residual-stream")
    return bottom
