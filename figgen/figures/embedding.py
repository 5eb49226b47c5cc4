"""Token embedding: W_E's rows for the prompt, how many parameters W_E holds, and its neighbourhoods."""

from __future__ import annotations

import altair as alt
import numpy as np

from ..analysis.params import allocation
from ..analysis.vocab import nearest
from . import style
from .labels import cell_text
from .registry import Figure, figure
from .vector import shown_note, strips

K_NEIGHBOURS = 5
_GROUP_NAMES = {"W_E (token embedding)": "W_E itself", "W_pos (positional embedding)": "W_pos",
                "attention": "the attention sublayers", "MLP": "the MLPs", "LayerNorm": "the LayerNorms"}
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _labels(ctx) -> list[str]:
    """'␣today  (336)': each prompt token as the site shows it, with its id (the row of W_E)."""
    return [f"{s}  ({i})" for s, i in zip(ctx.token_strs(), ctx.trace.tokens.tolist())]


@figure("embedding.vectors", section="embedding", title="Token embeddings of the prompt",
        caption="Each strip is the row of W_E selected by one token of the prompt, one cell per "
                "component, red for positive and blue for negative values.")
def vectors(ctx) -> Figure:
    t, d = ctx.trace, ctx.dims.d_model
    rows = ctx.weights["W_E"][t.tokens]  # (pos, d_model)
    norms = np.linalg.norm(rows, axis=-1)
    return Figure(
        data={"d_model": d, "shown": min(d, 128), "shown_note": shown_note(d), "norms": np.round(norms, 4).tolist(),
              "mean_norm": round(float(norms.mean()), 4)},
        alt=f"{len(rows)} token embedding vectors drawn as strips of coloured cells ({shown_note(d)}); "
            f"their lengths range from {norms.min():.2f} to {norms.max():.2f}",
        caption="Every token of the prompt looks up its own learned vector, its row of W_E: the same strip "
                f"wherever the token appears (a repeated token repeats its strip exactly; {shown_note(d)}).",
        mpl=strips(rows, _labels(ctx), theme=ctx.theme),
    )


@figure("embedding.params", section="embedding", title="Where the parameters are",
        caption="Where the model's parameters are, counted from its dimensions. The unembedding W_U is W_E "
                "itself, transposed, so it adds none.")
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
    parts = dict(alloc.components)
    largest = max(alloc.components, key=lambda c: c[1])[0]
    inside = parts["attention"] + parts["MLP"] + parts["LayerNorm"]  # the parameters inside the layers
    return Figure(
        data={"n_params": total, "n_params_counted": ctx.model_info["n_params"], "W_E_params": w_e,
              "W_E_share": round(w_e / total, 6), "d_vocab": ctx.dims.d_vocab, "d_model": ctx.dims.d_model,
              "components": parts, "largest": largest,
              "mlp_share": round(parts["MLP"] / total, 6), "mlp_share_of_layers": round(parts["MLP"] / inside, 6)},
        alt=f"Bar chart of parameters by component: W_E holds {w_e:,} of {total:,} parameters "
            f"({w_e / total:.0%})",
        caption=f"W_E holds {w_e / total:.0%} of the model's {total:,} parameters, {_GROUP_NAMES.get(largest, largest)} "
                "the most. The unembedding W_U is W_E itself, transposed, so it adds none.",
        chart=chart,
    )


@figure("embedding.neighbours", section="embedding", title="Nearest tokens in embedding space",
        caption="Which tokens the embedding treats alike: for each token of the prompt, the tokens whose rows "
                "of W_E point most nearly the same way (cosine similarity; the token itself left out).")
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
    lo = min(r["cosine"] for r in rows) if rows else 0.0
    domain = (round(min(lo, 0.0), 4), 1.0)  # one fixed scale: a cosine of 1 is the darkest cell
    base = alt.Chart(alt.Data(values=rows)).encode(
        y=alt.Y("token:N", sort=None, title="prompt token"),
        x=alt.X("rank:O", title="neighbour rank", axis=alt.Axis(labelAngle=0)),
        tooltip=[alt.Tooltip("token:N"), alt.Tooltip("neighbour:N"), alt.Tooltip("cosine:Q", format=".3f")],
    )
    cells = base.mark_rect().encode(
        color=alt.Color("cosine:Q", scale=alt.Scale(range=style.vega_range("similarity"), domain=list(domain)), title="cosine",
                        legend=alt.Legend(orient="bottom", direction="horizontal", gradientLength=200)))
    # Labels in the ink that reads on each cell (the colour follows the cosine, the text is the neighbour).
    names = cell_text(base, "cosine", ".2f", "similarity", domain).encode(
        text=alt.Text("neighbour:N"))
    chart = (cells + names).properties(width=92 * K_NEIGHBOURS, height=26 * len(unique))
    first = next(iter(table.items()))
    return Figure(
        data={"k": K_NEIGHBOURS, "neighbours": table, "n_distinct": len(unique), **_day_example(table)},
        alt=f"Table of the {K_NEIGHBOURS} nearest tokens to each of the prompt's {len(unique)} distinct "
            f"tokens; for example {first[0]!r}: " + ", ".join(repr(n) for n, _ in first[1]),
        chart=chart,
    )


def _is_day(shown: str) -> bool:
    return shown.lstrip("␣") in DAY_NAMES


def _day_example(table: dict[str, list]) -> dict:
    """A checkable example of "related tokens point the same way": the first day name in the prompt and how
    many of its nearest neighbours are day names too (a count, so the sentence holds for any model)."""
    day = next((tok for tok in table if _is_day(tok)), None)
    if day is None:
        return {"day_token": None, "day_neighbours": None, "day_note": "The prompt has no day name to test this on."}
    found = [n for n, _ in table[day] if _is_day(n)]
    k = len(table[day])
    if not found:
        note = f"None of the {k} nearest neighbours of {day} is another day name."
    elif len(found) == 1:
        note = f"One of the {k} nearest neighbours of {day} is another day name ({found[0]})."
    else:
        listed = ", ".join(found[:-1]) + " and " + found[-1]
        note = f"{len(found)} of the {k} nearest neighbours of {day} are other day names ({listed})."
    return {"day_token": day, "day_neighbours": len(found), "day_note": note}


def _neighbours(ctx, ids: tuple[int, ...]):
    W_E = ctx.weights["W_E"]
    q = np.asarray(ids)
    return nearest(W_E, W_E[q], k=K_NEIGHBOURS, exclude=q)
