"""The day-of-week successor task (seed 002, Gould et al.): which heads this model needs for it.

Figures, in the order of the page:
- the task: the 7 prompts "If today is <Day>, tomorrow is" and each one's probability of the next day;
- single-head ablation: Δ correct probability (mean over the 7 prompts) with each head zero, mean and
  random ablated, as layer × head heatmaps on one scale;
- the successor-head search: for every head, on how many prompts its own output, read through the final
  LayerNorm and W_U, ranks the correct day first among the 7 days; and the best head's 7 × 7 day table.
Forward passes go through figgen.interventions (which hides torch); the arithmetic is
figgen.analysis.circuit.
"""

from __future__ import annotations

import altair as alt
import numpy as np

from .. import interventions as iv
from ..analysis import circuit as C
from . import style
from .labels import cell_text, head_label, rounded
from .registry import Figure, figure

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
TEMPLATE = "If today is {}, tomorrow is"
PROMPTS = tuple(TEMPLATE.format(d) for d in DAYS)
# The seed's two ablation datasets, built as token ids from the Monday prompt's tokens
# (BOS, If, ␣today, ␣is, ␣Monday, ",", ␣tomorrow, ␣is): mean ablation replaces the day (position 4)
# by a random space-prefixed word; random ablation replaces ␣today, ␣Monday and ␣tomorrow (positions
# 2, 4, 6) by three. The seed's dataset size did not survive in its text; ours is N_DATASET, seeded.
N_DATASET = 1024
MEAN_SLOTS, MEAN_SEED = (4,), 0
RANDOM_SLOTS, RANDOM_SEED = (2, 4, 6), 1
KINDS = ("zero", "mean", "random")
TOP_K = 5  # heads named per ablation kind …
THRESHOLD = 0.05  # … when their |Δ correct probability| is at least this
MIN_SCALE = 0.01  # the ablation tables' colour scale spans at least ±1 percentage point


def _join(items: list[str]) -> str:
    if not items:
        return ""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def task(ctx) -> dict:
    """Token ids of the prompts, the day tokens, the clean next-token logits and correct probabilities.

    GPT-2's and mini's tokenizers make each day one token, so the 7 prompts have one length and run as one
    batch. A tokenizer that splits some days (tiny test models) leaves prompts of several lengths: then
    only the prompts of the most common length are used (`used`), and a day is its first token."""
    model = ctx.model
    lengths = [iv.tokenize_batch(model, [p]).shape[1] for p in PROMPTS]
    common = max(set(lengths), key=lambda n: (lengths.count(n), n == lengths[0]))
    used = [i for i in range(7) if lengths[i] == common]
    tokens = iv.tokenize_batch(model, [PROMPTS[i] for i in used])  # (prompts, pos): equal lengths
    day_ids = [ctx.tokenizer.encode(" " + d)[0] for d in DAYS]
    single = all(len(ctx.tokenizer.encode(" " + d)) == 1 for d in DAYS)
    correct = [(i + 1) % 7 for i in used]  # index of each prompt's answer among the 7 days
    targets = np.array([day_ids[c] for c in correct])
    logits = iv.run(model, tokens, final_only=True).logits[:, -1]  # (prompts, d_vocab)
    return {"tokens": tokens, "day_ids": day_ids, "single_token_days": single, "targets": targets,
            "used": used, "correct": correct, "logits": logits, "probs": C.correct_probs(logits, targets)}


