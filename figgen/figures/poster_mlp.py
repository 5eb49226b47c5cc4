"""The poster's MLP sublayer (layer 0): LN₂, the up-projection W_in, GELU, the down-projection W_out
back into the stream with ⊕, and the residual stream after layer 0 (hook_resid_post).

Drawn by the overview section module on a `poster_canvas.Canvas`.
"""

from __future__ import annotations

from . import style
from .poster_canvas import Canvas
from .poster_layout import X0

L = 0  # the layer drawn in full


def draw_mlp(p: Canvas):
    """The MLP sublayer in its frame, then the stream after it. Reads left to right (x̂ → W_in → h), down
    through GELU, and right to left (W_out → MLP output → ⊕)."""
    t, km, c = p.t, p.km, p.c
    frame_top = p.y
    p.text(0.7, p.y + 0.02, f"MLP sublayer · layer {L} · each position on its own", size=9.5,
           weight="bold", va="top", section="mlp")
    p.y += 0.35
    ym = p.mid(p.y)
    p.read(ym, "LN₂")
    p.block(X0, p.y, f"blocks.{L}.ln2.hook_normalized",
            t[f"blocks.{L}.ln2.hook_normalized"][p.positions, :km], "x̂ = LN₂(x)", "layernorm")
    x1 = X0 + km * c + 0.1
    p.arrow(x1, ym, x1 + 0.1, ym)
    p.chip(x1 + 0.1, ym - 0.1, 0.8, f"$W_{{in}}^{{{L}}}$", style.PARAMETER, "up-projection")
    xpre = x1 + 1.1
    p.arrow(x1 + 0.9, ym, xpre, ym)
    pre_bottom = p.block(xpre, p.y, f"blocks.{L}.mlp.hook_pre",
                         t[f"blocks.{L}.mlp.hook_pre"][p.positions, :p.kmlp],
                         f"h = x̂ $W_{{in}}^{{{L}}} + b_{{in}}^{{{L}}}$ · up-projection", "up-projection",
                         note=f"{p.kmlp} of {p.d.d_mlp:,} shown")
    # GELU, down the page; then back (right to left) through W_out into the stream.
    y2 = pre_bottom + 0.3
    xc = xpre + p.kmlp * c / 2
    p.arrow(xc, pre_bottom + 0.02, xc, y2 - 0.02, style.OPERATION)
    p.chip(xc + 0.12, pre_bottom + 0.04, 0.7, "GELU", style.OPERATION, "gelu", math=False)
    ym2 = p.mid(y2)
    p.block(xpre, y2, f"blocks.{L}.mlp.hook_post", t[f"blocks.{L}.mlp.hook_post"][p.positions, :p.kmlp],
            "GELU(h) · activations", "gelu")
    p.arrow(xpre - 0.02, ym2, x1 + 0.9, ym2)
    p.chip(x1 + 0.1, ym2 - 0.1, 0.8, f"$W_{{out}}^{{{L}}}$", style.PARAMETER, "down-projection")
    p.arrow(x1 + 0.1, ym2, X0 + km * c + 0.03, ym2)
    bottom = p.block(X0, y2, f"blocks.{L}.hook_mlp_out", t[f"blocks.{L}.hook_mlp_out"][p.positions, :km],
                     f"GELU(h) $W_{{out}}^{{{L}}} + b_{{out}}^{{{L}}}$ · MLP output", "down-projection")
    p.write(ym2, "residual-stream")
    p.frame(frame_top - 0.08, bottom + 0.12, style.MLP)
    p.y = bottom + 0.3
    p.y = p.stream_block(p.y, f"blocks.{L}.hook_resid_post",
                         "x + MLP output · residual stream after layer 0", "residual-stream",
                         "After the MLP, which works on each position on its own. This is what the "
                         "next layer reads (its hook_resid_pre).") + 0.25
