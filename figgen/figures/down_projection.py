"""Down-projection: the MLP's output as a sum of neuron rows, and the tokens the biggest rows promote."""

from __future__ import annotations

import json

import altair as alt
import numpy as np

from ..analysis.circuits import top_tokens
from . import style
from .labels import rounded
from .mlp_focus import focus
from .registry import Figure, figure

TOP = 10  # neurons shown
K = 5  # tokens listed per neuron


def contributions(ctx):
    """(activation (d_mlp,), contributions (d_mlp, d_model), max |Σ + b_out − hook_mlp_out|) at the focus."""
    f = ctx.analysis(focus)
    l, pos = f["layer"], f["position"]
    post = ctx.trace[f"blocks.{l}.mlp.hook_post"][pos].astype(np.float64)  # (d_mlp,)
    W_out = ctx.weights[f"blocks.{l}.mlp.W_out"].astype(np.float64)  # (d_mlp, d_model)
    c = post[:, None] * W_out  # (d_mlp, d_model): neuron n writes activation × its output row
    err = np.abs(c.sum(0) + ctx.weights[f"blocks.{l}.mlp.b_out"] - ctx.trace[f"blocks.{l}.hook_mlp_out"][pos]).max()
    return post, c, float(err)


@figure("down-projection.neurons", section="down-projection", title="The neurons that write most",
        caption="At the final position, the neurons whose activation × output row is longest, and the tokens "
                "each output row pushes up through the unembedding.")
def neurons(ctx) -> Figure:
    f = ctx.analysis(focus)
    post, c, err = ctx.analysis(contributions)
    norms = np.linalg.norm(c, axis=-1)  # (d_mlp,)
    order = np.lexsort((np.arange(len(norms)), -norms))[:TOP]
    W_out = ctx.weights[f"blocks.{f['layer']}.mlp.W_out"]
    # The tokens a row promotes when the neuron fires positively (sign flips them when it is negative).
    ids, vals = top_tokens(np.sign(post[order])[:, None] * W_out[order], ctx.weights["W_U"], k=K)
    rows, table = [], []
    for n, tok_ids, tok_vals in zip(order, ids, vals):
        promoted = [ctx.token_str(i) for i in tok_ids]
        table.append({"neuron": int(n), "activation": rounded(post[n]), "norm": rounded(norms[n]),
                      "promotes": promoted})
        rows.append({"neuron": f"L{f['layer']}N{n}", "length": rounded(norms[n]), "activation": rounded(post[n]),
                     "promotes": " · ".join(promoted)})
    # The promoted tokens are the right-hand axis's labels (axis text follows the theme in the static
    # figures and in the browser); both axes share one band scale, so each row lines up with its bar.
    promoted = json.dumps({r["neuron"]: r["promotes"] for r in rows}, ensure_ascii=False)
    base = alt.Chart(alt.Data(values=rows)).encode(
        y=alt.Y("neuron:N", sort=None, title=None, scale=alt.Scale(paddingInner=0.25)))
    chart = alt.layer(
        base.mark_bar(color=style.MLP).encode(
            x=alt.X("length:Q", title="length of activation × output row"),
            tooltip=["neuron:N", alt.Tooltip("activation:Q", format=".3f"), alt.Tooltip("length:Q", format=".3f"),
                     alt.Tooltip("promotes:N", title="promotes")]),
        base.mark_tick(opacity=0).encode(
            x=alt.value(0),
            y=alt.Y("neuron:N", sort=None, title=None,
                    axis=alt.Axis(orient="right", labelExpr=f"{promoted}[datum.value]",
                                  labelLimit=400, ticks=False, domain=False))),
    ).resolve_axis(y="independent").properties(
        width=200, height=24 * len(rows),
        title=alt.Title(f"Right: the {K} tokens each neuron's output row promotes most", anchor="start"))
    share = float(norms[order].sum() / max(norms.sum(), 1e-12))
    return Figure(
        data={"layer": f["layer"], "position": f["position"], "token": f["token"], "top": table,
              "max_diff": float(f"{err:.3g}"), "top_share": round(share, 4), "d_mlp": len(post),
              "n_active": int((post > 0.1).sum()), "k": TOP, "k_tokens": K},
        alt=f"Bar chart of the {TOP} neurons of layer {f['layer']} whose output is longest at the final position, "
            f"each with the {K} tokens its output row promotes; the first, neuron {table[0]['neuron']}, promotes "
            + ", ".join(repr(s) for s in table[0]["promotes"]),
        caption=f"The neurons that write most into the stream at the last position ({f['token']}), in layer "
                f"{f['layer']}, and what they write: the {TOP} longest contributions, activation × output row "
                f"(L{f['layer']}N{table[0]['neuron']} is neuron {table[0]['neuron']}), and on the right the {K} tokens "
                "each output row pushes up most through W_U. Hover a bar for the numbers.",
        chart=chart,
    )