def ablation(ctx) -> dict:
    """Δ correct probability (kind, layer, head) and the two datasets' sizes."""
    t = ctx.analysis(task)
    words = C.space_words([ctx.tokenizer.decode([i]) for i in range(ctx.dims.d_vocab)])
    template = t["tokens"][0]
    mean_set = C.dataset(template, MEAN_SLOTS, C.random_word_ids(words, N_DATASET, len(MEAN_SLOTS), MEAN_SEED))
    random_set = C.dataset(template, RANDOM_SLOTS,
                           C.random_word_ids(words, N_DATASET, len(RANDOM_SLOTS), RANDOM_SEED))
    values = {"zero": 0.0,
              "mean": iv.head_results_mean(ctx.model, mean_set)[:, None],  # (layer, 1, pos, head, d_model)
              "random": iv.head_results_mean(ctx.model, random_set)[:, None]}
    sweep = iv.head_ablation_sweep(ctx.model, t["tokens"], values)  # (kind, layer, head, 7, d_vocab)
    example = {"mean": ctx.tokenizer.decode(mean_set[0, 1:]), "random": ctx.tokenizer.decode(random_set[0, 1:])}
    return {"delta": C.ablation_deltas(sweep, t["targets"], t["probs"]), "n_words": len(words), "example": example}


def successor(ctx) -> dict:
    """Every head's day logits at the final position, in two conventions, and the search's scores."""
    t = ctx.analysis(task)
    L = ctx.dims.n_layers
    names = [f"blocks.{l}.attn.hook_result" for l in range(L)]
    out = iv.run(ctx.model, t["tokens"], keep=names)
    results = np.stack([out[n][:, -1] for n in names])  # (layer, 7, head, d_model)
    W = ctx.weights
    gamma, W_U = W["ln_final.w"], W["W_U"]
    value_bias = np.stack([np.einsum("he,hed->hd", W[f"blocks.{l}.attn.b_V"], W[f"blocks.{l}.attn.W_O"])
                           for l in range(L)])  # (layer, head, d_model)
    raw = C.head_day_logits(results, gamma, W_U, t["day_ids"])  # (layer, head, 7, 7)
    folded = C.head_day_logits(results, gamma, W_U, t["day_ids"], value_bias=value_bias)
    return {"raw": raw, "folded": folded, "scores": C.successor_scores(raw, t["correct"]),
            "scores_folded": C.successor_scores(folded, t["correct"]), "n": len(t["used"]), "used": t["used"]}


def _heads_chart(rows: list[dict], field: str, title: str, ramp: str, domain, fmt: str, legend_title: str,
                 L: int, H: int, tooltip_fmt: str, subtitle: str = "", legend: bool = True, text: str | None = None,
                 legend_fmt: str | None = None):
    """A layer × head heatmap (one panel) with values on the cells when they fit."""
    base = alt.Chart(alt.Data(values=rows)).encode(
        x=alt.X("head:O", title="head", axis=alt.Axis(labelAngle=0)), y=alt.Y("layer:O", title="layer"))
    scale = alt.Scale(range=style.vega_range(ramp), domain=list(domain))
    if ramp == "diverging":
        scale = alt.Scale(range=style.vega_range(ramp), domain=list(domain), domainMid=0)
    chart = base.mark_rect().encode(
        color=alt.Color(f"{field}:Q", title=legend_title, scale=scale,
                        legend=alt.Legend(format=legend_fmt or fmt) if legend else None),
        tooltip=[alt.Tooltip("label:N", title="head"), alt.Tooltip(f"{field}:Q", format=tooltip_fmt, title=legend_title)])
    if H <= 16:  # labels: `text` (the value rounded as shown, no −0) coloured by the value's cell
        chart += cell_text(base, field, fmt, ramp, tuple(domain)).encode(text=alt.Text(f"{text or field}:Q", format=fmt))
    return chart.properties(width=min(480, max(200, 40 * H)), height=max(100, 24 * L),
                            title=alt.Title(title, subtitle=subtitle) if subtitle else title)


def _depth(heads: set[tuple[int, int]], L: int) -> str:
    """Where in the depth the named heads are, in words (the post's are in the last third of 12 layers)."""
    if not heads:
        return "none: no head passes the threshold"
    layers = sorted({l for l, _ in heads})
    where = ", ".join(str(l) for l in layers)
    if min(layers) >= 2 * L / 3:
        part = "all in the last third of the depth, as in the post"
    elif max(layers) < L / 2:
        part = "all in the first half of the depth, unlike the post's"
    else:
        part = "spread over the depth"
    return f"in layer{'s' if len(layers) > 1 else ''} {where} of {L}: {part}"


