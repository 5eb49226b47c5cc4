"""Unembedding: the final position's logits and probabilities, W_U = W_Eᵀ, logits as similarities."""

from __future__ import annotations

import altair as alt
import numpy as np

from ..analysis.decoding import softmax
from .labels import rounded
from .registry import Figure, figure

TOP = 10  # tokens shown


def top_next(ctx, k: int = TOP):
    """(ids (k,), logits (k,), probs (k,)) of the final position's likeliest next tokens (ties: lower id)."""
    logits = ctx.trace["logits"][-1]  # (d_vocab,)
    probs = softmax(logits)
    order = np.lexsort((np.arange(len(logits)), -logits))[:k]
    return order, logits[order], probs[order]


@figure("unembedding.top", section="unembedding", title="The next-token prediction",
        caption="The final position's likeliest next tokens: logit and probability.")
def top(ctx) -> Figure:
    ids, logits, probs = ctx.analysis(top_next)
    rows = [{"token": ctx.token_str(i), "rank": r + 1, "logit": rounded(lg), "probability": rounded(p)}
            for r, (i, lg, p) in enumerate(zip(ids, logits, probs))]
    chart = alt.Chart(alt.Data(values=rows)).mark_bar(color="#1b9e77").encode(
        x=alt.X("probability:Q", title="probability", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("token:N", sort=None, title=None, axis=alt.Axis(labelFont="monospace")),
        tooltip=["rank:O", "token:N", alt.Tooltip("logit:Q", format=".3f"),
                 alt.Tooltip("probability:Q", format=".4f")],
    ).properties(width=420, height=22 * len(rows))
    return Figure(
        data={"top": [[r["token"], r["logit"], r["probability"]] for r in rows], "predicted": rows[0]["token"],
              "predicted_prob": rows[0]["probability"], "predicted_logit": rows[0]["logit"],
              "top_mass": round(float(probs.sum()), 4), "d_vocab": ctx.dims.d_vocab},
        alt=f"Bar chart of the {len(rows)} likeliest next tokens; first {rows[0]['token']!r} with probability "
            f"{rows[0]['probability']:.1%}, then " + ", ".join(f"{r['token']!r} {r['probability']:.1%}" for r in rows[1:4]),
        chart=chart,
    )


@figure("unembedding.similarity", section="unembedding", title="Logits are similarities to embeddings",
        caption="For the likeliest tokens: the logit, which is the dot product of the final normalised vector "
                "with the token's row of W_E, and the cosine between the two.")
def similarity(ctx) -> Figure:
    W_E, W_U = ctx.weights["W_E"], ctx.weights["W_U"]
    x = ctx.trace["ln_final.hook_normalized"][-1].astype(np.float64)  # (d_model,)
    ids, logits, _ = ctx.analysis(top_next)
    rows_E = W_E[ids].astype(np.float64)  # (k, d_model)
    dots = rows_E @ x
    cos = dots / (np.linalg.norm(rows_E, axis=-1) * np.linalg.norm(x))
    tied = float(np.abs(W_U - W_E.T).max()) if W_U.shape == W_E.T.shape else float("inf")
    all_logits = ctx.trace["logits"][-1]
    # Every logit, not just the top ones: x · W_E[t] for the whole vocabulary, in blocks.
    dot_err = max(float(np.abs(W_E[s:s + 8192].astype(np.float64) @ x - all_logits[s:s + 8192]).max())
                  for s in range(0, len(W_E), 8192))
    rows = [{"token": ctx.token_str(i), "logit": rounded(lg), "cosine": rounded(c), "norm": rounded(np.linalg.norm(e))}
            for i, lg, c, e in zip(ids, logits, cos, rows_E)]
    chart = alt.Chart(alt.Data(values=rows)).mark_bar(color="#7b8da6").encode(
        x=alt.X("cosine:Q", title="cosine(final normalised vector, token embedding)"),
        y=alt.Y("token:N", sort=None, title=None, axis=alt.Axis(labelFont="monospace")),
        tooltip=["token:N", alt.Tooltip("logit:Q", format=".3f"), alt.Tooltip("cosine:Q", format=".3f"),
                 alt.Tooltip("norm:Q", format=".3f", title="embedding length")],
    ).properties(width=420, height=22 * len(rows))
    return Figure(
        data={"tied_max_diff": tied, "tied": tied == 0.0, "logit_vs_dot_max_diff": float(f"{dot_err:.3g}"),
              "cosines": [[r["token"], r["cosine"]] for r in rows], "top_cosine": rows[0]["cosine"],
              "final_norm": rounded(np.linalg.norm(x)), "W_E_params": int(W_E.size)},
        alt=f"Bar chart of the cosine between the final normalised vector and the embeddings of the {len(rows)} "
            f"likeliest tokens; {rows[0]['token']!r} has cosine {rows[0]['cosine']:.2f}. W_U equals W_E transposed "
            f"{'exactly' if tied == 0 else f'up to {tied:.2g}'}",
        chart=chart,
    )
