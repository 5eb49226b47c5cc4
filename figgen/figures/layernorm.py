"""LayerNorm: one vector taken through centring, scaling and the learned γ/β, and the scale factor of
every LayerNorm at every position.

Figures: the steps on one residual vector (a middle layer's ln1 at the last position), with γ and β as
strips (γ on a colour scale centred at 1, the identity, everything else centred at 0); a heatmap of
hook_scale for every LayerNorm (ln1, ln2 of each layer, ln_final) × position.
"""

from __future__ import annotations

import altair as alt
import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure as MplFigure

from . import style
from .labels import cell_text, rounded, sig, token_labels
from .registry import Figure, figure
from .vector import SHOWN, shown_note

LOG_RATIO = 20.0  # a log colour scale when the largest scale is this many times the smallest
GROWS_RANK = 0.5  # "scales grow with depth": rank correlation of depth and median scale at least this …
GROWS_RATIO = 1.5  # … and the last LayerNorm's median scale at least this many times the first's


def example_layer(ctx) -> int:
    """The layer whose ln1 the steps figure shows: a middle one (the stream has grown by then)."""
    return ctx.dims.n_layers // 2


def steps(ctx) -> dict:
    """The LayerNorm of `example_layer`'s ln1 at the last position, recomputed step by step (float64).

    x: (d_model,) resid_pre; normed: (x − mean)/scale; out: normed · γ + β; scale: √(var(x) + ε)
    as traced."""
    t, W = ctx.trace, ctx.weights
    l = ctx.analysis(example_layer)
    p = len(t.tokens) - 1
    x = np.asarray(t[f"blocks.{l}.hook_resid_pre"][p], np.float64)
    scale = float(t[f"blocks.{l}.ln1.hook_scale"][p, 0])
    gamma, beta = (np.asarray(W[f"blocks.{l}.ln1.{k}"], np.float64) for k in "wb")
    normed = (x - x.mean()) / scale
    out = normed * gamma + beta
    eps = float(getattr(ctx.model.cfg, "layer_norm_epsilon", 1e-5))
    return {"layer": l, "position": p, "x": x, "scale": scale, "normed": normed, "gamma": gamma, "beta": beta,
            "out": out, "traced": np.asarray(t[f"blocks.{l}.ln1.hook_normalized"][p], np.float64), "eps": eps}


def scales(ctx) -> tuple[list[str], np.ndarray]:
    """LayerNorm names and (ln, pos) scale factors: ln1 and ln2 of each layer in order, then ln_final."""
    t = ctx.trace
    names, rows = [], []
    for l in range(ctx.dims.n_layers):
        for k in ("ln1", "ln2"):
            names.append(f"L{l} {k}")
            rows.append(t[f"blocks.{l}.{k}.hook_scale"][:, 0])
    names.append("ln_final")
    rows.append(t["ln_final.hook_scale"][:, 0])
    return names, np.asarray(rows, np.float64)


def _centred(values: np.ndarray, centre: float) -> TwoSlopeNorm:
    """A colour norm centred at `centre`, spanning ± the largest distance from it."""
    r = float(np.abs(np.asarray(values, np.float64) - centre).max()) or 1.0
    return TwoSlopeNorm(vcenter=centre, vmin=centre - r, vmax=centre + r)


def _strip_panels(panels: list[tuple[str, np.ndarray, TwoSlopeNorm]], *, theme: str, xlabel: str) -> MplFigure:
    """One strip per (title, values (k,), norm), the column's width, each with a small horizontal colour bar
    on its right whose three ticks are the norm's low end, centre and high end."""
    fig = MplFigure(figsize=(style.COLUMN_IN, 0.78 * len(panels) + 0.45), layout="constrained")
    grid = fig.add_gridspec(len(panels), 2, width_ratios=[5.6, 1.0])
    cmap = style.cmap("diverging", theme)
    for i, (title, values, norm) in enumerate(panels):
        ax = fig.add_subplot(grid[i, 0])
        k = len(values)
        image = ax.imshow(np.round(values, 4)[None, :], cmap=cmap, norm=norm, aspect="auto",
                          interpolation="nearest")
        ax.set_yticks([])
        last = i == len(panels) - 1
        ax.set_xticks([0, k - 1], ["0", str(k - 1)] if last else ["", ""])
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_title(title, loc="left")
        if last:
            ax.set_xlabel(xlabel, color=style.muted(theme))
        holder = fig.add_subplot(grid[i, 1])
        holder.axis("off")
        cax = holder.inset_axes((0.05, 0.5, 0.9, 0.22))
        ticks = [norm.vmin, norm.vcenter, norm.vmax]
        bar = fig.colorbar(image, cax=cax, orientation="horizontal", ticks=ticks)
        bar.outline.set_visible(False)
        bar.ax.set_xticklabels([f"{v:.3g}".replace("-", "−") for v in ticks])
        bar.ax.tick_params(length=2)
    return fig


@figure("layernorm.steps", section="layernorm", title="One vector through LayerNorm",
        caption="A residual vector before LayerNorm, after centring and scaling, the learned γ and β, and the "
                "result.")