# --- 1. the task ------------------------------------------------------------------------------------


@figure("day-circuit.task", section="day-circuit", title="The task: the next day of the week",
        caption="Each prompt's probability of the correct next day.", prompts=PROMPTS)
def task_figure(ctx) -> Figure:
    t = ctx.analysis(task)
    probs, logits = t["probs"], t["logits"]
    top1 = logits.argmax(-1) == t["targets"]
    used = t["used"]
    rows = [{"prompt": f"{DAYS[i]} → {DAYS[(i + 1) % 7]}", "p": round(float(probs[j]), 4),
             "top": ctx.token_str(int(logits[j].argmax())), "right": "yes" if top1[j] else "no"}
            for j, i in enumerate(used)]
    order = [r["prompt"] for r in rows]
    chart = alt.Chart(alt.Data(values=rows)).mark_bar().encode(
        y=alt.Y("prompt:N", sort=order, title=None),
        x=alt.X("p:Q", title="probability of the correct next day", scale=alt.Scale(domain=[0, 1])),
        tooltip=[alt.Tooltip("prompt:N"), alt.Tooltip("p:Q", format=".3f", title="probability"),
                 alt.Tooltip("top:N", title="top-1 token"), alt.Tooltip("right:N", title="top-1 correct")],
    ).properties(width=420, height=len(rows) * 26, title="Probability of the correct day, per prompt")
    n_pos = int(t["tokens"].shape[1])
    return Figure(
        data={"probs": rounded(probs), "mean_prob": round(float(probs.mean()), 4),
              "min_prob": round(float(probs.min()), 4), "n_top1": int(top1.sum()), "n_prompts": len(used),
              "dropped": [PROMPTS[i] for i in range(7) if i not in used],
              "n_tokens": n_pos, "single_token_days": bool(t["single_token_days"]),
              "worst": rows[int(probs.argmin())]["prompt"]},
        alt=f"Bar chart of the probability of the correct next day for {len(used)} prompts, from {probs.min():.2f} "
            f"to {probs.max():.2f}; the correct day is the top-1 token on {int(top1.sum())} of {len(used)}",
        caption=f"“If today is <Day>, tomorrow is” for {'the 7 days' if len(used) == 7 else f'{len(used)} of the 7 days (the others tokenize to other lengths)'} "
                f"({n_pos} tokens each, BOS included): the probability the model gives the correct next day. "
                "Hover a bar for the model's top-1 token.",
        chart=chart, prompts=list(PROMPTS),
    )


# --- 2. single-head ablation ---------------------------------------------------------------------------


@figure("day-circuit.ablation", section="day-circuit", title="Ablating one head at a time",
        caption="Δ correct-day probability with each head ablated, averaged over the 7 prompts.", prompts=PROMPTS)
