"""Token embedding: W_E's rows for the prompt, how many parameters W_E holds, and its neighbourhoods."""

from __future__ import annotations

import altair as alt
import numpy as np

from ..analysis.params import allocation
from ..analysis.vocab import nearest
from . import style
from .registry import Figure, figure
from .vector import shown_note, strips

K_NEIGHBOURS = 5


def _labels(ctx) -> list[str]:
    t = ctx.trace
    return [f"{s}  ({i})" for s, i in zip(t.display_tokens, t.tokens.tolist())]


@figure("embedding.vectors", section="embedding", title="Token embeddings of the prompt",
        caption="Each strip is the row of W_E selected by one token of the prompt, one cell per "
                "component, red for positive and blue for negative values.")
def vectors(ctx) -> Figure:
    t, d = ctx.trace, ctx.dims.d_model
    rows = ctx.weights["W_E"][t.tokens]  # (pos, d_model)
    norms = np.linalg.norm(rows, axis=-1)
    return Figure(
        data={"d_model": d, "shown": min(d, 128), "norms": np.round(norms, 4).tolist(),
              "mean_norm": round(float(norms.mean()), 4)},
        alt=f"{len(rows)} token embedding vectors drawn as strips of coloured cells ({shown_note(d)}); "
            f"their lengths range from {norms.min():.2f} to {norms.max():.2f}",
        caption=f"Each strip is the row of W_E selected by one token of the prompt ({shown_note(d)}; "
                "the infographic shows 128 of GPT-2's 768), red for positive and blue for negative values.",
        mpl=strips(rows, _labels(ctx), theme=ctx.theme),
    )


@figure("embedding.params", section="embedding", title="Where the parameters are",
        caption="Parameters of the loaded model by component, counted from its dimensions. The "
                "unembedding W_U is tied to W_E (the same matrix, transposed), so it adds nothing.")
def params(ctx) -> Figure:
    alloc = allocation(ctx.dims)
    total = alloc.total
    w_e = dict(alloc.components)["W_E (token embedding)"]
    rows = [{"component": name, "parameters": n, "share": round(n / total, 6)} for name, n in alloc.components]
    chart = (
        alt.Chart(alt.Data(values=rows), title="Parameters by component")
        .mark_bar(color=style.PARAMETER)
        .encode(
            y=alt.Y("component:N", sort=None, title=None),
            x=alt.X("parameters:Q", title="parameters"),
            tooltip=[alt.Tooltip("component:N"), alt.Tooltip("parameters:Q", format=","),
                     alt.Tooltip("share:Q", format=".1%")],
        )
        .properties(width=480, height=160)
    )
    return Figure(
        data={"n_params": total, "n_params_counted": ctx.model_info["n_params"], "W_E_params": w_e,
              "W_E_share": round(w_e / total, 6), "d_vocab": ctx.dims.d_vocab, "d_model": ctx.dims.d_model,
              "components": {name: n for name, n in alloc.components}},
        alt=f"Bar chart of parameters by component: W_E holds {w_e:,} of {total:,} parameters "
            f"({w_e / total:.0%})",
        chart=chart,
    )


@figure("embedding.neighbours", section="embedding", title="Nearest tokens in embedding space",
        caption="For each token of the prompt, the tokens whose embeddings point in the most similar "
                "direction (cosine similarity of W_E rows; the token itself left out).")
def neighbours(ctx) -> Figure:
    t = ctx.trace
    unique = list(dict.fromkeys(t.tokens.tolist()))
    res = ctx.analysis(_neighbours, tuple(unique))
    rows, table = [], {}
    for q, (ids, cos) in zip(unique, zip(res.ids, res.cosines)):
        src = ctx.token_str(q)
        table[src] = [[ctx.token_str(i), round(float(c), 4)] for i, c in zip(ids, cos)]
        for rank, (i, c) in enumerate(zip(ids, cos), start=1):
            rows.append({"token": src, "rank": rank, "neighbour": ctx.token_str(i),
                         "cosine": round(float(c), 4)})
    base = alt.Chart(alt.Data(values=rows)).encode(
        y=alt.Y("token:N", sort=None, title="prompt token"),
        x=alt.X("rank:O", title="neighbour rank"),
        tooltip=[alt.Tooltip("token:N"), alt.Tooltip("neighbour:N"), alt.Tooltip("cosine:Q", format=".3f")],
    )
    chart = (
        base.mark_rect().encode(color=alt.Color("cosine:Q", scale=alt.Scale(scheme="blues"), title="cosine"))
        + base.mark_text(fontSize=11, font="monospace").encode(text="neighbour:N")
    ).properties(width=110 * K_NEIGHBOURS, height=26 * len(unique))
    first = next(iter(table.items()))
    return Figure(
        data={"k": K_NEIGHBOURS, "neighbours": table},
        alt=f"Table of the {K_NEIGHBOURS} nearest tokens to each of the prompt's {len(unique)} distinct "
            f"tokens; for example {first[0]!r}: " + ", ".join(repr(n) for n, _ in first[1]),
        chart=chart,
    )


def _neighbours(ctx, ids: tuple[int, ...]):
    W_E = ctx.weights["W_E"]
    q = np.asarray(ids)
    return nearest(W_E, W_E[q], k=K_NEIGHBOURS, exclude=q)