def steps_figure(ctx) -> Figure:
    s = ctx.analysis(steps)
    l, p, d = s["layer"], s["position"], ctx.dims.d_model
    token = ctx.token_str(ctx.trace.tokens[p])
    k = min(d, SHOWN)
    cut = {key: s[key][:k] for key in ("x", "normed", "gamma", "beta", "out")}
    panels = [(f"1. the input x: the stream entering layer {l}, position {p} ({token})", cut["x"],
               _centred(cut["x"], 0)),
              ("2. centred and divided by its scale: mean 0, variance 1", cut["normed"], _centred(cut["normed"], 0)),
              ("3. γ, the learned per-component scale: centred on 1", cut["gamma"], _centred(cut["gamma"], 1.0)),
              ("4. β, the learned per-component shift", cut["beta"], _centred(cut["beta"], 0)),
              ("5. the output: step 2 × γ + β (what the attention heads read)", cut["out"], _centred(cut["out"], 0))]
    fig = _strip_panels(panels, theme=ctx.theme, xlabel=f"component ({shown_note(d)})")
    x, normed, eps = s["x"], s["normed"], s["eps"]
    # How far below 1 the normalised vector's standard deviation is: ε in the scale makes it
    # std/√(var + ε) < 1. Computed in float64 from x and ε; the traced scale (float32) gives the same to rounding.
    gap = float(1.0 - x.std() / np.sqrt(x.var() + eps))
    gamma = s["gamma"]
    data = {"layer": l, "position": p, "token": token, "d_model": d, "eps": eps,
            "mean_before": round(float(x.mean()), 4), "std_before": round(float(x.std()), 4),
            "norm_before": round(float(np.linalg.norm(x)), 4), "scale": round(s["scale"], 4),
            "mean_normed": sig(float(normed.mean()), 3), "std_normed": round(float(normed.std()), 8),
            "std_gap": sig(gap, 3), "std_gap_traced": sig(float(1.0 - normed.std()), 3),
            "var_normed": round(float(normed.var()), 8),
            "norm_normed": round(float(np.linalg.norm(normed)), 4), "sqrt_d_model": round(float(np.sqrt(d)), 4),
            "max_diff_vs_traced": sig(float(np.abs(s["out"] - s["traced"]).max()), 3),
            "scale_vs_std": sig(float(abs(s["scale"] - x.std())), 3),
            "gamma_min": round(float(gamma.min()), 4), "gamma_max": round(float(gamma.max()), 4),
            "gamma_mean": round(float(gamma.mean()), 4),
            "gamma_above_1": int((gamma > 1).sum()), "gamma_below_1": int((gamma < 1).sum()),
            "beta_min": round(float(s["beta"].min()), 4), "beta_max": round(float(s["beta"].max()), 4),
            "mean_out": round(float(s["out"].mean()), 4), "std_out": round(float(s["out"].std()), 4)}
    return Figure(
        data=data,
        alt=f"Five strips of coloured cells ({shown_note(d)}): layer {l}'s residual input at position {p} "
            f"({token}; mean {data['mean_before']:.3f}, standard deviation {data['std_before']:.3f}), the same "
            f"vector centred and divided by its scale {data['scale']:.3f} (mean {data['mean_normed']:.1e}, standard "
            f"deviation 1 − {gap:.1e}), γ (from {data['gamma_min']:.2f} to {data['gamma_max']:.2f}), β, and the "
            f"output, which matches the traced ln1 output within {data['max_diff_vs_traced']:.1e}",
        caption=f"One vector through layer {l}'s first LayerNorm, at the last position ({token}): centring and "
                "dividing by its scale leave components of mean 0 and variance 1 (strip 2), whatever the vector's "
                "size; the learned γ and β then rescale and shift each component (strips 3 to 5). Each strip has its "
                f"own colour scale: γ's is centred at 1 (red amplifies, blue damps), the others' at 0 ({shown_note(d)}).",
        mpl=fig,
    )


@figure("layernorm.scales", section="layernorm", title="The scale of every LayerNorm",
        caption="The scale factor √(var + ε) each LayerNorm divides by, for every LayerNorm and position.")
