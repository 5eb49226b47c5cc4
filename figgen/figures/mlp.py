"""The MLP sublayer: how much each layer's MLP (and, for comparison, its attention) writes, per position.

The layer the MLP pages look inside (`mlp_focus.focus`) is marked in the data.
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure as MplFigure

from . import style

from .labels import rounded, token_labels
from .mlp_focus import focus, write_norms
from .registry import Figure, figure


@figure("mlp.writes", section="mlp", title="How much each sublayer writes",
        caption="Length of the vector each layer's attention sublayer (top) and MLP sublayer (bottom) adds "
                "to the residual stream, at every position, on one shared colour scale.")
def writes(ctx) -> Figure:
    norms = ctx.analysis(write_norms)
    f = ctx.analysis(focus)
    L, n = norms["mlp"].shape
    labels = token_labels(ctx)
    both = np.concatenate([norms["attn"].ravel(), norms["mlp"].ravel()])
    # One log scale for both panels, so a colour means the same length in each: the MLPs can write
    # tens of times longer vectors than attention, which a linear scale would paint as nothing.
    lo, hi = float(max(both.min(), 1e-3)), float(max(both.max(), 2e-3))
    norm = LogNorm(vmin=lo, vmax=hi)
    ramp = style.cmap("magnitude", ctx.theme)
    fig = MplFigure(figsize=(style.COLUMN_IN - 0.15, 2 * (0.3 * L + 0.5) + 1.3), layout="constrained")
    axes = fig.subplots(2, 1, sharex=True)
    for ax, kind, title in ((axes[0], "attn", "attention sublayers"), (axes[1], "mlp", "MLP sublayers")):
        values = np.round(norms[kind], 4)
        image = ax.imshow(values, cmap=ramp, norm=norm, aspect="auto", interpolation="nearest")
        for (l, p), v in np.ndenumerate(values):
            ax.text(p, l, f"{v:.1f}" if v < 10 else f"{v:.0f}", ha="center", va="center", fontsize=8,
                    color=style.label_colour(ramp(norm(max(v, lo)))))
        ax.set_title(f"{title}: length of what they write", loc="left")
        ax.set_yticks(range(L), [f"layer {l}" for l in range(L)])
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
    axes[1].set_xticks(range(n), labels, rotation=45, ha="right")
    axes[1].set_xlabel("position: token")
    bar = fig.colorbar(image, ax=list(axes), fraction=0.04, pad=0.01)
    ticks = [t * 10.0 ** e for e in range(-3, 6) for t in (1, 2, 5) if lo <= t * 10.0 ** e <= hi]
    bar.set_ticks(ticks, labels=[f"{t:g}" for t in ticks])
    bar.minorticks_off()
    bar.set_label("vector length (log scale)")
    bar.outline.set_visible(False)
    ratio = norms["mlp"].sum() / max(norms["attn"].sum(), 1e-12)
    rest = norms["mlp"][:, 1:].sum() / max(norms["attn"][:, 1:].sum(), 1e-12) if n > 1 else float("nan")
    return Figure(
        data={"attn_norms": rounded(norms["attn"]), "mlp_norms": rounded(norms["mlp"]),
              "focus_layer": f["layer"], "focus_norm": f["mlp_norm"], "focus_token": f["token"],
              "mlp_over_attn": round(float(ratio), 4), "mlp_over_attn_after_first": round(float(rest), 4),
              "mlp_first_position_share": round(float(norms["mlp"][:, 0].sum() / norms["mlp"].sum()), 4),
              "first_token": ctx.token_str(ctx.trace.tokens[0]),
              "max_mlp": round(float(norms["mlp"].max()), 4), "max_attn": round(float(norms["attn"].max()), 4)},
        alt=f"Two heatmaps on one log colour scale, layers by positions: the lengths of attention and MLP outputs, "
            f"each cell labelled. At the last position the MLP of layer {f['layer']} writes most (length "
            f"{f['mlp_norm']:.2f}); summed over everything the MLPs write {ratio:.1f} times as much as attention",
        caption=("The MLPs write more into the stream than attention does: " if ratio >= 1 else
                 "Attention writes more into the stream than the MLPs do: ")
                + "the length of what each layer's attention sublayer (top) and MLP (bottom) adds, at every "
                "position, on one shared log colour scale.",
        mpl=fig,
    )
