"""GELU: the curve GPT-2 uses (tanh approximation), with this prompt's real pre-activations on it."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure as MplFigure
from matplotlib.patches import Rectangle

from . import style
from .axes import style_axes
from .mlp_focus import focus
from .registry import Figure, figure

MAX_POINTS = 600  # points drawn on the curve: quantiles of the focus layer's pre-activations
ZOOM_QUANTILE = 0.001  # the main panel spans the 0.1 % to 99.9 % quantiles of all pre-activations (at least ±4)


def gelu_tanh(x: np.ndarray) -> np.ndarray:
    """0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))): the approximation GPT-2 was trained with."""
    x = np.asarray(x, np.float64)
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def gelu_erf(x: np.ndarray) -> np.ndarray:
    """x Φ(x), the exact GELU."""
    from math import erf

    x = np.asarray(x, np.float64)
    return 0.5 * x * (1 + np.vectorize(erf)(x / math.sqrt(2)))


def quantile_sample(values: np.ndarray, n: int) -> np.ndarray:
    """At most n values picked evenly from the sorted values (always including min and max)."""
    v = np.sort(np.ravel(values))
    if len(v) <= n:
        return v
    return v[np.round(np.linspace(0, len(v) - 1, n)).astype(int)]


@figure("gelu.curve", section="gelu", title="GELU with this prompt's pre-activations",
        caption="The GELU curve GPT-2 uses, and where this prompt's pre-activations fall on it.")
def curve(ctx) -> Figure:
    t = ctx.trace
    L = ctx.dims.n_layers
    f = ctx.analysis(focus)
    pre_all = np.stack([t[f"blocks.{l}.mlp.hook_pre"] for l in range(L)])  # (n_layers, pos, d_mlp)
    post_all = np.stack([t[f"blocks.{l}.mlp.hook_post"] for l in range(L)])
    err = float(np.abs(gelu_tanh(pre_all) - post_all).max())
    pre = t[f"blocks.{f['layer']}.mlp.hook_pre"][-1]  # (d_mlp,)
    sample = np.round(quantile_sample(pre, MAX_POINTS), 4)
    full_lo, full_hi = min(-4.0, float(pre_all.min())), max(4.0, float(pre_all.max()))
    # The main panel shows where nearly all values lie: a few outliers (one of 30 in mini) would
    # otherwise squeeze GELU's dip, the point of the figure, into a few pixels. The inset shows all.
    q_lo, q_hi = np.quantile(pre_all, [ZOOM_QUANTILE, 1 - ZOOM_QUANTILE])
    lo, hi = float(min(-4, math.floor(q_lo))), float(max(4, math.ceil(q_hi)))
    outside = int(((pre_all < lo) | (pre_all > hi)).sum())
    x = np.round(np.linspace(lo, hi, 400), 4)
    x_full = np.round(np.linspace(full_lo, full_hi, 400), 4)
    xs = np.linspace(-6, 0, 60001)
    gmin = float(gelu_tanh(xs).min())

    fig = MplFigure(figsize=(style.COLUMN_IN - 0.15, 5.6), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    top.plot(x, np.round(gelu_tanh(x), 4), color=style.OPERATION, linewidth=2, label="GELU, tanh approximation (GPT-2)")
    top.plot(x, np.round(gelu_erf(x), 4), color=style.ink(ctx.theme), linewidth=1, linestyle="--",
             label="exact GELU, x·Φ(x)")
    shown = sample[(sample >= lo) & (sample <= hi)]
    top.scatter(shown, np.round(gelu_tanh(shown), 4), s=9, color=style.MLP, zorder=3,
                label=f"layer {f['layer']}, final position ({len(sample)} of {len(pre)} neurons)")
    top.set_xlim(lo, hi)
    top.set_ylabel("GELU(h)")
    top.legend(frameon=False, loc="lower left", bbox_to_anchor=(0, 1), ncols=1, borderaxespad=0.2)
    style_axes(top, ctx.theme)
    has_inset = full_lo < lo or full_hi > hi
    if has_inset:
        inset = top.inset_axes([0.08, 0.42, 0.4, 0.45])  # the empty upper left
        inset.set_facecolor(style.background(ctx.theme))  # opaque: the main grid does not show through
        inset.plot(x_full, np.round(gelu_tanh(x_full), 4), color=style.OPERATION, linewidth=1.2)
        inset.scatter(sample, np.round(gelu_tanh(sample), 4), s=4, color=style.MLP, zorder=3)
        inset.add_patch(Rectangle((lo, float(gelu_tanh(lo))), hi - lo, float(gelu_tanh(hi) - gelu_tanh(lo)),
                                  fill=False, linewidth=0.8, linestyle=":", edgecolor=style.ink(ctx.theme)))
        inset.set_title(f"all values: {full_lo:.1f} to {full_hi:.1f}".replace("-", "−"))
        inset.locator_params(nbins=4)
        style_axes(inset, ctx.theme)
    bins = np.linspace(lo, hi, 81)
    counts, _ = np.histogram(pre_all, bins=bins)
    bottom.bar(np.round(bins[:-1], 4), counts, width=np.diff(bins), align="edge", color=style.MLP, alpha=0.7)
    bottom.set_xlabel("pre-activation h" + (f" ({outside:,} of {pre_all.size:,} values lie outside this range)"
                                            if outside else ""))
    bottom.set_ylabel("count (all layers\nand positions)")
    style_axes(bottom, ctx.theme)
    frac_neg = float((pre_all < 0).mean())
    return Figure(
        data={"max_diff": float(f"{err:.3g}"), "frac_negative": round(frac_neg, 4),
              # "Most" means more than half of all the pre-activations of this prompt.
              "negative_verdict": ("so most of the neurons are nearly silent at any one position" if frac_neg > 0.5
                                   else "so most of the neurons pass on a positive value at any one position"), "gelu_min": round(gmin, 4),
              "gelu_argmin": round(float(xs[np.argmin(gelu_tanh(xs))]), 4), "pre_min": round(float(pre_all.min()), 4),
              "pre_max": round(float(pre_all.max()), 4), "layer": f["layer"], "n_values": int(pre_all.size),
              "max_tanh_vs_erf": round(float(np.abs(gelu_tanh(x_full) - gelu_erf(x_full)).max()), 5),
              "zoom_lo": lo, "zoom_hi": hi, "zoom_quantiles": [ZOOM_QUANTILE, round(1 - ZOOM_QUANTILE, 6)], "n_outside": outside,
              "share_inside": round(1 - outside / pre_all.size, 4), "has_inset": has_inset,
              "range_note": (f"; the inset shows all of them, the {outside:,} outside included" if has_inset
                             else ", which is all of them")},
        alt=f"The GELU curve from {lo:.1f} to {hi:.1f}"
            + (f" (an inset shows the full range {full_lo:.1f} to {full_hi:.1f})" if has_inset else "") + f", with layer {f['layer']}'s pre-activations at the final "
            f"position as dots on it, and a histogram of all {pre_all.size} pre-activations below: "
            f"{frac_neg:.0%} are negative, where GELU is close to 0 (its minimum is {gmin:.3f})",
        caption="GELU passes positive readings almost unchanged and squashes negative ones towards 0"
                + (", where most of this prompt's pre-activations fall" if frac_neg > 0.5 else "")
                + ". The curve GPT-2 uses (tanh approximation) and the exact GELU, with layer "
                f"{f['layer']}'s pre-activations at the last position as dots; below, how all {pre_all.size:,} "
                "pre-activations of the prompt (every layer and position) are distributed"
                + ("; the inset shows the full range." if has_inset else "."),
        mpl=fig,
    )
