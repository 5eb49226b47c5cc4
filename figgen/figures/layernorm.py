"""LayerNorm: one vector taken through centring, scaling and the learned γ/β, and the scale factor of
every LayerNorm at every position.

Figures: the steps on one residual vector (a middle layer's ln1 at the last position), with γ and β as
strips; a heatmap of hook_scale for every LayerNorm (ln1, ln2 of each layer, ln_final) × position.
"""

from __future__ import annotations

import altair as alt
import numpy as np
from matplotlib.figure import Figure as MplFigure

from . import heads, style
from .labels import cell_text, rounded, sig, token_labels
from .registry import Figure, figure
from .vector import SHOWN, shown_note

LOG_RATIO = 20.0  # a log colour scale when the largest scale is this many times the smallest


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
    return {"layer": l, "position": p, "x": x, "scale": scale, "normed": normed, "gamma": gamma, "beta": beta,
            "out": out, "traced": np.asarray(t[f"blocks.{l}.ln1.hook_normalized"][p], np.float64)}


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


@figure("layernorm.steps", section="layernorm", title="One vector through LayerNorm",
        caption="A residual vector before LayerNorm, after centring and scaling, the learned γ and β, and the "
                "result.")
def steps_figure(ctx) -> Figure:
    s = ctx.analysis(steps)
    l, p, d = s["layer"], s["position"], ctx.dims.d_model
    token = ctx.token_str(ctx.trace.tokens[p])
    panels = [("x", f"1. the input x: layer {l}'s resid_pre at position {p}", style.symmetric_norm(s["x"][:SHOWN])),
              ("normed", "2. centred and divided by its scale: mean 0, variance 1",
               style.symmetric_norm(s["normed"][:SHOWN])),
              ("gamma", "3. γ, the learned per-component scale (ln1.w)", style.symmetric_norm(s["gamma"][:SHOWN])),
              ("beta", "4. β, the learned per-component shift (ln1.b)", style.symmetric_norm(s["beta"][:SHOWN])),
              ("out", "5. the output: step 2 × γ + β (what the attention heads read)",
               style.symmetric_norm(s["out"][:SHOWN]))]
    fig = MplFigure(figsize=(max(4.0, min(d, SHOWN) * 0.055 + 1.6), 6.4))
    axes = fig.subplots(len(panels), 1, gridspec_kw={"hspace": 1.3})
    for ax, (key, title, norm) in zip(axes, panels):
        image = heads.matrix_panel(ax, s[key][None, :SHOWN], None, norm=norm, theme=ctx.theme, title=title,
                                   xlabel="", separators=False)
        heads.colorbar(fig, image, ax)
    axes[-1].set_xlabel(f"component ({shown_note(d)}; each strip has its own colour scale)",
                        color=style.muted(ctx.theme), fontsize=8)
    x, normed = s["x"], s["normed"]
    data = {"layer": l, "position": p, "token": token, "d_model": d,
            "mean_before": round(float(x.mean()), 4), "std_before": round(float(x.std()), 4),
            "norm_before": round(float(np.linalg.norm(x)), 4), "scale": round(s["scale"], 4),
            "mean_normed": sig(float(normed.mean()), 3), "std_normed": round(float(normed.std()), 6),
            "var_normed": round(float(normed.var()), 6),
            "norm_normed": round(float(np.linalg.norm(normed)), 4), "sqrt_d_model": round(float(np.sqrt(d)), 4),
            "max_diff_vs_traced": sig(float(np.abs(s["out"] - s["traced"]).max()), 3),
            "scale_vs_std": sig(float(abs(s["scale"] - x.std())), 3),
            "gamma_min": round(float(s["gamma"].min()), 4), "gamma_max": round(float(s["gamma"].max()), 4),
            "gamma_mean": round(float(s["gamma"].mean()), 4),
            "beta_min": round(float(s["beta"].min()), 4), "beta_max": round(float(s["beta"].max()), 4),
            "mean_out": round(float(s["out"].mean()), 4), "std_out": round(float(s["out"].std()), 4)}
    return Figure(
        data=data,
        alt=f"Five strips of coloured cells ({shown_note(d)}): layer {l}'s residual input at position {p} "
            f"({token!r}; mean {data['mean_before']:.3f}, standard deviation {data['std_before']:.3f}), the same "
            f"vector centred and divided by its scale {data['scale']:.3f} (mean {data['mean_normed']:.1e}, standard "
            f"deviation {data['std_normed']:.4f}), the γ and β vectors, and the output, which matches the traced "
            f"ln1 output within {data['max_diff_vs_traced']:.1e}",
        caption=f"Layer {l}'s first LayerNorm (ln1) at the last position ({p}, {token!r}), step by step: the "
                "residual vector x; x minus its mean, divided by its scale √(var + ε); the learned γ and β; and the result, "
                f"(x − mean)/scale · γ + β ({shown_note(d)}; each strip has its own colour scale, centred at 0).",
        mpl=fig,
    )


