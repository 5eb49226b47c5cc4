"""Up-projection: the d_mlp pre-activations of one position, and the largest of them in every layer."""

from __future__ import annotations

import altair as alt
import numpy as np

from . import style
from .labels import rounded
from .mlp_focus import focus
from .registry import Figure, figure
from .vector import shown_note, strips

TOP = 5  # neurons listed per layer


def pre_check(ctx) -> float:
    """max |hook_pre − (ln2.hook_normalized @ W_in + b_in)| over layers and positions."""
    t, w = ctx.trace, ctx.weights
    return max(float(np.abs(t[f"blocks.{l}.ln2.hook_normalized"] @ w[f"blocks.{l}.mlp.W_in"]
                            + w[f"blocks.{l}.mlp.b_in"] - t[f"blocks.{l}.mlp.hook_pre"]).max())
               for l in range(ctx.dims.n_layers))


@figure("up-projection.pre", section="up-projection", title="Pre-activations of the final position",
        caption="The final position's MLP pre-activations h = LN₂(x) W_in + b_in in every layer, one strip per layer.")
def pre(ctx) -> Figure:
    t = ctx.trace
    L, d_mlp = ctx.dims.n_layers, ctx.dims.d_mlp
    f = ctx.analysis(focus)
    h = np.stack([t[f"blocks.{l}.mlp.hook_pre"][-1] for l in range(L)])  # (n_layers, d_mlp)
    err = ctx.analysis(pre_check)
    return Figure(
        data={"d_mlp": d_mlp, "d_model": ctx.dims.d_model, "expansion": d_mlp // ctx.dims.d_model,
              "position": f["position"], "token": f["token"], "shown": shown_note(d_mlp),
              "max_diff": float(f"{err:.3g}"), "frac_positive": round(float((h > 0).mean()), 4),
              "max_pre": round(float(h.max()), 4), "min_pre": round(float(h.min()), 4),
              # "Most" means more than half of the L × d_mlp readings.
              "reading": ("most probes read “no” (h < 0)" if (h < 0).mean() > 0.5 else
                          "most probes read “yes” (h > 0)" if (h > 0).mean() > 0.5 else
                          "the probes split evenly between “yes” and “no”")},
        alt=f"{L} strips, one per layer, of the final position's {d_mlp} MLP pre-activations ({shown_note(d_mlp)}); "
            f"{(h > 0).mean():.0%} of them are positive",
        caption=f"What the MLPs' probes read at the last position ({f['token']}): the pre-activations h, one strip "
                f"per layer; {(h > 0).mean():.0%} of them are positive ({shown_note(d_mlp)}).",
        mpl=strips(h, [f"layer {l}" for l in range(L)], theme=ctx.theme),
    )


@figure("up-projection.top-neurons", section="up-projection", title="The strongest readings",
        caption="In each layer, the neurons whose pre-activation h is largest at the final position.")
def top_neurons(ctx) -> Figure:
    t = ctx.trace
    L = ctx.dims.n_layers
    f = ctx.analysis(focus)
    rows, table = [], {}
    for l in range(L):
        pre = t[f"blocks.{l}.mlp.hook_pre"][-1]  # (d_mlp,)
        post = t[f"blocks.{l}.mlp.hook_post"][-1]  # (d_mlp,)
        order = np.lexsort((np.arange(len(pre)), -pre))[:TOP]
        table[str(l)] = [[int(n), rounded(pre[n]), rounded(post[n])] for n in order]
        rows += [{"layer": f"layer {l}", "rank": r + 1, "neuron": f"L{l}N{n}", "pre": rounded(pre[n]),
                  "activation": rounded(post[n])} for r, n in enumerate(order)]
    chart = alt.Chart(alt.Data(values=rows)).mark_bar(color=style.MLP).encode(
        x=alt.X("pre:Q", title="pre-activation h (the up-projection's reading)"),
        y=alt.Y("neuron:N", sort=None, title=None),
        row=alt.Row("layer:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")),
        tooltip=["neuron:N", alt.Tooltip("pre:Q", format=".3f", title="pre-activation h"),
                 alt.Tooltip("activation:Q", format=".3f", title="activation GELU(h)")],
    ).resolve_scale(y="independent").properties(width=400, height=TOP * 16)
    best = max(((int(l), v[0]) for l, v in table.items()), key=lambda lv: lv[1][1])
    return Figure(
        data={"top": table, "k": TOP, "best_layer": best[0], "best_neuron": best[1][0], "best_pre": best[1][1],
              "best_activation": best[1][2], "position": f["position"], "token": f["token"]},
        alt=f"Bar charts, one per layer, of the {TOP} largest MLP pre-activations at the final position; the largest "
            f"is neuron {best[1][0]} of layer {best[0]}, h = {best[1][1]:.2f}",
        caption=f"The probes that read “yes” most strongly at the last position ({f['token']}): in each layer, the "
                f"{TOP} neurons with the largest reading h (the bar's length), L{best[0]}N{best[1][0]} the largest of "
                f"all (neuron {best[1][0]} of layer {best[0]}). Hover a bar for its activation GELU(h).",
        chart=chart,
    )
