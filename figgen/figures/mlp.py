"""The MLP sublayer: how much each layer's MLP (and, for comparison, its attention) writes, per position.

The layer the MLP pages look inside (`mlp_focus.focus`) is marked in the data.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure as MplFigure

from .labels import rounded, token_labels
from .mlp_focus import focus, write_norms
from .registry import Figure, figure


@figure("mlp.writes", section="mlp", title="How much each sublayer writes",
        caption="Length of the vector each layer's attention sublayer (left) and MLP sublayer (right) adds "
                "to the residual stream, at every position (each panel has its own colour scale).")
def writes(ctx) -> Figure:
    norms = ctx.analysis(write_norms)
    f = ctx.analysis(focus)
    L, n = norms["mlp"].shape
    labels = token_labels(ctx)
    fig = MplFigure(figsize=(max(6.4, 0.55 * n * 2 + 2.4), 0.45 * L + 2.2), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    for ax, kind, cmap, title in ((axes[0], "attn", "Greens", "attention writes"),
                                  (axes[1], "mlp", "Blues", "MLP writes")):
        # Each panel has its own colour scale: one sublayer can write far more than the other.
        image = ax.imshow(np.round(norms[kind], 4), cmap=cmap, vmin=0, aspect="auto",
                          interpolation="nearest")
        ax.set_title(title, loc="left", fontsize=10)
        ax.set_xticks(range(n), labels, rotation=60, ha="right", fontsize=8)
        ax.set_xlabel("position")
        ax.tick_params(length=0)
        fig.colorbar(image, ax=ax, fraction=0.05, pad=0.02).outline.set_visible(False)
    axes[0].set_yticks(range(L), [f"layer {l}" for l in range(L)])
    ratio = norms["mlp"].sum() / max(norms["attn"].sum(), 1e-12)
    return Figure(
        data={"attn_norms": rounded(norms["attn"]), "mlp_norms": rounded(norms["mlp"]),
              "focus_layer": f["layer"], "focus_norm": f["mlp_norm"], "focus_token": f["token"],
              "mlp_over_attn": round(float(ratio), 4),
              "mlp_first_position_share": round(float(norms["mlp"][:, 0].sum() / norms["mlp"].sum()), 4)},
        alt=f"Two heatmaps, layers by positions: the lengths of attention and MLP outputs. At the last position "
            f"the MLP of layer {f['layer']} writes most (length {f['mlp_norm']:.2f}); summed over everything the "
            f"MLPs write {ratio:.1f} times as much as attention",
        mpl=fig,
    )