def scales_figure(ctx) -> Figure:
    names, s = ctx.analysis(scales)  # s: (ln, pos)
    labels = token_labels(ctx)
    N, P = s.shape
    lo, hi = max(float(s.min()), 1e-12), float(s.max())
    log = bool(hi / lo > LOG_RATIO)
    rows = [{"ln": names[i], "order": i, "position": p, "token": labels[p], "scale": round(float(s[i, p]), 4),
             "log10": round(float(np.log10(max(s[i, p], 1e-12))), 4)}
            for i in range(N) for p in range(P)]
    domain = [round(lo, 4), round(hi, 4)]
    names_param = alt.param(name="position_names", value=labels)
    cell = min(46, max(12, 520 // max(P, 1)))
    base = alt.Chart(alt.Data(values=rows)).encode(
        x=alt.X("position:O", title="position",
                axis=alt.Axis(labelExpr="position_names[datum.value]", labelAngle=-45, labelLimit=110)),
        y=alt.Y("ln:N", sort=names, title=None))
    chart = base.mark_rect().encode(
        color=alt.Color("scale:Q", title="scale" + (" (log)" if log else ""),
                        legend=alt.Legend(format=".3~g", orient="bottom", direction="horizontal", gradientLength=200),
                        scale=alt.Scale(range=style.vega_range("magnitude"), type="log" if log else "linear", domain=domain)),
        tooltip=[alt.Tooltip("ln:N", title="LayerNorm"), alt.Tooltip("token:N", title="position"),
                 alt.Tooltip("scale:Q", format=".3f")])
    if P <= 16:
        # Label inks follow the colour: thresholds on log10(scale) when the colour scale is logarithmic.
        field, dom = ("log10", (round(float(np.log10(lo)), 4), round(float(np.log10(hi)), 4))) if log \
            else ("scale", tuple(domain))
        chart += cell_text(base, field, ".1f", "magnitude", dom).encode(text=alt.Text("scale:Q", format=".1f"))
    chart = chart.add_params(names_param).properties(
        width=cell * P, height=max(140, 17 * N), title="LayerNorm scale factor by position")
    big = np.unravel_index(np.argmax(s), s.shape)
    small = np.unravel_index(np.argmin(s), s.shape)
    by_pos = s.mean(0)
    depth = depth_trend(s)
    return Figure(
        data={"names": names, "n_layernorms": N, "scales": rounded(s), "log_scale": log,
              "min_scale": round(float(s.min()), 4), "max_scale": round(float(s.max()), 4),
              "median_scale": round(float(np.median(s)), 4),
              "max_ln": names[big[0]], "max_position": int(big[1]),
              "max_token": ctx.token_str(ctx.trace.tokens[big[1]]),
              "min_ln": names[small[0]], "min_position": int(small[1]),
              "ratio": round(float(s.max() / max(s.min(), 1e-12)), 4),
              "mean_by_position": rounded(by_pos),
              "first_over_rest": round(float(by_pos[0] / max(by_pos[1:].mean(), 1e-12)), 4) if P > 1 else 1.0,
              **depth},
        alt=f"Heatmap of {N} LayerNorms by {P} positions giving each scale factor; they range from {s.min():.2f} "
            f"to {s.max():.2f}, the largest at {names[big[0]]}, position {big[1]}",
        caption=f"What each of the {N} LayerNorms divides by, at every position: the standard deviation of the vector "
                "it reads, so it tracks how large the stream is there"
                + (" and grows with depth." if depth["grows_with_depth"] else ".")
                + " ln1 comes before a layer's attention, ln2 before its MLP, ln_final before the unembedding"
                + ("; the colour scale is logarithmic." if log else ".") + " Hover a cell for its value.",
        chart=chart,
    )


def depth_trend(s: np.ndarray) -> dict:
    """Whether the scales grow with depth: the Spearman rank correlation between a LayerNorm's order and its
    median scale over positions, and the last LayerNorm's median over the first's. They grow when the
    correlation is at least GROWS_RANK and the ratio at least GROWS_RATIO; `depth_note` says which."""
    med = np.median(s, axis=1)  # (ln,)
    n = len(med)
    ranks = np.argsort(np.argsort(med)).astype(np.float64)
    order = np.arange(n, dtype=np.float64)
    rho = float(np.corrcoef(order, ranks)[0, 1]) if n > 2 else 1.0
    ratio = float(med[-1] / max(med[0], 1e-12))
    grows = rho >= GROWS_RANK and ratio >= GROWS_RATIO
    if grows:
        note = (f"The scales grow with depth, as the stream itself does: the median over positions rises from "
                f"{_num(med[0])} at the first LayerNorm to {_num(med[-1])} at the last, {_num(ratio)} times as much.")
    else:
        note = (f"The scales do not clearly grow with depth here: the median over positions goes from {_num(med[0])} at "
                f"the first LayerNorm to {_num(med[-1])} at the last.")
    rule = (f"The scales count as growing with depth when the last LayerNorm's median is at least {GROWS_RATIO:g} "
            f"times the first's and the rank correlation between a LayerNorm's depth and its median scale is at least "
            f"{GROWS_RANK:g}. Here the ratio is {ratio:.2f} and the rank correlation {rho:.2f}.")
    return {"median_by_ln": rounded(med), "depth_rank_correlation": round(rho, 4), "depth_ratio": round(ratio, 4),
            "grows_with_depth": bool(grows), "grows_rank_threshold": GROWS_RANK,
            "grows_ratio_threshold": GROWS_RATIO, "depth_note": note, "depth_rule": rule}


def _num(x: float) -> str:
    """A number for a sentence: two significant figures (three above 100, never an exponent), a true minus."""
    x = float(x)
    text = f"{x:,.0f}" if abs(x) >= 100 else f"{x:.2g}"
    return text.replace("-", "−")
