"""The day-of-week successor task in vivo (seed 002, Gould et al.): which heads this model needs for it, one
component changed at a time.

Figures, in the order of the page: the task; single-head ablation (zero, mean, random); the successor search
and the successor head's day table; what each head's output says on its own; where the two heads look;
attention fixed on one position; the last position after each layer; steering with the "tomorrow"
direction; the MLPs. The shared steps (prompts, clean run, readings of a head, the heads followed, the
datasets) are figgen.figures.day_task; forward passes go through figgen.interventions (which hides torch);
the arithmetic is figgen.analysis.circuit.
"""

from __future__ import annotations

import altair as alt
import numpy as np

from .. import interventions as iv
from ..analysis import circuit as C
from ..analysis.processing import value_bias
from . import style
from .day_task import (ABLATIONS, COPY_THRESHOLD, DAY_PROMPTS, DAYS, MEAN_SEED, N_DATASET, POST_NAMED, RANDOM_SEED,
                       READINGS, STEER_TOKEN, ablation_deltas, circuit_heads, dataset_means, head_readings, layer_lens,
                       mlp_effects, task)
from .labels import cell_ink, cell_text, head_label, join_words, rounded
from .registry import Figure, figure

PROMPTS = DAY_PROMPTS
TOP_K = 5  # heads named per ablation kind …
THRESHOLD = 0.05  # … when their |Δ correct probability| is at least this
MIN_SCALE = 0.01  # the ablation tables' colour scale spans at least ±1 percentage point
FLAT = 0.05  # a chart whose values all lie within 5 points of each other has nothing to show but one sentence
ALPHAS = (-5, -1, 0, 5, 100)  # the post's steering strengths: α × the unembedding vector of " tomorrow"


def _minus(text: str) -> str:
    """A formatted signed number with a true minus sign (as the charts draw it)."""
    return text.replace("-", "−")


def _named(table, fmt=lambda v: round(float(v), 4)) -> dict | None:
    """The post's named heads' entries of a (layer, head, ...) table, by label; None on a model without them."""
    if len(table) < 12 or len(table[0]) < 12:
        return None
    return {head_label(l, h): fmt(table[l][h]) for l, h in POST_NAMED}


def _follows_post(ctx) -> bool:
    return ctx.analysis(circuit_heads)["source"] == "post"


def _start(t: dict, layer: int, copies: int = 1) -> tuple[int, np.ndarray]:
    """(layer, the clean stream entering it, tiled `copies` times): a run that reuses the clean run below."""
    return layer, np.tile(t["resid_pre"][layer], (copies, 1, 1))