@figure("layernorm.scales", section="layernorm", title="The scale of every LayerNorm",
        caption="The scale factor √(var + ε) each LayerNorm divides by, for every LayerNorm and position.")
def scales_figure(ctx) -> Figure:
    names, s = ctx.analysis(scales)  # s: (ln, pos)
    labels = token_labels(ctx)
    N, P = s.shape
    rows = [{"ln": names[i], "order": i, "position": p, "token": labels[p], "scale": round(float(s[i, p]), 4)}
            for i in range(N) for p in range(P)]
    log = bool(s.max() / max(s.min(), 1e-12) > LOG_RATIO)
    names_param = alt.param(name="position_names", value=labels)
    base = alt.Chart(alt.Data(values=rows)).encode(
        x=alt.X("position:O", title="position",
                axis=alt.Axis(labelExpr="position_names[datum.value]", labelAngle=-45, labelLimit=120)),
        y=alt.Y("ln:N", sort=names, title="LayerNorm"))
    chart = base.mark_rect().encode(
        color=alt.Color("scale:Q", title="scale" + (" (log)" if log else ""), legend=alt.Legend(format=".3~g"),
                        scale=alt.Scale(scheme="purples", type="log" if log else "linear")),
        tooltip=[alt.Tooltip("ln:N", title="LayerNorm"), alt.Tooltip("token:N", title="position"),
                 alt.Tooltip("scale:Q", format=".3f")])
    if P <= 16:
        # Dark cells: top half of the colour range (in log space when the scale is logarithmic).
        hi, lo = float(s.max()), max(float(s.min()), 1e-12)
        mid = float(np.sqrt(hi * lo)) if log else (hi + lo) / 2
        chart += cell_text(base, "scale", ".1f", f"datum.scale > {mid:.4f}")
    chart = chart.add_params(names_param).properties(
        width=max(240, 46 * P), height=max(140, 17 * N), title="LayerNorm scale factor by position")
    big = np.unravel_index(np.argmax(s), s.shape)
    small = np.unravel_index(np.argmin(s), s.shape)
    by_pos = s.mean(0)
    return Figure(
        data={"names": names, "n_layernorms": N, "scales": rounded(s), "log_scale": log,
              "min_scale": round(float(s.min()), 4), "max_scale": round(float(s.max()), 4),
              "median_scale": round(float(np.median(s)), 4),
              "max_ln": names[big[0]], "max_position": int(big[1]),
              "max_token": ctx.token_str(ctx.trace.tokens[big[1]]),
              "min_ln": names[small[0]], "min_position": int(small[1]),
              "ratio": round(float(s.max() / max(s.min(), 1e-12)), 4),
              "mean_by_position": rounded(by_pos),
              "first_over_rest": round(float(by_pos[0] / max(by_pos[1:].mean(), 1e-12)), 4) if P > 1 else 1.0},
        alt=f"Heatmap of {N} LayerNorms by {P} positions giving each scale factor; they range from {s.min():.2f} "
            f"to {s.max():.2f}, the largest at {names[big[0]]}, position {big[1]}",
        caption=f"The scale factor √(var + ε) that each of the {N} LayerNorms (ln1 before attention, ln2 before the "
                "MLP, in every layer, and ln_final before the unembedding) divides by, at every position. It is the "
                "residual vector's standard deviation, so it tracks how large the stream is there"
                + ("; the colour scale is logarithmic." if log else ".") + " Hover a cell for its value.",
        chart=chart,
    )

