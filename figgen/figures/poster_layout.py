"""The poster's geometry and addresses: where its parts go, what its strips are called, where they link.

Used by the poster's modules (`poster_canvas`, `poster_input`, `poster_attention`, `poster_mlp`,
`poster_output`) and by the overview section module. All lengths are in inches on an axes that spans
the figure, x to the right and y down the page.

The poster is drawn for the site's content column (`style.COLUMN_IN`, ≈ 690 px): the saved SVG is
the figure plus matplotlib's 0.1 in tight-bbox pad on each side, so the figure is `W` = COLUMN_IN −
0.2 wide and its SVG is shown at its natural size, 1 pt = 4/3 px. Every text is at least `SMALL` pt
(10.7 px there). What used to sit side by side (token and positional embeddings, the MLP's blocks)
is stacked, and a head's row shows fewer components than a stream strip (see `HEAD_SHOWN`).
"""

from __future__ import annotations

from . import style
from .registry import PAGES

# Where the site serves generated figure files (figgen.mkdocs_plugin.SITE_DIR + "/figures/"; a test
# holds the two equal). Links inside the SVG resolve against this folder, not against the page.
SERVED_AT = "figgen/figures/"

MAX_POSITIONS = 12  # longer prompts show their last 12 positions (the final one is the one decoded)
TOP_K = 5  # rows of the decoding table

# Components per strip. Stream and sublayer blocks show the first 128 (as the infographic does); a
# head's row holds six blocks side by side, so it shows the first 32 of d_head (q, k, v, z) and the
# first 64 of d_model (its output vector).
SHOWN = 128
HEAD_SHOWN, RESULT_SHOWN = 32, 64

# Colour scales: ±this quantile of a block's |values| (larger values saturate). The final residual
# stream and the logits are clipped harder: one position (or one token) can be far larger than the
# rest and would wash the others out.
QUANTILE = 0.98
CLIP_QUANTILE = 0.90

# Font sizes (pt). At the column's 1 pt = 4/3 px: SMALL 10.7 px, FS 12 px.
TITLE_FS = 13.0
HEAD_FS = 10.0  # a sublayer's title
FS = 9.0  # a block's label
SMALL = 8.0  # hook names, scales, notes, token labels, chips
MONO = "DejaVu Sans Mono"
MONO_CH = SMALL * 0.602 / 72  # width of one monospace character at SMALL (inches)
SANS_CH = SMALL * 0.56 / 72  # mean width of a DejaVu Sans character at SMALL, for wrapping

# Geometry, in inches; y grows down the page.
W = style.COLUMN_IN - 0.2  # figure width; the saved SVG adds 0.1 in on each side
RIGHT = W - 0.04  # right edge of the content
CH0, CH1 = 0.0, 0.16  # the residual stream's channel, on the left edge
CHX = (CH0 + CH1) / 2
LABEL_R = 0.98  # right edge of the row labels (tokens) left of a stream block
X0 = 1.04  # left edge of every block drawn next to the channel
BLOCK_W = 3.84  # width of a SHOWN-component block (0.03 in, ≈ 2.9 px, a cell)
C_MAX = 0.06  # widest cell (small models)
NOTE_X = X0 + BLOCK_W + 0.2  # notes right of a block
PITCH_S, SH_S = 0.125, 0.095  # a labelled strip's pitch (room for a token label) and height
PITCH_T, SH_T = 0.075, 0.058  # an unlabelled strip inside a sublayer
PITCH_H, SH_H = 0.055, 0.045  # a head's strips
LABEL_H = 0.37  # a block's two label lines (label, hook name) above its strips
BUS_X = 0.3  # the line that carries LN₁'s output down to every head
HEAD_X0 = 0.98  # left edge of a head's row
OPGAP = 0.24  # room for an operator glyph (→, ·, =) between two blocks in a head's row
FRAME_X = 0.24  # left edge of a sublayer's frame
FRAME_ALPHA = 0.05  # tint of a sublayer's frame


def href(section: str) -> str:
    """The link to a section's page from where the poster's SVG is served."""
    return "../" * SERVED_AT.count("/") + PAGES[section]


def strip_id(hook: str, pos: int | None = None, head: int | None = None) -> str:
    """The id of a strip's image (or a pattern's) in the SVG: `<hook>[/h<head>][/p<pos>]`."""
    return hook + (f"/h{head}" if head is not None else "") + (f"/p{pos}" if pos is not None else "")
