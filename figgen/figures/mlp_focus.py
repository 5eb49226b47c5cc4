"""Where the MLP pages look: how much each sublayer writes, and the layer and position to look inside.

`write_norms` is the mlp page's data; `focus` (the final position, in the layer whose MLP writes the
longest vector there) is shared by the mlp, up-projection, gelu and down-projection figures. Both are
memoised per build through `ctx.analysis`.
"""

from __future__ import annotations

import numpy as np


def write_norms(ctx) -> dict[str, np.ndarray]:
    """{"attn": (n_layers, pos), "mlp": (n_layers, pos)}: lengths of hook_attn_out and hook_mlp_out."""
    t = ctx.trace
    L = ctx.dims.n_layers
    return {kind: np.stack([np.linalg.norm(t[f"blocks.{l}.hook_{kind}_out"], axis=-1) for l in range(L)])
            for kind in ("attn", "mlp")}


def focus(ctx) -> dict:
    """The layer and position the MLP pages look inside: the final position, in the layer whose MLP
    writes most there."""
    norms = ctx.analysis(write_norms)["mlp"][:, -1]  # (n_layers,)
    pos = len(ctx.trace.tokens) - 1
    layer = int(np.argmax(norms))
    return {"layer": layer, "position": pos, "token": ctx.token_str(ctx.trace.tokens[pos]),
            "mlp_norm": round(float(norms[layer]), 4)}