def ablation_figure(ctx) -> Figure:
    a = ctx.analysis(ablation)
    n = len(ctx.analysis(task)["used"])
    delta = a["delta"]  # (kind, layer, head)
    _, L, H = delta.shape
    m = round(max(float(np.abs(delta).max()), MIN_SCALE), 4)  # a model where nothing matters stays pale
    panels = []
    tops, data = {}, {}
    for k, kind in enumerate(KINDS):
        rows = [{"layer": l, "head": h, "label": head_label(l, h), "delta": round(float(delta[k, l, h]), 4),
                 "shown": round(float(delta[k, l, h]), 2) + 0.0}
                for l in range(L) for h in range(H)]
        panels.append(_heads_chart(rows, "delta", f"{kind} ablation", "diverging", (-m, m), "+.0%",
                                   "Δ probability", L, H, "+.2%", legend=k == 0, text="shown",
                                   legend_fmt="+.1%" if m < 0.05 else "+.0%"))  # ticks at ±m/2 stay distinct
        top = C.top_heads(delta[k], THRESHOLD, TOP_K)
        tops[kind] = [f"{head_label(l, h)} ({v:+.0%})".replace("-", "−") for l, h, v in top]  # the charts' minus
        worst = np.unravel_index(np.argmin(delta[k]), delta[k].shape)
        data[kind] = {"delta": rounded(delta[k]), "top": [head_label(l, h) for l, h, _ in top],
                      "top_text": _join(tops[kind]) if top else "none",
                      "n_top": len(top), "most_harmful": head_label(*worst),
                      "most_harmful_delta": round(float(delta[k][worst]), 4)}
    chart = alt.vconcat(*panels).resolve_scale(color="independent")  # one domain, [−m, m], for the three
    everywhere = sorted(set.intersection(*(set(data[k]["top"]) for k in KINDS)))
    named = {(l, h) for k in range(len(KINDS)) for l, h, _ in C.top_heads(delta[k], THRESHOLD, TOP_K)}
    return Figure(
        data={**data, "threshold": THRESHOLD, "top_k": TOP_K, "n_dataset": N_DATASET, "n_words": a["n_words"],
              "mean_seed": MEAN_SEED, "random_seed": RANDOM_SEED, "example_mean": a["example"]["mean"],
              "example_random": a["example"]["random"],
              "in_all_three": _join(everywhere) if everywhere else "no head",
              "n_in_all_three": len(everywhere), "scale": m, "depth_text": _depth(named, L)},
        alt=f"Three heatmaps of {L} layers by {H} heads: the change in the correct day's probability when each "
            "head is zero, mean or random ablated; " + "; ".join(f"{k}: {tops[k] and _join(tops[k]) or 'no head'}"
                                                                 for k in KINDS),
        caption=f"Change in the correct day's probability (averaged over the {n} prompts) when one head's output at "
                "every position is replaced: by zero (top), by its mean over the mean-ablation dataset (middle), "
                "by its mean over the random-ablation dataset (bottom). Blue: the head helps (removing it hurts); "
                f"one colour scale for the three, ±{m:.0%}. Cells show whole percentage points; hover a cell "
                "for its value.",
        chart=chart, prompts=list(PROMPTS),
    )


# --- 3. the successor-head search -------------------------------------------------------------------


@figure("day-circuit.successor", section="day-circuit", title="Which heads rank the correct day first",
        caption="For every head: on how many of the 7 prompts its own output ranks the correct day first "
                "among the 7 days.", prompts=PROMPTS)
def successor_figure(ctx) -> Figure:
    s = ctx.analysis(successor)
    scores, folded = s["scores"], s["scores_folded"]
    L, H = scores.shape
    rows = [{"layer": l, "head": h, "label": head_label(l, h), "score": int(scores[l, h])}
            for l in range(L) for h in range(H)]
    chart = _heads_chart(rows, "score", "Prompts where the head ranks the correct day first", "magnitude",
                         (0, s["n"]), "d", f"prompts (of {s['n']})", L, H, "d",
                         subtitle="the head's output at the last position, LN_final (scale-free) then W_U")
    n = s["n"]
    found = C.successor_heads(scores, n)
    found_folded = C.successor_heads(folded, n)
    best = np.unravel_index(np.argmax(scores), scores.shape)
    labels = [head_label(l, h) for l, h in found]
    labels_folded = [head_label(l, h) for l, h in found_folded]
    verdict = (f"{_join(labels)} rank{'s' if len(labels) == 1 else ''} the correct day first on all {n} prompts"
               if labels else f"no head ranks the correct day first on all {n} prompts; the best, "
                              f"{head_label(*best)}, does on {int(scores[best])}")
    return Figure(
        data={"scores": scores.astype(int).tolist(), "scores_folded": folded.astype(int).tolist(),
              "all_seven": labels, "all_seven_folded": labels_folded, "n_all_seven": len(labels),
              "n_all_seven_folded": len(labels_folded), "best": head_label(*best), "best_score": int(scores[best]),
              "verdict": verdict, "n_heads": L * H, "n_prompts": n,
              "same_in_both": labels == labels_folded, "folded_text": _join(labels_folded) or "none",
              "best_folded": head_label(*np.unravel_index(np.argmax(folded), folded.shape)),
              "best_folded_score": int(folded.max())},
        alt=f"Heatmap of {L} layers by {H} heads: the number of the {n} day prompts on which the head's output ranks "
            f"the correct day above the other six; {verdict}",
        caption="For each head, its output vector at the last position read as logits of the 7 day tokens "
                f"(centred, times the final LayerNorm's γ, times W_U): on how many of the {n} prompts the correct "
                "next day has the largest logit of the 7. A head that ignored the prompt would score about 1.",
        chart=chart, prompts=list(PROMPTS),
    )


