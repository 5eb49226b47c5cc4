"""The poster's geometry and addresses: where its parts go, what its strips are called, where they link.

Used by the poster's modules (`poster_canvas`, `poster_stream`, `poster_input`, `poster_attention`,
`poster_mlp`, `poster_output`) and by the overview section module. All lengths are in inches on an
axes that spans the figure, x to the right and y down the page.
"""

from __future__ import annotations

from .registry import PAGES

# Where the site serves generated figure files (figgen.mkdocs_plugin.SITE_DIR + "/figures/"; a test
# holds the two equal). Links inside the SVG resolve against this folder, not against the page.
SERVED_AT = "figgen/figures/"

MAX_POSITIONS = 12  # longer prompts show their last 12 positions (the final one is the one decoded)
TOP_K = 5  # rows of the decoding table

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
