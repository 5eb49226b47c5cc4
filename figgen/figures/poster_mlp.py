"""The poster's MLP sublayer (layer 0), stacked down the column: LN₂'s output x̂, the up-projection W_in
to h, GELU, the down-projection W_out back to d_model, written into the stream with ⊕; then the
residual stream after layer 0 (hook_resid_post).

Drawn by the overview section module on a `poster_canvas.Canvas`.
"""

from __future__ import annotations

from . import style
from .poster_canvas import Canvas
from .poster_layout import RIGHT, X0

L = 0  # the layer drawn in full
STEP = 0.42  # between two stacked blocks: an arrow down and the chip beside it


def draw_mlp(p: Canvas):
    """The MLP sublayer in its frame, then the stream after it. Reads down the page: x̂ → W_in → h →
    GELU → W_out → MLP output → ⊕."""
    t, d = p.t, p.d
    frame_top = p.y
    p.title(f"MLP sublayer · layer {L} · each position on its own", "mlp")
    ym = p.mid(p.y, labelled=False)
    p.read(ym, "LN₂")
    y = p.block(X0, p.y, f"blocks.{L}.ln2.hook_normalized", t[f"blocks.{L}.ln2.hook_normalized"][p.positions, :p.km],
                "x̂ = LN₂(x)", "layernorm", labelled=False)
    p.note(p.y, f"d_model {d.d_model:,} → d_mlp {d.d_mlp:,} → d_model: widen, apply GELU to each component, "
           "project back.", "mlp")
    y = _step(p, y, f"$W_{{in}}^{{{L}}}$", style.PARAMETER, "up-projection")
    shown = f"{p.kmlp} of {d.d_mlp:,}" if p.kmlp < d.d_mlp else None
    y = p.block(X0, y, f"blocks.{L}.mlp.hook_pre", t[f"blocks.{L}.mlp.hook_pre"][p.positions, :p.kmlp],
                f"h = x̂ $W_{{in}}^{{{L}}} + b_{{in}}^{{{L}}}$ · up-projection", "up-projection", note=shown,
                labelled=False)
    y = _step(p, y, "GELU", style.OPERATION, "gelu", math=False)
    y = p.block(X0, y, f"blocks.{L}.mlp.hook_post", t[f"blocks.{L}.mlp.hook_post"][p.positions, :p.kmlp],
                "GELU(h) · activations", "gelu", note=shown, labelled=False)
    y = _step(p, y, f"$W_{{out}}^{{{L}}}$", style.PARAMETER, "down-projection")
    ym2 = p.mid(y, labelled=False)
    bottom = p.block(X0, y, f"blocks.{L}.hook_mlp_out", t[f"blocks.{L}.hook_mlp_out"][p.positions, :p.km],
                     f"MLP output = GELU(h) $W_{{out}}^{{{L}}} + b_{{out}}^{{{L}}}$", "down-projection",
                     labelled=False)
    p.write(ym2, "residual-stream")
    p.frame(frame_top - 0.06, bottom + 0.12, style.MLP)
    p.y = bottom + 0.32
    p.y = p.stream_block(p.y, f"blocks.{L}.hook_resid_post",
                         f"x + MLP output · stream after layer {L}", "residual-stream",
                         "What the next layer reads (its hook_resid_pre).") + 0.1
    # What a neuron's weights (and a head's patterns and messages) point to: the vocabulary deep dive.
    p.text(RIGHT / 2 + 0.1, p.y + 0.1, "A neuron's input and output weights read as the nearest vocabulary words: "
           "vocabulary space ↗", ha="center", color=p.muted, section="vocabulary")
    p.y += 0.4


def _step(p: Canvas, y: float, chip: str, colour: str, section: str, math: bool = True) -> float:
    """An arrow down from a block's bottom (at y) to the next block, with a chip beside it; returns the
    next block's top."""
    x = X0 + 0.25
    p.arrow(x, y + 0.03, x, y + STEP - 0.03, style.OPERATION)
    p.chip(x + 0.12, y + STEP / 2 - 0.1, 0.6, chip, colour, section, math=math)
    return y + STEP
