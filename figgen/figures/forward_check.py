"""The trace checked against transformers' own forward pass (the Introduction's evidence).

Left: for each vector transformers also exposes (embeddings, the stream after each layer, the final
LayerNorm's output, the logits), the largest difference between the trace and transformers, next
to the largest value, on one log scale. Right: each layer's per-head output vectors summed (+ b_O)
against transformers' attention output, which concatenates the heads instead.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure as MplFigure
from matplotlib.ticker import FuncFormatter, LogLocator

from ..checks import against_transformers
from . import style
from .labels import power_of_ten
from .registry import Figure, figure


def _check(ctx):
    return against_transformers(ctx.model, ctx.trace)


def _sig(x: float) -> float:
    return float(f"{x:.3g}")


@figure("overview.forward-check", section="overview", title="The trace against transformers' forward pass",
        caption="Every vector this site draws, recomputed by transformers' own model: the differences (dots) sit "
                "many powers of ten below the values themselves (bars).")
def forward_check(ctx) -> Figure:
    c = ctx.analysis(_check)
    L = len(c.attn_diffs)
    floor = 1e-9  # an exact match (difference 0) is drawn at the floor and said so
    fig = MplFigure(figsize=(style.COLUMN_IN, 0.34 * max(len(c.stages), L) + 1.5), layout="constrained")
    left, right = fig.subplots(1, 2, sharex=True)
    panels = [
        (left, c.stages, c.diffs, c.scales, "trace vs transformers"),
        (right, [f"layer {l}" for l in range(L)], c.attn_diffs, c.attn_scales, "Σ heads + b_O vs attention output"),
    ]
    for ax, names, diffs, scales, title in panels:
        y = np.arange(len(names))[::-1]
        ax.barh(y, [_sig(s) for s in scales], color=style.RESIDUAL, alpha=0.45, height=0.6, label="largest |value|")
        ax.plot([_sig(max(d, floor)) for d in diffs], y, "o", color=style.OPERATION, markersize=5,
                label="largest |difference|")
        for yi, d in zip(y, diffs):
            if d == 0.0:  # nothing to draw on a log axis: say it
                ax.annotate("0, exact", (floor, yi), xytext=(6, 0), textcoords="offset points", va="center")
        ax.set_xscale("log")
        ax.set_xlim(floor / 2, max(float(c.scales.max()), float(c.attn_scales.max()), 1.0) * 4)
        ax.xaxis.set_major_locator(LogLocator(numticks=5))  # every third power of ten: labels stay apart
        ax.xaxis.set_major_formatter(FuncFormatter(power_of_ten))  # mathtext is off: no $10^{k}$
        ax.set_yticks(y, names)
        ax.set_xlabel("absolute value (log scale)")
        ax.set_title(title, loc="left")
        ax.grid(axis="x", alpha=0.25)
    fig.legend(*left.get_legend_handles_labels(), loc="outside upper center", ncol=2)
    worst = float(c.diffs.max())
    data = {
        "stages": c.stages, "max_diffs": [_sig(d) for d in c.diffs], "max_values": [_sig(s) for s in c.scales],
        "max_diff": _sig(worst), "logits_diff": _sig(c.diffs[-1]), "logits_scale": _sig(c.scales[-1]),
        "attn_max_diff": _sig(float(c.attn_diffs.max())), "same_prediction": c.same_prediction,
        "n_stages": len(c.stages), "n_layers": L,
    }
    return Figure(
        data=data,
        alt=f"Dot plot on a log scale: the trace differs from transformers' forward pass by at most {worst:.1e} "
            f"over {len(c.stages)} compared vectors, and the summed per-head outputs differ from transformers' "
            f"attention output by at most {c.attn_diffs.max():.1e}; the largest values are of order "
            f"{c.scales.max():.0f}",
        mpl=fig,
    )