@figure("day-circuit.day-distribution", section="day-circuit", title="The best head's day table",
        caption="The best successor head's logits of the 7 day tokens, per prompt, normalised.", prompts=PROMPTS)
def day_distribution_figure(ctx) -> Figure:
    s = ctx.analysis(successor)
    scores = s["scores"]
    l, h = np.unravel_index(np.argmax(scores), scores.shape)
    table = C.day_distribution(s["raw"][l, h])  # (7 prompts, 7 days)
    m = round(max(float(np.abs(table).max()), 1e-3), 2)
    used = s["used"]
    rows = [{"prompt": f"{DAYS[b]} → {DAYS[(b + 1) % 7]}", "day": DAYS[d], "z": round(float(table[j, d]), 4),
             "shown": round(float(table[j, d]), 1) + 0.0, "correct": "yes" if d == (b + 1) % 7 else "no"}
            for j, b in enumerate(used) for d in range(7)]
    prompts = [r["prompt"] for r in rows[::7]]
    base = alt.Chart(alt.Data(values=rows)).encode(
        x=alt.X("day:N", sort=list(DAYS), title="day token", axis=alt.Axis(labelAngle=-40)),
        y=alt.Y("prompt:N", sort=prompts, title=None))
    chart = base.mark_rect().encode(
        color=alt.Color("z:Q", title="normalised logit",
                        scale=alt.Scale(range=style.vega_range("diverging"), domain=[-m, m], domainMid=0),
                        legend=alt.Legend(format="+.1f")),
        tooltip=[alt.Tooltip("prompt:N"), alt.Tooltip("day:N"), alt.Tooltip("z:Q", format="+.2f", title="normalised"),
                 alt.Tooltip("correct:N", title="correct day")])
    chart += cell_text(base, "z", "+.1f", "diverging", (-m, m)).encode(text=alt.Text("shown:Q", format="+.1f"))
    chart += base.transform_filter("datum.correct == 'yes'").mark_rect(
        fill=None, stroke=style.OPERATION, strokeWidth=2)
    label = head_label(int(l), int(h))
    chart = chart.properties(width=7 * 52, height=len(used) * 26, title=f"{label}: day logits, normalised per prompt")
    diag = np.array([table[j, (b + 1) % 7] for j, b in enumerate(used)])
    subject = np.array([table[j, b] for j, b in enumerate(used)])
    return Figure(
        data={"head": label, "score": int(scores[l, h]), "table": rounded(table),
              "correct_mean": round(float(diag.mean()), 4), "subject_mean": round(float(subject.mean()), 4)},
        alt=f"{len(used)} by 7 table of {label}'s day-token logits normalised per prompt; the correct day's mean is "
            f"{diag.mean():+.2f} standard deviations, the prompt's own day's {subject.mean():+.2f}",
        caption=f"{label}'s output at the last position, read as logits of the 7 day tokens (columns) for each "
                "prompt (rows), each row normalised by its own mean and standard deviation over the 7 days. "
                "Outlined: the correct next day.",
        chart=chart, prompts=list(PROMPTS),
    )