def _heads_chart(rows: list[dict], field: str, title: str, ramp: str, domain, fmt: str, legend_title: str,
                 L: int, H: int, tooltip_fmt: str, subtitle: str = "", legend: bool = True, text: str | None = None,
                 legend_fmt: str | None = None, where=None, tooltip: tuple = (), width: int | None = None):
    """A layer × head heatmap (one panel) with values on the cells when they fit; `where` filters the rows;
    `width` overrides the panel's width (default: 40 px a head, 200 to 480 px)."""
    base = alt.Chart(alt.Data(values=rows))
    if where is not None:
        base = base.transform_filter(where)
    base = base.encode(
        x=alt.X("head:O", title="head", axis=alt.Axis(labelAngle=0)), y=alt.Y("layer:O", title="layer"))
    scale = alt.Scale(range=style.vega_range(ramp), domain=list(domain))
    if ramp == "diverging":
        scale = alt.Scale(range=style.vega_range(ramp), domain=list(domain), domainMid=0)
    chart = base.mark_rect().encode(
        color=alt.Color(f"{field}:Q", title=legend_title, scale=scale,
                        legend=alt.Legend(format=legend_fmt or fmt) if legend else None),
        tooltip=[alt.Tooltip("label:N", title="head"), alt.Tooltip(f"{field}:Q", format=tooltip_fmt, title=legend_title),
                 *tooltip])
    if H <= 16:  # labels: `text` (the value rounded as shown, no −0) coloured by the value's cell
        chart += cell_text(base, field, fmt, ramp, tuple(domain)).encode(text=alt.Text(f"{text or field}:Q", format=fmt))
    return chart.properties(width=width or min(480, max(200, 40 * H)), height=max(100, 24 * L),
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
    flat = bool(probs.max() - probs.min() < FLAT)  # every bar the same: the chart says no more than one sentence
    collapse = (f"All {len(used)} prompts give the correct day the same probability, about {probs.mean():.0%} (from "
                f"{probs.min():.1%} to {probs.max():.1%}), and it is the top prediction on {int(top1.sum())} of "
                f"{len(used)}." if flat else None)
    return Figure(
        collapse=collapse,
        data={"probs": rounded(probs), "mean_prob": round(float(probs.mean()), 4), "flat": flat,
              "summary_text": "" if flat else (f"The correct day is the top prediction on {int(top1.sum())} of "
                                               f"{len(used)} prompts (mean probability {probs.mean():.0%})."),
              "min_prob": round(float(probs.min()), 4), "n_top1": int(top1.sum()), "n_prompts": len(used),
              "dropped": [PROMPTS[i] for i in range(7) if i not in used],
              "n_tokens": n_pos, "single_token_days": bool(t["single_token"]),
              "worst": rows[int(probs.argmin())]["prompt"]},
        alt=f"Bar chart of the probability of the correct next day for {len(used)} prompts, from {probs.min():.2f} "
            f"to {probs.max():.2f}; the correct day is the top-1 token on {int(top1.sum())} of {len(used)}",
        caption=("How sure the model is of the next day, prompt by prompt" +
                 ("" if len(used) == 7 else f" ({len(used)} of the 7 days: the others tokenize to other lengths)") +
                 ". Hover a bar for its top-1 token."),
        chart=chart, prompts=list(PROMPTS),
    )


# --- 2. single-head ablation ---------------------------------------------------------------------------


def true_zero(ctx) -> dict:
    """The copying head followed, zero-ablated both ways: with its value-bias term kept (TransformerLens's
    processed model, the figure's convention) and with it removed too (the head's whole output set to 0).
    → {"kept": Δ, "removed": Δ}, mean correct probability changes."""
    t, c = ctx.analysis(task), ctx.analysis(circuit_heads)
    l, h = c["copying"]
    kept = value_bias(ctx.weights, l)[h].astype(np.float32)  # the processed model's zero ablation leaves this
    edits = [iv.ReplaceHead(l, h, kept, rows=list(range(len(t["used"])))),
             iv.ReplaceHead(l, h, 0.0, rows=list(range(len(t["used"]), 2 * len(t["used"]))))]
    out = iv.run(ctx.model, np.tile(t["tokens"], (2, 1)), edits=edits, final_only=True, start=_start(t, l, 2))
    probs = C.correct_probs(out.logits[:, -1], np.tile(t["targets"], 2)).reshape(2, -1)
    return {"kept": float((probs[0] - t["probs"]).mean()), "removed": float((probs[1] - t["probs"]).mean())}


@figure("day-circuit.ablation", section="day-circuit", title="Ablating one head at a time",
        caption="Δ correct-day probability with each head ablated, averaged over the 7 prompts.", prompts=PROMPTS)
def ablation_figure(ctx) -> Figure:
    a, m = ctx.analysis(ablation_deltas), ctx.analysis(dataset_means)
    n = len(ctx.analysis(task)["used"])
    delta = np.stack([a[k] for k in ABLATIONS])  # (kind, layer, head)
    _, L, H = delta.shape
    scale = round(max(float(np.abs(delta).max()), MIN_SCALE), 4)  # a model where nothing matters stays pale
    panels, tops, data = [], {}, {}
    titles = {"zero": "zero ablation (value-bias term kept, as in TransformerLens)", "mean": "mean ablation",
              "random": "random ablation"}
    side_by_side = 3 * 36 * H + 230 <= 690  # small models: the three panels (and their axes, one legend) in one row
    titles = {"zero": "zero ablation", "mean": "mean ablation", "random": "random ablation"} if side_by_side else titles
    for k, kind in enumerate(ABLATIONS):
        rows = [{"layer": l, "head": h, "label": head_label(l, h), "delta": round(float(delta[k, l, h]), 4),
                 "shown": round(float(delta[k, l, h]), 2) + 0.0}
                for l in range(L) for h in range(H)]
        panels.append(_heads_chart(rows, "delta", titles[kind], "diverging", (-scale, scale), "+.0%",
                                   "Δ probability", L, H, "+.2%", legend=k == 0, text="shown",
                                   legend_fmt="+.1%" if scale < 0.05 else "+.0%",  # ticks at ±m/2 stay distinct
                                   width=36 * H if side_by_side else None))
        top = C.top_heads(delta[k], THRESHOLD, TOP_K)
        tops[kind] = [_minus(f"{head_label(l, h)} ({v:+.0%})") for l, h, v in top]  # the charts' minus
        worst = np.unravel_index(np.argmin(delta[k]), delta[k].shape)
        data[kind] = {"delta": rounded(delta[k]), "top": [head_label(l, h) for l, h, _ in top],
                      "top_text": join_words(tops[kind]) if top else "none",
                      "n_top": len(top), "most_harmful": head_label(*worst),
                      "most_harmful_delta": round(float(delta[k][worst]), 4)}
    chart = (alt.hconcat if side_by_side else alt.vconcat)(*panels).resolve_scale(color="independent")  # one domain, [−m, m]
    everywhere = sorted(set.intersection(*(set(data[k]["top"]) for k in ABLATIONS)))
    named = {(l, h) for k in range(len(ABLATIONS)) for l, h, _ in C.top_heads(delta[k], THRESHOLD, TOP_K)}
    zero = ctx.analysis(true_zero)
    copy = head_label(*ctx.analysis(circuit_heads)["copying"])
    return Figure(
        data={**data, "threshold": THRESHOLD, "top_k": TOP_K, "n_words": m["n_words"], "n_dataset": N_DATASET,
              "mean_seed": MEAN_SEED, "random_seed": RANDOM_SEED,
              "example_mean": m["example"]["mean"], "example_random": m["example"]["random"],
              "in_all_three": join_words(everywhere) if everywhere else "no head",
              "n_in_all_three": len(everywhere), "scale": scale, "depth_text": _depth(named, L),
              "named": _named(np.moveaxis(delta, 0, -1), lambda v: {k: round(float(v[i]), 4) for i, k in enumerate(ABLATIONS)}),
              "zero_convention": {"head": copy, "kept": round(zero["kept"], 4), "removed": round(zero["removed"], 4)}},
        alt=f"Three heatmaps of {L} layers by {H} heads: the change in the correct day's probability when each "
            "head is zero, mean or random ablated; " + "; ".join(f"{k}: {tops[k] and join_words(tops[k]) or 'no head'}"
                                                                 for k in ABLATIONS),
        caption="Which heads the answer needs: the change in the correct day's probability when one head is removed, "
                "three ways (blue: removing it hurts). Hover a cell for its value.",
        chart=chart, prompts=list(PROMPTS),
    )


# --- 3. the successor-head search -------------------------------------------------------------------


@figure("day-circuit.successor", section="day-circuit", title="Which heads rank the correct day first",
        caption="For every head: on how many of the 7 prompts its own output ranks the correct day first "
                "among the 7 days.", prompts=PROMPTS)
def successor_figure(ctx) -> Figure:
    readings = ctx.analysis(head_readings)
    n = len(ctx.analysis(task)["used"])
    scores = readings["own"]["scores"]  # (layer, head)
    L, H = scores.shape
    rows = [{"layer": l, "head": h, "label": head_label(l, h), "score": int(scores[l, h]),
             "stream": int(readings["stream"]["scores"][l, h])} for l in range(L) for h in range(H)]
    chart = _heads_chart(rows, "score", "Prompts where the head ranks the correct day first", "magnitude",
                         (0, n), "d", f"prompts (of {n})", L, H, "d",
                         subtitle="the head's output at the last position, read through the final LayerNorm and W_U",
                         tooltip=(alt.Tooltip("stream:Q", title="with the final stream's scale, no b_U"),))
    data = {}
    for reading, r in readings.items():
        s = r["scores"]
        found = [head_label(l, h) for l, h in C.successor_heads(s, n)]
        best = np.unravel_index(np.argmax(s), s.shape)
        data[reading] = {"all_seven": found, "n_all_seven": len(found), "text": join_words(found) or "none",
                         "best": head_label(*best), "best_score": int(s[best]), "scores": s.astype(int).tolist()}
    own = data["own"]
    verdict = (f"{own['text']} rank{'s' if own['n_all_seven'] == 1 else ''} the correct day first on all {n} prompts"
               if own["all_seven"] else f"no head ranks the correct day first on all {n} prompts; the best, "
                                        f"{own['best']}, does on {own['best_score']}")
    return Figure(
        data={**data, "scores": own["scores"], "all_seven": own["all_seven"], "n_all_seven": own["n_all_seven"],
              "best": own["best"], "best_score": own["best_score"], "verdict": verdict, "n_heads": L * H,
              "n_prompts": n, "readings_agree": data["own"]["all_seven"] == data["stream"]["all_seven"],
              "readings": READINGS},
        alt=f"Heatmap of {L} layers by {H} heads: the number of the {n} day prompts on which the head's output ranks "
            f"the correct day above the other six; {verdict}",
        caption=f"A successor head's own output ranks the correct next day first among the days; a head that ignored "
                f"the prompt would do so on about 1 of the {n} prompts.",
        chart=chart, prompts=list(PROMPTS),
    )


@figure("day-circuit.day-distribution", section="day-circuit", title="The successor head's day table",
        caption="The successor head's logits of the 7 day tokens, per prompt, normalised.", prompts=PROMPTS)
def day_distribution_figure(ctx) -> Figure:
    r, c = ctx.analysis(head_readings)["own"], ctx.analysis(circuit_heads)
    l, h = c["successor"]
    table = C.day_distribution(r["days"][l, h])  # (prompts, 7 days)
    m = round(max(float(np.abs(table).max()), 1e-3), 2)
    used = ctx.analysis(task)["used"]
    rows = [{"prompt": f"{DAYS[b]} → {DAYS[(b + 1) % 7]}", "day": DAYS[d], "z": round(float(table[j, d]), 4),
             "shown": round(float(table[j, d]), 1) + 0.0, "correct": "yes" if d == (b + 1) % 7 else "no"}
            for j, b in enumerate(used) for d in range(7)]
    prompts = [row["prompt"] for row in rows[::7]]
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
    label = head_label(l, h)
    chart = chart.properties(width=7 * 52, height=len(used) * 26, title=f"{label}: day logits, normalised per prompt")
    diag = np.array([table[j, (b + 1) % 7] for j, b in enumerate(used)])
    subject = np.array([table[j, b] for j, b in enumerate(used)])
    return Figure(
        data={"head": label, "score": int(r["scores"][l, h]), "table": rounded(table),
              "correct_mean": round(float(diag.mean()), 4), "subject_mean": round(float(subject.mean()), 4)},
        alt=f"{len(used)} by 7 table of {label}'s day-token logits normalised per prompt; the correct day's mean is "
            f"{diag.mean():+.2f} standard deviations, the prompt's own day's {subject.mean():+.2f}",
        caption=f"Does {label} push the next day rather than the day it reads? Its seven day logits per prompt, "
                "normalised; outlined: the correct day.",
        chart=chart, prompts=list(PROMPTS),
    )


# --- in vivo: what each head's output says, where the heads read, the layers and the MLPs ------------------

MEAN_OPTION = "mean of the prompts"


def _prompt_name(b: int) -> str:
    return f"{DAYS[b]} → {DAYS[(b + 1) % 7]}"


@figure("day-circuit.head-lens", section="day-circuit", title="What each head's output says on its own",
        caption="Each head's output at the last position through the logit lens: the probability of the prompt's "
                "own day and of the correct next day.", prompts=PROMPTS)
def head_lens_figure(ctx) -> Figure:
    readings, c = ctx.analysis(head_readings), ctx.analysis(circuit_heads)
    hl = readings["own"]
    used = ctx.analysis(task)["used"]
    L, H, n = hl["subject"].shape
    subject, correct = hl["subject"].mean(-1), hl["correct"].mean(-1)  # (layer, head)
    options = [MEAN_OPTION] + [_prompt_name(b) for b in used]
    rows = []
    for l in range(L):
        for h in range(H):
            for o, name in enumerate(options):
                s_, c_ = (subject[l, h], correct[l, h]) if o == 0 else (hl["subject"][l, h, o - 1], hl["correct"][l, h, o - 1])
                rows.append({"layer": l, "head": h, "label": head_label(l, h), "prompt": name,
                             "subject": round(float(s_), 4), "correct": round(float(c_), 4),
                             "top": "" if o == 0 else ctx.token_str(int(hl["top"][l, h, o - 1]))})
    pick = alt.param(name="prompt", value=MEAN_OPTION, bind=alt.binding_select(options=options, name="prompt "))
    where = alt.datum.prompt == pick
    tips = (alt.Tooltip("prompt:N"), alt.Tooltip("top:N", title="top-1 token (one prompt)"))
    panels = [_heads_chart(rows, f, title, "magnitude", (0, 1), ".2f", "probability", L, H, ".3f", legend=i == 0,
                           where=where, tooltip=tips)
              for i, (f, title) in enumerate((("subject", "Probability of the prompt's own day"),
                                              ("correct", "Probability of the correct next day")))]
    chart = alt.vconcat(*panels).add_params(pick)
    copying = c["copying_heads"]
    names = [head_label(l, h) for l, h, _ in copying]
    best = np.unravel_index(np.argmax(subject), subject.shape)
    verdict = (f"{join_words([f'{head_label(l, h)} ({v:.0%})' for l, h, v in copying])}"
               if copying else f"none: no head reaches {COPY_THRESHOLD:.0%}; the highest is {head_label(*best)}, "
                               f"at {subject[best]:.0%}")
    stream_subject = readings["stream"]["subject"].mean(-1)
    tops = [[ctx.token_str(int(i)) for i in hl["top"][l, h]] for l in range(L) for h in range(H)]
    copy = c["copying"]
    if c["source"] == "post":
        followed_text = f"{head_label(*copy)}, the copying head the post follows"
    elif copying:
        followed_text = f"{head_label(*copy)}, the copying head whose mean ablation lowers the correct probability most"
    else:
        followed_text = (f"{head_label(*copy)}, the head with the highest probability of the prompt's day "
                         f"({subject[copy]:.1%}), standing in for the copying head this model does not have")
    top_mean = float(max(subject.max(), correct.max()))
    collapse = (f"No head's output, read on its own, gives the prompt's day or the correct day more than "
                f"{top_mean:.0%} on average: no single head copies the day or writes the answer by itself."
                if top_mean < FLAT else None)  # two pale grids: one sentence says it
    return Figure(
        collapse=collapse,
        data={"subject_mean": rounded(subject), "correct_mean": rounded(correct), "threshold": COPY_THRESHOLD,
              "subject_mean_stream": rounded(stream_subject),
              "top": [tops[l * H:(l + 1) * H] for l in range(L)],  # (layer, head, prompt) top-1 tokens, as shown
              "prompt_days": [DAYS[b] for b in used],
              "copying": names, "n_copying": len(names), "copying_text": verdict,
              "best_subject": head_label(*best), "best_subject_prob": round(float(subject[best]), 4),
              "best_subject_stream": round(float(stream_subject.max()), 4),
              "named": _named(np.stack([subject, stream_subject], -1),
                              lambda v: {"own": round(float(v[0]), 4), "stream": round(float(v[1]), 4)}),
              "followed": head_label(*copy), "followed_is_copying": c["is_copying"], "followed_text": followed_text,
              "followed_subject": round(float(subject[copy]), 4)},
        alt=f"Two heatmaps of {L} layers by {H} heads: the mean probability each head's own output gives the prompt's "
            f"day and the correct next day, read through the final LayerNorm and W_U; copying heads (prompt's day "
            f"≥ {COPY_THRESHOLD:.0%}): {verdict}",
        caption="Which heads copy the day (top) and which write the answer (bottom), each head's output read on its "
                "own. Pick a prompt below the chart; hover a cell for the head's top token.",
        chart=chart, prompts=list(PROMPTS),
    )


def attention(ctx) -> dict:
    """The final position's attention rows of the two heads followed, and correct probabilities with their row
    fixed.

    Variants ("successor", "copying", "both"): those heads' final-position attention set to 1 on one key
    position k (SetPattern), for every k; (variant, k, prompt) stacked in one batch, run from the first of the
    two heads' layers on (the clean run below it is reused)."""
    t, c = ctx.analysis(task), ctx.analysis(circuit_heads)
    tokens, n = t["tokens"], len(t["used"])
    n_pos = tokens.shape[1]
    heads = {"successor": [c["successor"]], "copying": [c["copying"]],
             "both": list(dict.fromkeys([c["successor"], c["copying"]]))}
    first = min(l for l, _ in heads["both"])
    names = sorted({f"blocks.{l}.attn.hook_pattern" for l, _ in heads["both"]})
    clean = iv.run(ctx.model, tokens, keep=names, final_only=True, start=_start(t, first))
    rows_of = {(l, hh): clean[f"blocks.{l}.attn.hook_pattern"][:, hh, -1] for l, hh in heads["both"]}  # (prompt, key)
    edits = []
    for v, hs in enumerate(heads.values()):
        for k in range(n_pos):
            rows = list(range((v * n_pos + k) * n, (v * n_pos + k + 1) * n))
            edits += [iv.SetPattern(l, hh, query=-1, row=k, rows=rows) for l, hh in hs]
    out = iv.run(ctx.model, np.tile(tokens, (3 * n_pos, 1)), edits=edits, final_only=True,
                 start=_start(t, first, 3 * n_pos)).logits[:, -1]  # (3·n_pos·n, d_vocab)
    probs = C.correct_probs(out, np.tile(t["targets"], 3 * n_pos)).reshape(3, n_pos, n)
    return {"rows": {head_label(l, hh): r for (l, hh), r in rows_of.items()}, "probs": probs,
            "variants": list(heads), "subject": t["subject"], "clean": t["probs"]}


def steering(ctx) -> dict:
    """α × the unembedding vector of " tomorrow" added to the stream entering the successor head's layer
    (GPT-2: the end of layer 8, under L9H1), at every position (or at the final position only): the successor
    head's attention from the final position to the subject day, and the correct probabilities. Run from that
    layer on (the clean run below it is reused)."""
    t, c = ctx.analysis(task), ctx.analysis(circuit_heads)
    l, h = c["successor"]
    n, subj = len(t["used"]), t["subject"]
    u = C.unembedding_direction(ctx.weights["W_U"], ctx.weights["ln_final.w"], ctx.tokenizer.encode(STEER_TOKEN)[0])
    hook = f"blocks.{l}.hook_resid_pre"
    edits = []
    for i, a in enumerate(ALPHAS):
        for j, pos in enumerate((None, -1)):  # every position; the final position only
            first = (2 * i + j) * n
            edits.append(iv.AddResid(hook, (a * u).astype(np.float32), pos=pos, rows=list(range(first, first + n))))
    out = iv.run(ctx.model, np.tile(t["tokens"], (2 * len(ALPHAS), 1)), edits=edits, final_only=True,
                 keep=[f"blocks.{l}.attn.hook_pattern"], start=_start(t, l, 2 * len(ALPHAS)))
    attn = out[f"blocks.{l}.attn.hook_pattern"][:, h, -1, subj].reshape(len(ALPHAS), 2, n)
    probs = C.correct_probs(out.logits[:, -1], np.tile(t["targets"], 2 * len(ALPHAS))).reshape(len(ALPHAS), 2, n)
    return {"attn": attn, "probs": probs, "layer": l, "head": h, "hook": hook, "norm": float(np.linalg.norm(u))}


def _key_labels(ctx, t: dict, subj: int) -> list[str]:
    """'position: token' for the prompt's positions, the subject day written ⟨day⟩ (it differs per prompt)."""
    toks = ctx.token_strs(t["tokens"][0])
    return [f"{k}: " + ("␣⟨day⟩" if k == subj else s) for k, s in enumerate(toks)]


@figure("day-circuit.attention", section="day-circuit", title="Where the two heads look from the last position",
        caption="The successor head's and the copying head's attention from the last position to each earlier "
                "position, averaged over the prompts.", prompts=PROMPTS)
def attention_figure(ctx) -> Figure:
    a, c, t = ctx.analysis(attention), ctx.analysis(circuit_heads), ctx.analysis(task)
    subj, labels = a["subject"], _key_labels(ctx, t, a["subject"])
    succ, copy = head_label(*c["successor"]), head_label(*c["copying"])
    who = {succ: "successor", copy: "copying"} if succ != copy else {succ: "both roles"}
    rows = [{"head": f"{name} ({role})", "key": labels[k], "w": round(float(a["rows"][name][:, k].mean()), 4)}
            for name, role in who.items() for k in range(len(labels))]
    base = alt.Chart(alt.Data(values=rows)).encode(
        x=alt.X("key:N", sort=labels, title="key position (looked at)", axis=alt.Axis(labelAngle=-40)),
        y=alt.Y("head:N", sort=[r["head"] for r in rows[::len(labels)]], title=None))
    chart = base.mark_rect().encode(
        color=alt.Color("w:Q", title="weight", scale=alt.Scale(range=style.vega_range("attention"), domain=[0, 1])),
        tooltip=[alt.Tooltip("head:N"), alt.Tooltip("key:N"), alt.Tooltip("w:Q", format=".3f", title="mean weight")])
    chart += cell_text(base, "w", ".2f", "attention", (0.0, 1.0))
    chart = chart.properties(width=min(480, 52 * len(labels)), height=34 * len(who),
                             title="Attention of the last position, mean over the prompts")
    s_att, c_att = float(a["rows"][succ][:, subj].mean()), float(a["rows"][copy][:, subj].mean())
    top_key = {name: int(a["rows"][name].mean(0).argmax()) for name in who}
    return Figure(
        data={"successor": succ, "copying": copy, "same_head": succ == copy, "subject_position": subj,
              "follows_post": _follows_post(ctx),
              "who_text": (f"the post's own heads, the successor head {succ} and the copying head {copy}: this model "
                           "has GPT-2 124M's 12 layers of 12 heads, so the heads the post names exist here"
                           if _follows_post(ctx) else
                           f"{succ} as the successor head and {copy} as the copying head, named by the two searches "
                           "above (this model does not have GPT-2 124M's 12 layers of 12 heads, so the post's head "
                           "names point nowhere here)" if succ != copy else
                           f"{succ}, named by both searches above as the successor head and as the copying head "
                           "(this model does not have GPT-2 124M's 12 layers of 12 heads, so the post's head names "
                           "point nowhere here)"),
              "pair_text": (f"{succ}, which is both the best successor candidate and the head followed as the "
                            "copier (one row below)" if succ == copy else f"{succ} and {copy}"),
              "successor_attention": round(s_att, 4), "copying_attention": round(c_att, 4),
              "successor_top_key": labels[top_key[succ]], "copying_top_key": labels[top_key[copy]],
              "successor_bos": round(float(a["rows"][succ][:, 0].mean()), 4),
              "attention_text": (f"{succ} puts {s_att:.1%} of its attention on the day" if succ == copy else
                                 f"{succ} puts {s_att:.1%} of its attention on the day and {copy} {c_att:.1%}")},
        alt=f"Heatmap of the attention from the last position to each of {len(labels)} positions for {join_words(list(who))}; "
            f"{succ} puts {s_att:.0%} on the day, {copy} {c_att:.0%}",
        caption=f"Where the two heads look from the last position, on average; the day (position {subj}) differs per "
                "prompt.",
        chart=chart, prompts=list(PROMPTS),
    )


@figure("day-circuit.streams", section="day-circuit", title="Attention fixed on one position",
        caption="Mean correct probability with the heads' last-position attention set to 1 on one position.",
        prompts=PROMPTS)
def streams_figure(ctx) -> Figure:
    a, c, t = ctx.analysis(attention), ctx.analysis(circuit_heads), ctx.analysis(task)
    subj, labels = a["subject"], _key_labels(ctx, t, a["subject"])
    succ, copy = head_label(*c["successor"]), head_label(*c["copying"])
    names = {"successor": succ, "copying": copy, "both": f"{succ} and {copy}" if succ != copy else succ}
    means = a["probs"].mean(-1)  # (variant, key)
    clean = float(a["clean"].mean())
    rows = [{"key": labels[k], "set": f"{names[v]}", "p": round(float(means[i, k]), 4),
             "right": f"{int((a['probs'][i, k] > 0.5).sum())} of {a['probs'].shape[-1]}"}
            for i, v in enumerate(a["variants"]) for k in range(len(labels))
            if not (succ == copy and v != "successor")]
    sets = list(dict.fromkeys(r["set"] for r in rows))
    bars = alt.Chart(alt.Data(values=rows)).mark_bar().encode(
        y=alt.Y("key:N", sort=labels, title="position given all the attention"),
        yOffset=alt.YOffset("set:N", sort=sets),
        x=alt.X("p:Q", title="mean probability of the correct day", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("set:N", sort=sets, title="attention fixed for",
                        legend=alt.Legend(orient="bottom", direction="vertical") if len(sets) > 1 else None),
        tooltip=[alt.Tooltip("set:N", title="heads"), alt.Tooltip("key:N", title="attends to"),
                 alt.Tooltip("p:Q", format=".3f", title="mean probability"),
                 alt.Tooltip("right:N", title="prompts above 50%")])
    rule = alt.Chart(alt.Data(values=[{"p": clean, "what": "unchanged model"}])).mark_rule(
        strokeDash=[4, 3], color=style.RESIDUAL, strokeWidth=2).encode(
        x="p:Q", tooltip=[alt.Tooltip("what:N", title=""), alt.Tooltip("p:Q", format=".3f", title="mean probability")])
    chart = (bars + rule).properties(width=420, height=len(labels) * 14 * len(sets),
                                     title=alt.Title("Correct probability with the attention fixed",
                                                     subtitle="dashed: the unchanged model"))
    i_both = a["variants"].index("both")
    best = {v: int(np.argmax(means[i])) for i, v in enumerate(a["variants"])}
    return Figure(
        data={"clean_mean": round(clean, 4), "follows_post": _follows_post(ctx),
              "successor_fixed": rounded(a["probs"][0, subj]), "successor_fixed_mean": round(float(means[0, subj]), 4),
              "copying_fixed_mean": round(float(means[1, subj]), 4), "both_fixed_mean": round(float(means[i_both, subj]), 4),
              "successor_fixed_gain": round(float(means[0, subj]) - clean, 4),
              "best_key": {v: labels[k] for v, k in best.items()},
              "both_best_is_subject": best["both"] == subj,
              "both_other_best": round(float(np.delete(means[i_both], subj).max()), 4),
              "both_other_best_key": labels[int(np.argmax(np.where(np.arange(len(labels)) == subj, -1, means[i_both])))],
              "heads_text": names["both"],
              "sets_text": (f"for {succ}, the one head followed" if succ == copy else
                            f"for {succ} alone, {copy} alone and both at once"),
              "means": {v: rounded(means[i]) for i, v in enumerate(a["variants"])}},
        alt=f"Bar chart: for each of {len(labels)} positions, the mean correct probability when the last position's "
            f"attention of {join_words(sets)} is set entirely on it; on the day ({labels[subj]}) with both heads: "
            f"{means[i_both, subj]:.0%}, against {clean:.0%} unchanged",
        caption="Is the day the position the heads need? Each bar gives all of their last-position attention to one "
                "position; dashed: the unchanged model.",
        chart=chart, prompts=list(PROMPTS),
    )


@figure("day-circuit.layer-lens", section="day-circuit", title="The last position after each layer",
        caption="The stream at the last position after each layer, through the logit lens: the top token and the "
                "correct day's probability.", prompts=PROMPTS)
def layer_lens_figure(ctx) -> Figure:
    ll, t = ctx.analysis(layer_lens), ctx.analysis(task)
    used = t["used"]
    probs, top = ll["probs"][:, 1], ll["top"][:, 1]  # after each layer: (layer, prompt, 10), (layer, prompt)
    L, n = top.shape
    tomorrow = ctx.tokenizer.encode(STEER_TOKEN)[0]
    rows = [{"layer": f"layer {l}", "prompt": DAYS[b][:3] + " → " + DAYS[(b + 1) % 7][:3],
             "p": round(float(probs[l, j, 0]), 4), "subject_p": round(float(probs[l, j, 1]), 4),
             "tomorrow_p": round(float(probs[l, j, 2]), 4), "top": ctx.token_str(int(top[l, j]))}
            for l in range(L) for j, b in enumerate(used)]
    layers = [f"layer {l}" for l in range(L)]
    base = alt.Chart(alt.Data(values=rows)).encode(
        x=alt.X("prompt:N", sort=[r["prompt"] for r in rows[:n]], title=None, axis=alt.Axis(orient="top", labelAngle=0)),
        y=alt.Y("layer:N", sort=layers, title=None))
    chart = base.mark_rect().encode(
        color=alt.Color("p:Q", title="P(correct)", scale=alt.Scale(range=style.vega_range("magnitude"), domain=[0, 1]),
                        legend=alt.Legend(orient="bottom", direction="horizontal", gradientLength=200)),
        tooltip=[alt.Tooltip("prompt:N"), alt.Tooltip("layer:N", title="after"), alt.Tooltip("top:N", title="top token"),
                 alt.Tooltip("p:Q", format=".3f", title="P(correct day)"),
                 alt.Tooltip("subject_p:Q", format=".3f", title="P(prompt's day)"),
                 alt.Tooltip("tomorrow_p:Q", format=".3f", title=f"P({ctx.token_str(tomorrow)})")])
    chart += base.mark_text(fontSize=11).encode(text="top:N", color=cell_ink("p", "magnitude", (0.0, 1.0)))
    chart = chart.properties(width=78 * n, height=22 * L, title="Top token after each layer; colour: P(correct day)")
    mean = probs[:, :, 0].mean(-1)  # (layer,)
    on_top = (top == tomorrow).sum(-1)  # (layer,) prompts where " tomorrow" is the top token
    tomorrow_layers = [l for l in range(L) if on_top[l] >= n - 1]
    days = ll["days"][:, 1]  # (layer, prompt, 7) day logits
    subject_first = [l for l in range(L) if (days[l].argmax(-1) == np.array(used)).all()]
    right = days.argmax(-1) == np.array(t["correct"])  # (layer, prompt): the correct day first among the days
    correct_first = right.sum(-1)  # (layer,)
    answered = bool((top == np.asarray(t["targets"])[None]).all())  # the correct day on top after every layer
    collapse = (f"After every layer the lens's top token at the last position is already the correct day, on every "
                f"prompt; its probability goes from {mean[0]:.0%} after layer 0 to {mean[-1]:.0%} at the output."
                if answered else None)
    return Figure(
        collapse=collapse,
        data={"correct_mean": rounded(mean), "peak_layer": int(np.argmax(mean)), "peak_prob": round(float(mean.max()), 4),
              "last_prob": round(float(mean[-1]), 4), "peak_is_last": int(np.argmax(mean)) == L - 1,
              "tomorrow_top": on_top.astype(int).tolist(), "tomorrow_layers": tomorrow_layers,
              "tomorrow_text": (f"layer{'s' if len(tomorrow_layers) > 1 else ''} "
                                f"{join_words([str(l) for l in tomorrow_layers])}" if tomorrow_layers else "no layer"),
              "tomorrow_sentence": (
                  f"{ctx.token_str(tomorrow)}, the prompt's own word, is the top token on all prompts but at most one "
                  f"after layer{'s' if len(tomorrow_layers) > 1 else ''} {join_words([str(l) for l in tomorrow_layers])}"
                  if tomorrow_layers else
                  f"{ctx.token_str(tomorrow)}, the prompt's own word, is not the top token on all prompts but one "
                  f"after any layer (at most on {int(on_top.max())} of {n})"),
              "subject_first_layers": subject_first, "correct_first": correct_first.astype(int).tolist(),
              "correct_first_misses": [[DAYS[b] for j, b in enumerate(used) if not right[l, j]] for l in range(L)],
              "top": [[ctx.token_str(int(i)) for i in r] for r in top]},
        alt=f"Grid of {L} layers by {n} prompts: the top token of the lens at the last position after each layer, "
            f"coloured by the correct day's probability; mean probability peaks at {mean.max():.0%} after layer "
            f"{int(np.argmax(mean))}; {ctx.token_str(tomorrow)} is the top token on all prompts but at most one after "
            + (join_words([str(l) for l in tomorrow_layers]) if tomorrow_layers else "no layer"),
        caption="Where the answer forms: the top token at the last position after each layer, coloured by the correct "
                "day's probability. Hover a cell for more.",
        chart=chart, prompts=list(PROMPTS),
    )


@figure("day-circuit.steering", section="day-circuit", title="Steering with the “tomorrow” direction",
        caption="α times the unembedding vector of “ tomorrow” added to the stream: the successor head's attention "
                "to the day and the correct probability.", prompts=PROMPTS)
def steering_figure(ctx) -> Figure:
    st, c = ctx.analysis(steering), ctx.analysis(circuit_heads)
    succ = head_label(*c["successor"])
    attn, probs = st["attn"].mean(-1), st["probs"].mean(-1)  # (alpha, where)
    where = ("every position", "last position only")
    rows = [{"alpha": str(a), "where": w, "attn": round(float(attn[i, j]), 4), "p": round(float(probs[i, j]), 4)}
            for i, a in enumerate(ALPHAS) for j, w in enumerate(where)]
    order = [str(a) for a in ALPHAS]

    def panel(field, title, fmt):
        return alt.Chart(alt.Data(values=rows)).mark_bar().encode(
            x=alt.X("alpha:N", sort=order, title="α", axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("where:N", sort=list(where)),
            y=alt.Y(f"{field}:Q", title=title, scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("where:N", sort=list(where), title="added at",
                            legend=alt.Legend(orient="bottom", direction="horizontal")),
            tooltip=[alt.Tooltip("alpha:N", title="α"), alt.Tooltip("where:N", title="added at"),
                     alt.Tooltip("attn:Q", format=".3f", title=f"{succ}'s attention to the day"),
                     alt.Tooltip("p:Q", format=".3f", title="mean correct probability")],
        ).properties(width=420, height=130)

    chart = alt.vconcat(panel("attn", f"{succ}'s attention to the day", ".2f"),
                        panel("p", "P(correct day)", ".2f")).properties(
        title=alt.Title(f"α × u({ctx.token_str(ctx.tokenizer.encode(STEER_TOKEN)[0])}) added to the stream entering "
                        f"layer {st['layer']}"))
    layer_words = (f"the stream at the end of layer {st['layer'] - 1}" if st["layer"] > 0 else
                   "the embeddings themselves, which layer 0 reads")
    at = {a: round(float(attn[i, 0]), 4) for i, a in enumerate(ALPHAS)}
    rising = bool(np.all(np.diff(attn[:, 0]) > 0))
    return Figure(
        data={"head": succ, "layer": st["layer"], "hook": st["hook"], "where_text": layer_words,
              "follows_post": _follows_post(ctx),
              "attention": {str(a): v for a, v in at.items()},
              "attention_last_only": {str(a): round(float(attn[i, 1]), 4) for i, a in enumerate(ALPHAS)},
              "probs": {str(a): round(float(probs[i, 0]), 4) for i, a in enumerate(ALPHAS)},
              "attention_rises": rising, "norm": round(st["norm"], 3),
              "rises_text": ("rises at every step of α" if rising else "does not rise steadily with α"),
              **{f"attention_{str(a).replace('-', 'm')}": v for a, v in at.items()}},
        alt=f"Two bar charts over α = {', '.join(map(str, ALPHAS))}: {succ}'s attention from the last position to the "
            f"day ({', '.join(f'{v:.2f}' for v in at.values())} with the vector added at every position) and the mean "
            "correct probability",
        caption=f"More “{STEER_TOKEN.strip()}” in the stream, more attention to the day? {succ}'s attention (top) and "
                "the answer (bottom) as α grows.",
        chart=chart, prompts=list(PROMPTS),
    )


@figure("day-circuit.mlps", section="day-circuit", title="What each MLP does for the answer",
        caption="Each MLP's change to the correct probability: through the lens before and after it, and at the output "
                "when it is zero-ablated.", prompts=PROMPTS)
def mlps_figure(ctx) -> Figure:
    ll, t, e = ctx.analysis(layer_lens), ctx.analysis(task), ctx.analysis(mlp_effects)
    local, ablated = e["local"], e["ablated"]  # (layer,) each: through the lens after − before; zero-ablated − clean
    L = len(local)
    rows = [{"mlp": f"MLP {l}", "local": round(float(local[l]), 4), "ablated": round(float(ablated[l]), 4)}
            for l in range(L)]
    order = [r["mlp"] for r in rows]

    def panel(field, title, axis_title):
        bars = alt.Chart(alt.Data(values=rows)).mark_bar(color=style.MLP).encode(
            x=alt.X("mlp:N", sort=order, title=None, axis=alt.Axis(labelAngle=-40 if L > 6 else 0)),
            y=alt.Y(f"{field}:Q", title=axis_title, axis=alt.Axis(format="+.0%")),
            tooltip=[alt.Tooltip("mlp:N"), alt.Tooltip("local:Q", format="+.3f", title="Δ through the lens"),
                     alt.Tooltip("ablated:Q", format="+.3f", title="Δ at the output, zero-ablated")])
        zero = alt.Chart(alt.Data(values=[{"y": 0}])).mark_rule(color=style.RESIDUAL).encode(y="y:Q")
        return (bars + zero).properties(width=min(480, max(280, 40 * L)), height=130, title=title)

    chart = alt.vconcat(panel("local", "Through the lens: after the MLP minus before it", "Δ P(correct)"),
                        panel("ablated", "At the output: the MLP zero-ablated", "Δ P(correct)"))
    helpful, harmful, needed = int(np.argmax(local)), int(np.argmin(local)), int(np.argmin(ablated))
    # the most helpful MLP's day table (7 day logits per prompt, normalised) before and after it
    used, correct = t["used"], t["correct"]
    before, after = (C.day_distribution(ll["days"][helpful, k]) for k in (0, 1))
    z = {"subject_before": C.mean_z(before, used), "subject_after": C.mean_z(after, used),
         "correct_before": C.mean_z(before, correct), "correct_after": C.mean_z(after, correct)}
    decopies = z["subject_after"] < z["subject_before"] and z["correct_after"] > z["correct_before"]
    second = np.sort(ablated)[1] if L > 1 else 0.0
    change = _minus(f"{local[harmful]:+.1%}")
    harmful_text = (f"MLP {harmful} lowers it most ({change})" if local[harmful] < 0 else
                    f"no MLP lowers it; the smallest change is MLP {harmful}'s ({change})")
    return Figure(
        data={"local": rounded(local), "ablated": rounded(ablated), "helpful": helpful, "harmful": harmful,
              "needed": needed, "helpful_delta": round(float(local[helpful]), 4),
              "harmful_delta": round(float(local[harmful]), 4), "needed_delta": round(float(ablated[needed]), 4),
              "needed_second": round(float(second), 4), **{k: round(v, 4) for k, v in z.items()},
              "helpful_decopies": bool(decopies),
              "decopy_text": ("it lowers the prompt's own day and raises the correct one: decopying" if decopies
                              else "it does not both lower the prompt's own day and raise the correct one, so it is "
                                   "not decopying by this test"),
              "helpful_verdict": [helpful, bool(decopies)], "harmful_text": harmful_text,
              "harmful_lowers": bool(local[harmful] < 0),
              "needed_text": (f"zero-ablating MLP {needed} lowers it most ({_minus(f'{ablated[needed]:+.1%}')}; the "
                              f"next largest change is {_minus(f'{second:+.1%}')})" if ablated[needed] < 0 else
                              "no MLP's zero ablation lowers it")},
        alt=f"Two bar charts over the {L} MLPs: the change in the correct day's mean probability across each MLP "
            f"through the lens (largest rise: MLP {helpful}, {local[helpful]:+.0%}; largest fall: MLP {harmful}, "
            f"{local[harmful]:+.0%}) and when each is zero-ablated (largest loss: MLP {needed}, {ablated[needed]:+.0%})",
        caption="Which MLPs move the answer: through the lens (top) and when removed (bottom).",
        chart=chart, prompts=list(PROMPTS),
    )


