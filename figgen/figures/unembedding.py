"""Unembedding: the final position's logits and probabilities, W_U = W_Eᵀ, logits as similarities."""

from __future__ import annotations

import altair as alt
import numpy as np

from ..analysis.decoding import softmax
from . import style
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
        caption="The final position's likeliest next tokens and their probabilities, on a log scale.")
def top(ctx) -> Figure:
    ids, logits, probs = ctx.analysis(top_next)
    rows = [{"token": ctx.token_str(i), "rank": r + 1, "logit": rounded(lg), "probability": float(f"{p:.4g}"),
             "percent": f"{p:.3g}" if p >= 0.01 else f"{p:.2g}"}
            for r, (i, lg, p) in enumerate(zip(ids, logits, probs))]
    # A log scale: one token can hold nearly all the probability, and the runners-up would be
    # invisible as bars from 0. Its lower end is a power of ten below the smallest shown.
    lo = 10.0 ** np.floor(np.log10(max(float(probs.min()), 1e-12)))
    scale = alt.Scale(type="log", domain=[lo, 1])
    decades = [float(f"{10.0 ** e:.0e}") for e in range(int(round(np.log10(lo))), 1)]
    x = alt.X("probability:Q", title="probability (log scale: each gridline is 10× the one before)",
              scale=scale, axis=alt.Axis(format="~%", values=decades))
    y = alt.Y("token:N", sort=None, title=None, axis=alt.Axis(labelFont="monospace"))
    tooltip = ["rank:O", "token:N", alt.Tooltip("logit:Q", format=".3f"), alt.Tooltip("probability:Q", format=".4~%")]
    base = alt.Chart(alt.Data(values=rows)).transform_calculate(floor=str(lo)).encode(y=y, tooltip=tooltip)
    chart = (base.mark_rule(color=style.TOKENIZER, strokeWidth=2).encode(x=alt.X("floor:Q", scale=scale), x2="probability:Q")
             + base.mark_circle(color=style.TOKENIZER, size=80, opacity=1).encode(x=x)
             ).properties(width=460, height=22 * len(rows))
    return Figure(
        data={"top": [[r["token"], r["logit"], r["probability"]] for r in rows], "predicted": rows[0]["token"],
              "predicted_prob": rows[0]["probability"], "predicted_logit": rows[0]["logit"],
              "runner_up": rows[1]["token"] if len(rows) > 1 else None,
              "runner_up_prob": rows[1]["probability"] if len(rows) > 1 else None,
              "top_mass": round(float(probs.sum()), 4), "d_vocab": ctx.dims.d_vocab, "k": len(rows)},
        alt=f"Dot chart, on a log scale, of the probabilities of the {len(rows)} likeliest next tokens; first "
            f"{rows[0]['token']!r} with {probs[0]:.1%}, then "
            + ", ".join(f"{r['token']!r} {p:.2g}" for r, p in zip(rows[1:4], probs[1:4])),
        caption=f"The model's answer, {rows[0]['token']}, and the runners-up: the {len(rows)} likeliest next tokens "
                "on a log scale, so that the runners-up stay visible however sure the model is. Hover a dot for the "
                "token's logit.",
        chart=chart,
    )


@figure("unembedding.similarity", section="unembedding", title="Logits are similarities to embeddings",
        caption="For the likeliest tokens, likeliest first: the cosine between the final normalised vector and the "
                "token's embedding, its row of W_E. Hover a bar for the logit, their dot product.")
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
    # The cosine of every token's embedding with x: where does the predicted token's rank?
    norms_E = np.concatenate([np.linalg.norm(W_E[s:s + 8192].astype(np.float64), axis=-1)
                              for s in range(0, len(W_E), 8192)])
    all_cos = all_logits.astype(np.float64) / (np.maximum(norms_E, 1e-12) * np.linalg.norm(x))
    cos_rank = int((all_cos > all_cos[ids[0]]).sum()) + 1  # 1: no embedding points closer to x
    rows = [{"token": ctx.token_str(i), "logit": rounded(lg), "cosine": rounded(c), "norm": rounded(np.linalg.norm(e))}
            for i, lg, c, e in zip(ids, logits, cos, rows_E)]
    chart = alt.Chart(alt.Data(values=rows)).mark_bar(color=style.PARAMETER).encode(
        x=alt.X("cosine:Q", title="cosine(final normalised vector, token embedding)"),
        y=alt.Y("token:N", sort=None, title=None, axis=alt.Axis(labelFont="monospace")),
        tooltip=["token:N", alt.Tooltip("logit:Q", format=".3f"), alt.Tooltip("cosine:Q", format=".3f"),
                 alt.Tooltip("norm:Q", format=".3f", title="embedding length")],
    ).properties(width=420, height=22 * len(rows))
    return Figure(
        data={"tied_max_diff": tied, "tied": tied == 0.0, "logit_vs_dot_max_diff": float(f"{dot_err:.3g}"),
              "tied_text": ("are the same matrix, entry for entry" if tied == 0.0 else
                            "are not the same matrix: their entries differ by up to " + f"{tied:.2g}".replace("-", "−")
                            if np.isfinite(tied) else "are not the same matrix: their shapes differ"),
              "cosines": [[r["token"], r["cosine"]] for r in rows], "top_cosine": rows[0]["cosine"],
              "final_norm": rounded(np.linalg.norm(x)), "W_E_params": int(W_E.size),
              "top_cosine_rank": cos_rank, "max_cosine": round(float(all_cos.max()), 4),
              "max_cosine_token": ctx.token_str(int(np.argmax(all_cos))),
              "cosine_rank_text": ("no other token's embedding points closer to it" if cos_rank == 1 else
                                   f"{cos_rank - 1:,} other token{'s' if cos_rank > 2 else ''}' embeddings point "
                                   f"closer to it (the closest, {ctx.token_str(int(np.argmax(all_cos)))}, has cosine "
                                   f"{all_cos.max():.2f}): the logit also grows with the embedding's length")},
        alt=f"Bar chart of the cosine between the final normalised vector and the embeddings of the {len(rows)} "
            f"likeliest tokens; {rows[0]['token']!r} has cosine {rows[0]['cosine']:.2f}. W_U equals W_E transposed "
            f"{'exactly' if tied == 0 else f'up to {tied:.2g}'}",
        chart=chart,
    )
