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
from ..analysis.vocab import decoded_vocabulary
from . import style
from .labels import cell_ink, cell_text, head_label, join_words, rounded
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
COPY_THRESHOLD = 0.3  # a copying head: its own output, read by the lens, gives the prompt's day ≥ 30% (mean)
ALPHAS = (-5, -1, 0, 5, 100)  # the seed's steering strengths: α × the unembedding vector of " tomorrow"
STEER_TOKEN = " tomorrow"


def _minus(text: str) -> str:
    """A formatted signed number with a true minus sign (as the charts draw it)."""
    return text.replace("-", "−")


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


def dataset_means(ctx) -> dict:
    """Every head's mean result over the mean- and the random-ablation datasets, (layer, pos, head, d_model) each,
    computed once for the single-head ablations and the head subsets."""
    t = ctx.analysis(task)
    words = C.space_words(ctx.analysis(decoded_vocabulary))
    template = t["tokens"][0]
    mean_set = C.dataset(template, MEAN_SLOTS, C.random_word_ids(words, N_DATASET, len(MEAN_SLOTS), MEAN_SEED))
    random_set = C.dataset(template, RANDOM_SLOTS,
                           C.random_word_ids(words, N_DATASET, len(RANDOM_SLOTS), RANDOM_SEED))
    example = {"mean": ctx.tokenizer.decode(mean_set[0, 1:]), "random": ctx.tokenizer.decode(random_set[0, 1:])}
    return {"mean": iv.head_results_mean(ctx.model, mean_set), "random": iv.head_results_mean(ctx.model, random_set),
            "n_words": len(words), "example": example}


def ablation(ctx) -> dict:
    """Δ correct probability (kind, layer, head) and the two datasets' sizes."""
    t, m = ctx.analysis(task), ctx.analysis(dataset_means)
    values = {"zero": 0.0,
              "mean": m["mean"][:, None],  # (layer, 1, pos, head, d_model)
              "random": m["random"][:, None]}
    targets = np.asarray(t["targets"])
    probs = iv.head_ablation_sweep(ctx.model, t["tokens"], values,
                                   reduce=lambda logits, rows: C.correct_probs(logits, targets[rows]))  # (kind, layer, head, 7)
    return {"delta": C.ablation_deltas(probs, t["probs"]), "n_words": m["n_words"], "example": m["example"]}


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
            "scores_folded": C.successor_scores(folded, t["correct"]), "n": len(t["used"]), "used": t["used"],
            "results": results, "value_bias": value_bias}


def _heads_chart(rows: list[dict], field: str, title: str, ramp: str, domain, fmt: str, legend_title: str,
                 L: int, H: int, tooltip_fmt: str, subtitle: str = "", legend: bool = True, text: str | None = None,
                 legend_fmt: str | None = None, where=None, tooltip: tuple = ()):
    """A layer × head heatmap (one panel) with values on the cells when they fit; `where` filters the rows."""
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
                      "top_text": join_words(tops[kind]) if top else "none",
                      "n_top": len(top), "most_harmful": head_label(*worst),
                      "most_harmful_delta": round(float(delta[k][worst]), 4)}
    chart = alt.vconcat(*panels).resolve_scale(color="independent")  # one domain, [−m, m], for the three
    everywhere = sorted(set.intersection(*(set(data[k]["top"]) for k in KINDS)))
    named = {(l, h) for k in range(len(KINDS)) for l, h, _ in C.top_heads(delta[k], THRESHOLD, TOP_K)}
    return Figure(
        data={**data, "threshold": THRESHOLD, "top_k": TOP_K, "n_dataset": N_DATASET, "n_words": a["n_words"],
              "mean_seed": MEAN_SEED, "random_seed": RANDOM_SEED, "example_mean": a["example"]["mean"],
              "example_random": a["example"]["random"],
              "in_all_three": join_words(everywhere) if everywhere else "no head",
              "n_in_all_three": len(everywhere), "scale": m, "depth_text": _depth(named, L)},
        alt=f"Three heatmaps of {L} layers by {H} heads: the change in the correct day's probability when each "
            "head is zero, mean or random ablated; " + "; ".join(f"{k}: {tops[k] and join_words(tops[k]) or 'no head'}"
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
    verdict = (f"{join_words(labels)} rank{'s' if len(labels) == 1 else ''} the correct day first on all {n} prompts"
               if labels else f"no head ranks the correct day first on all {n} prompts; the best, "
                              f"{head_label(*best)}, does on {int(scores[best])}")
    return Figure(
        data={"scores": scores.astype(int).tolist(), "scores_folded": folded.astype(int).tolist(),
              "all_seven": labels, "all_seven_folded": labels_folded, "n_all_seven": len(labels),
              "n_all_seven_folded": len(labels_folded), "best": head_label(*best), "best_score": int(scores[best]),
              "verdict": verdict, "n_heads": L * H, "n_prompts": n,
              "same_in_both": labels == labels_folded, "folded_text": join_words(labels_folded) or "none",
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


# --- in vivo: what each head's output says, where the heads read, the layers and the MLPs ------------------


def _lens_ids(ctx, t: dict) -> np.ndarray:
    """Per prompt, the tokens the lens keeps: correct day, subject day, " tomorrow", then the 7 days: (prompts, 10)."""
    tomorrow = ctx.tokenizer.encode(STEER_TOKEN)[0]
    return np.array([[t["day_ids"][c], t["day_ids"][u], tomorrow, *t["day_ids"]]
                     for c, u in zip(t["correct"], t["used"])])


def _lens(ctx, x, ids):
    W = ctx.weights
    return C.lens_read(x, W["ln_final.w"], W["ln_final.b"], W["W_U"], ctx.model.cfg.layer_norm_epsilon, ids)


def head_lens(ctx) -> dict:
    """Each head's output at the final position through the logit lens: P(correct day), P(subject day) and the
    top-1 token, (layer, head, prompt) each. The value-bias term b_V·W_O is taken out first (TransformerLens's
    fold_value_biases, as for the successor claim)."""
    t, s = ctx.analysis(task), ctx.analysis(successor)
    results = s["results"] - s["value_bias"][:, None]  # (layer, prompt, head, d_model)
    ids = _lens_ids(ctx, t)[:, :2]  # (prompt, 2)
    probs, _, top = _lens(ctx, results, ids[None, :, None])  # (layer, prompt, head, 2), (layer, prompt, head)
    return {"correct": probs[..., 0].transpose(0, 2, 1), "subject": probs[..., 1].transpose(0, 2, 1),
            "top": top.transpose(0, 2, 1)}


def circuit_heads(ctx) -> dict:
    """The two heads the in-vivo experiments follow, named by computed criteria.

    successor: the successor search's best head, counting both readings (prompts ranked right with the value
    bias in the head plus with it folded out; the first such head in layer order on a tie).
    copying heads: mean lens probability of the subject day ≥ COPY_THRESHOLD; the one followed is the copying
    head whose mean ablation lowers the correct probability most (the post's L10H3: a copier whose removal
    hurts most). With no copying head, the head with the highest mean subject probability stands in."""
    s, h = ctx.analysis(successor), ctx.analysis(head_lens)
    subject = h["subject"].mean(-1)  # (layer, head)
    copying = C.ranked_heads(subject, COPY_THRESHOLD)
    both = s["scores"] + s["scores_folded"]  # (layer, head)
    succ = tuple(int(i) for i in np.unravel_index(np.argmax(both), both.shape))
    if copying:
        mean_delta = ctx.analysis(ablation)["delta"][KINDS.index("mean")]
        copy = min(((l, hh) for l, hh, _ in copying), key=lambda lh: (mean_delta[lh], lh))
    else:
        copy = tuple(int(i) for i in np.unravel_index(np.argmax(subject), subject.shape))
    return {"successor": succ, "copying": copy, "copying_heads": copying, "is_copying": bool(copying)}


def _subject_pos(t: dict) -> int:
    return C.subject_position(t["tokens"], [t["day_ids"][u] for u in t["used"]])


def attention(ctx) -> dict:
    """The final position's attention rows of the two heads, and correct probabilities with their row fixed.

    Variants ("successor", "copying", "both"): those heads' final-position attention set to 1 on one key
    position k (SetPattern), for every k; (variant, k, prompt) stacked in one batch."""
    t, c = ctx.analysis(task), ctx.analysis(circuit_heads)
    tokens, n = t["tokens"], len(t["used"])
    n_pos = tokens.shape[1]
    heads = {"successor": [c["successor"]], "copying": [c["copying"]],
             "both": list(dict.fromkeys([c["successor"], c["copying"]]))}
    names = sorted({f"blocks.{l}.attn.hook_pattern" for l, _ in heads["both"]})
    clean = iv.run(ctx.model, tokens, keep=names, final_only=True)
    rows_of = {(l, hh): clean[f"blocks.{l}.attn.hook_pattern"][:, hh, -1] for l, hh in heads["both"]}  # (prompt, key)
    edits, batch = [], []
    for v, hs in enumerate(heads.values()):
        for k in range(n_pos):
            rows = list(range(len(batch), len(batch) + n))
            batch += list(tokens)
            edits += [iv.SetPattern(l, hh, query=-1, row=k, rows=rows) for l, hh in hs]
    out = iv.run(ctx.model, np.array(batch), edits=edits, final_only=True).logits[:, -1]  # (3·n_pos·n, d_vocab)
    probs = C.correct_probs(out, np.tile(t["targets"], 3 * n_pos)).reshape(3, n_pos, n)
    return {"rows": {f"L{l}H{hh}": r for (l, hh), r in rows_of.items()}, "probs": probs,
            "variants": list(heads), "subject": _subject_pos(t), "clean": t["probs"]}


def layer_lens(ctx) -> dict:
    """The stream at the final position after each layer's attention (resid_mid) and after its MLP
    (resid_post), through the lens; and the correct probabilities with each MLP zero-ablated."""
    t = ctx.analysis(task)
    L, n = ctx.dims.n_layers, len(t["used"])
    names = [f"blocks.{l}.hook_resid_{k}" for l in range(L) for k in ("mid", "post")]
    out = iv.run(ctx.model, t["tokens"], keep=names, final_only=True)
    x = np.stack([out[name][:, -1] for name in names]).reshape(L, 2, n, -1)  # (layer, mid/post, prompt, d_model)
    probs, logits, top = _lens(ctx, x, _lens_ids(ctx, t)[None, None])  # (layer, 2, prompt, 10), (layer, 2, prompt)
    ablated = iv.run(ctx.model, np.tile(t["tokens"], (L, 1)), final_only=True,
                     edits=[iv.ReplaceMLP(l, 0.0, rows=list(range(l * n, (l + 1) * n))) for l in range(L)]).logits[:, -1]
    zero = C.correct_probs(ablated, np.tile(t["targets"], L)).reshape(L, n)
    return {"probs": probs, "days": logits[..., 3:], "top": top, "zero_mlp": zero, "clean": t["probs"]}


def steering(ctx) -> dict:
    """α × the unembedding vector of " tomorrow" added to the stream entering the successor head's layer
    (GPT-2: the end of layer 8, under L9H1), at every position (or at the final position only): the successor
    head's attention from the final position to the subject day, and the correct probabilities."""
    t, c = ctx.analysis(task), ctx.analysis(circuit_heads)
    l, h = c["successor"]
    n, subj = len(t["used"]), _subject_pos(t)
    u = C.unembedding_direction(ctx.weights["W_U"], ctx.weights["ln_final.w"], ctx.tokenizer.encode(STEER_TOKEN)[0])
    hook = f"blocks.{l}.hook_resid_pre"
    edits = []
    for i, a in enumerate(ALPHAS):
        for j, pos in enumerate((None, -1)):  # every position; the final position only
            first = (2 * i + j) * n
            edits.append(iv.AddResid(hook, (a * u).astype(np.float32), pos=pos, rows=list(range(first, first + n))))
    out = iv.run(ctx.model, np.tile(t["tokens"], (2 * len(ALPHAS), 1)), edits=edits, final_only=True,
                 keep=[f"blocks.{l}.attn.hook_pattern"])
    attn = out[f"blocks.{l}.attn.hook_pattern"][:, h, -1, subj].reshape(len(ALPHAS), 2, n)
    probs = C.correct_probs(out.logits[:, -1], np.tile(t["targets"], 2 * len(ALPHAS))).reshape(len(ALPHAS), 2, n)
    return {"attn": attn, "probs": probs, "layer": l, "head": h, "hook": hook, "norm": float(np.linalg.norm(u))}


MEAN_OPTION = "mean of the prompts"


def _prompt_name(b: int) -> str:
    return f"{DAYS[b]} → {DAYS[(b + 1) % 7]}"


@figure("day-circuit.head-lens", section="day-circuit", title="What each head's output says on its own",
        caption="Each head's output at the last position through the logit lens: the probability of the prompt's "
                "own day and of the correct next day.", prompts=PROMPTS)
def head_lens_figure(ctx) -> Figure:
    hl, c = ctx.analysis(head_lens), ctx.analysis(circuit_heads)
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
    return Figure(
        data={"subject_mean": rounded(subject), "correct_mean": rounded(correct), "threshold": COPY_THRESHOLD,
              "copying": names, "n_copying": len(names), "copying_text": verdict,
              "best_subject": head_label(*best), "best_subject_prob": round(float(subject[best]), 4),
              "followed": head_label(*c["copying"]), "followed_is_copying": c["is_copying"],
              "followed_text": (f"{head_label(*c['copying'])}, the copying head whose mean ablation lowers the "
                                "correct probability most" if copying else
                                f"{head_label(*c['copying'])}, the head with the highest probability of the prompt's "
                                f"day ({subject[c['copying']]:.1%}), standing in for the copying head this model "
                                "does not have"),
              "followed_subject": round(float(subject[c["copying"]]), 4)},
        alt=f"Two heatmaps of {L} layers by {H} heads: the mean probability each head's own output gives the prompt's "
            f"day and the correct next day, read through the final LayerNorm and W_U; copying heads (prompt's day "
            f"≥ {COPY_THRESHOLD:.0%}): {verdict}",
        caption="Each head's output vector at the last position, minus its value-bias term, decoded the way the model "
                "decodes its final stream (final LayerNorm, then W_U, softmax over the whole vocabulary). Top: the "
                "probability of the day in the prompt; bottom: of the correct next day. Averaged over the "
                f"{n} prompts; pick one prompt below the chart, and hover a cell for the head's top token.",
        chart=chart, prompts=list(PROMPTS),
    )


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
              "pair_text": (f"{succ}, which is both the best successor candidate and the head followed as the "
                            "copier (one row below)" if succ == copy else f"{succ} and {copy}"),
              "successor_attention": round(s_att, 4), "copying_attention": round(c_att, 4),
              "successor_top_key": labels[top_key[succ]], "copying_top_key": labels[top_key[copy]],
              "successor_bos": round(float(a["rows"][succ][:, 0].mean()), 4),
              "attention_text": (f"{succ} puts {s_att:.1%} of its attention on the day" if succ == copy else
                                 f"{succ} puts {s_att:.1%} of its attention on the day and {copy} {c_att:.1%}")},
        alt=f"Heatmap of the attention from the last position to each of {len(labels)} positions for {join_words(list(who))}; "
            f"{succ} puts {s_att:.0%} on the day, {copy} {c_att:.0%}",
        caption=f"Each row: one head's attention weights from the last position (the one predicting the next day) to "
                f"every position, averaged over the {len(t['used'])} prompts. The day differs per prompt: it is "
                f"position {subj}, written ⟨day⟩.",
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
        data={"clean_mean": round(clean, 4),
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
        caption=f"For each position k, the last position's attention row of the named heads is replaced by a row "
                f"that is 1 on k and 0 elsewhere (the heads' other rows and every other head untouched); bars: the "
                f"correct probability at the output, averaged over the {a['probs'].shape[-1]} prompts. Dashed line: "
                "the unchanged model.",
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
    correct_first = (days.argmax(-1) == np.array(t["correct"])).sum(-1)  # (layer,)
    return Figure(
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
              "top": [[ctx.token_str(int(i)) for i in r] for r in top]},
        alt=f"Grid of {L} layers by {n} prompts: the top token of the lens at the last position after each layer, "
            f"coloured by the correct day's probability; mean probability peaks at {mean.max():.0%} after layer "
            f"{int(np.argmax(mean))}; {ctx.token_str(tomorrow)} is the top token on all prompts but at most one after "
            + (join_words([str(l) for l in tomorrow_layers]) if tomorrow_layers else "no layer"),
        caption="Each cell: the residual stream at the last position after one layer (rows) for one prompt (columns), "
                "decoded with the final LayerNorm and W_U: its top token, and in colour the correct next day's "
                "probability. The last row is the model's output. Hover a cell for the probabilities of the "
                f"correct day, the prompt's day and {ctx.token_str(tomorrow)}.",
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
              "attention": {str(a): v for a, v in at.items()},
              "attention_last_only": {str(a): round(float(attn[i, 1]), 4) for i, a in enumerate(ALPHAS)},
              "probs": {str(a): round(float(probs[i, 0]), 4) for i, a in enumerate(ALPHAS)},
              "attention_rises": rising, "norm": round(st["norm"], 3),
              "rises_text": ("rises at every step of α" if rising else "does not rise steadily with α"),
              **{f"attention_{str(a).replace('-', 'm')}": v for a, v in at.items()}},
        alt=f"Two bar charts over α = {', '.join(map(str, ALPHAS))}: {succ}'s attention from the last position to the "
            f"day ({', '.join(f'{v:.2f}' for v in at.values())} with the vector added at every position) and the mean "
            "correct probability",
        caption=f"α times the unembedding vector u of “{STEER_TOKEN}” (as TransformerLens processes GPT-2: the final "
                "LayerNorm's γ folded in, centred over the vocabulary; not normalised, length "
                f"{st['norm']:.1f}) added to the residual stream entering layer {st['layer']}, {succ}'s layer, at "
                f"every position or at the last one only. Top: {succ}'s attention from the last position to the day; "
                "bottom: the correct probability at the output; both averaged over the prompts.",
        chart=chart, prompts=list(PROMPTS),
    )


@figure("day-circuit.mlps", section="day-circuit", title="What each MLP does for the answer",
        caption="Each MLP's change to the correct probability: through the lens before and after it, and at the output "
                "when it is zero-ablated.", prompts=PROMPTS)
def mlps_figure(ctx) -> Figure:
    ll, t = ctx.analysis(layer_lens), ctx.analysis(task)
    probs = ll["probs"]  # (layer, mid/post, prompt, 10)
    L = probs.shape[0]
    local = (probs[:, 1, :, 0] - probs[:, 0, :, 0]).mean(-1)  # (layer,) P(correct) after − before the MLP
    ablated = (ll["zero_mlp"] - ll["clean"][None]).mean(-1)  # (layer,)
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
              "decopy_text": (f"it lowers the prompt's own day and raises the correct one: decopying" if decopies
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
        caption="Top: the correct day's probability through the lens just after the MLP minus just before it (the "
                "stream at the last position with and without the MLP's output), averaged over the prompts. Bottom: "
                "the change in the model's output probability of the correct day when the MLP's output is replaced by "
                "zero at every position.",
        chart=chart, prompts=list(PROMPTS),
    )


# --- keeping only a few heads (the seed's "finding a subset under mean / random ablation") -------------------

SUBSET_KINDS = ("mean", "random")
SUBSET_CAP = 8  # the greedy search stops at this many heads …
SUBSET_CHUNK = 24  # … and tries this many candidate subsets per batched run (× the prompts)


def keep_only_probs(model, tokens: np.ndarray, targets: np.ndarray, means: np.ndarray, subsets: list, lens) -> dict:
    """Correct probabilities with every head outside a subset replaced by its dataset mean, for many subsets.

    tokens (n, pos), targets (n,), means (layer, pos, head, d_model) from `iv.head_results_mean`; `subsets` a list
    of lists of (layer, head); `lens` = (layer, read) with read(x (rows, d_model), ids (rows, 1)) → (probs
    (rows, 1), logits, top (rows,)): the stream at the end of that layer, final position. One run per
    SUBSET_CHUNK subsets, each subset's prompts stacked in the batch. Returns (subset, prompt) arrays: "output" and
    "lens" correct probabilities, "output_top1" and "lens_top1" (the correct day is the top-1 token)."""
    L, _, H, _ = means.shape
    n = len(tokens)
    layer, read = lens
    hook = f"blocks.{layer}.hook_resid_post"
    out = {k: [] for k in ("output", "lens", "output_top1", "lens_top1")}
    for i in range(0, len(subsets), SUBSET_CHUNK):
        part = subsets[i:i + SUBSET_CHUNK]
        edits = []
        for l in range(L):
            for h in range(H):
                rows = [j * n + b for j, s in enumerate(part) if (l, h) not in s for b in range(n)]
                if rows:
                    edits.append(iv.ReplaceHead(l, h, means[l, :, h], rows=rows))
        res = iv.run(model, np.tile(tokens, (len(part), 1)), edits=edits, keep=[hook], final_only=True)
        t = np.tile(targets, len(part))
        logits = res.logits[:, -1]  # (rows, d_vocab)
        out["output"].append(C.correct_probs(logits, t).reshape(len(part), n))
        out["output_top1"].append((logits.argmax(-1) == t).reshape(len(part), n))
        probs, _, top = read(res[hook][:, -1], t[:, None])
        out["lens"].append(probs[:, 0].reshape(len(part), n))
        out["lens_top1"].append((top == t).reshape(len(part), n))
    return {k: np.concatenate(v) for k, v in out.items()}


def greedy_subset(probe, start: list, candidates: list, n: int, cap: int) -> list[dict]:
    """From `start`, add the candidate head that most raises the mean lens correct probability (the first in
    `candidates`' order on a tie), until the correct day is top-1 through the lens on all `n` prompts or the set
    has `cap` heads. `probe(subsets)` is `keep_only_probs` bound to a model. Returns the path: one step per size,
    {"heads", "added", and the probe's arrays for that set}."""
    heads = list(dict.fromkeys(start))
    first = probe([heads])
    path = [{"heads": list(heads), "added": None, **{k: v[0] for k, v in first.items()}}]
    while len(heads) < cap and int(path[-1]["lens_top1"].sum()) < n:
        options = [c for c in candidates if c not in heads]
        if not options:
            break
        got = probe([heads + [c] for c in options])
        best = int(np.argmax(got["lens"].mean(-1)))
        heads = heads + [options[best]]
        path.append({"heads": list(heads), "added": options[best], **{k: v[best] for k, v in got.items()}})
    return path


def subsets(ctx) -> dict:
    """The greedy head subsets under mean and random ablation, from the successor and the followed copying head.

    The lens reads the stream at the end of the layer after the successor head's (GPT-2: layer 10, as the seed;
    the last layer when the successor head is in it); only heads in layers up to that one are candidates (later
    heads cannot change what the lens reads)."""
    t, c, m = ctx.analysis(task), ctx.analysis(circuit_heads), ctx.analysis(dataset_means)
    L, H = ctx.dims.n_layers, ctx.dims.n_heads
    layer = min(c["successor"][0] + 1, L - 1)
    read = (layer, lambda x, ids: _lens(ctx, x, ids))
    start = [c["successor"], c["copying"]]
    candidates = [(l, h) for l in range(layer + 1) for h in range(H)]
    targets = np.asarray(t["targets"])
    paths = {kind: greedy_subset(lambda s, kind=kind: keep_only_probs(ctx.model, t["tokens"], targets, m[kind], s, read),
                                 start, candidates, len(t["used"]), SUBSET_CAP) for kind in SUBSET_KINDS}
    return {"paths": paths, "lens_layer": layer, "start": list(dict.fromkeys(start)), "n": len(t["used"]),
            "n_candidates": len(candidates), "clean": t["probs"]}


def _subset_result(path: list[dict], n: int) -> str:
    """The mean correct probability through the lens and at the output, from the start set to the set found."""
    first, last = path[0], path[-1]

    def change(key):
        a, b = float(first[key].mean()), float(last[key].mean())
        return f"goes from {a:.1%} with the start set to {b:.1%}" if len(path) > 1 else f"is {a:.1%} with the start set alone"

    return (f"through the lens, the mean correct probability {change('lens')}; at the output, it {change('output')}, "
            f"and the correct day is top-1 at the output on {int(last['output_top1'].sum())} of the {n} prompts")


@figure("day-circuit.subsets", section="day-circuit", title="Keeping only a few heads",
        caption="Every head outside a growing set replaced by its dataset mean: the correct probability as the greedy "
                "search adds heads, under mean and random ablation.", prompts=PROMPTS)
def subsets_figure(ctx) -> Figure:
    s = ctx.analysis(subsets)
    n, layer = s["n"], s["lens_layer"]
    where = {"lens": f"end of layer {layer} (lens)", "output": "model output"}
    rows, data = [], {}
    for kind, path in s["paths"].items():
        for step in path:
            added = "+" + head_label(*step["added"]) if step["added"] else " + ".join(head_label(*h) for h in s["start"])
            for key, name in where.items():
                rows.append({"kind": f"{kind} ablation", "size": len(step["heads"]), "read": name, "added": added,
                             "p": round(float(step[key].mean()), 4), "top1": int(step[f"{key}_top1"].sum()),
                             "heads": ", ".join(head_label(*h) for h in step["heads"])})
        last = path[-1]
        found = [head_label(*h) for h in last["heads"]]
        solved = int(last["lens_top1"].sum()) == n
        data[kind] = {
            "heads": found, "heads_text": join_words(found), "added": [head_label(*p["added"]) for p in path[1:]],
            "added_text": join_words([head_label(*p["added"]) for p in path[1:]]) or "no head",
            "size": len(found), "solved": solved,
            "lens_mean": rounded(np.array([p["lens"].mean() for p in path])),
            "output_mean": rounded(np.array([p["output"].mean() for p in path])),
            "lens_top1": [int(p["lens_top1"].sum()) for p in path],
            "output_top1": [int(p["output_top1"].sum()) for p in path],
            "start_lens": round(float(path[0]["lens"].mean()), 4), "start_output": round(float(path[0]["output"].mean()), 4),
            "final_lens": round(float(last["lens"].mean()), 4), "final_output": round(float(last["output"].mean()), 4),
            "final_lens_probs": rounded(last["lens"]), "final_output_probs": rounded(last["output"]),
            "final_lens_top1": int(last["lens_top1"].sum()), "final_output_top1": int(last["output_top1"].sum()),
            "result_text": _subset_result(path, n),
            "stop_text": (f"the correct day is top-1 through the lens on all {n} prompts with {len(found)} "
                          f"head{'s' if len(found) > 1 else ''}"
                          if solved else f"it stops at the cap of {SUBSET_CAP} heads with the correct day top-1 "
                                         f"through the lens on {int(last['lens_top1'].sum())} of {n} prompts")}
    base = alt.Chart(alt.Data(values=rows)).encode(
        x=alt.X("added:N", title="the start set, then each head added", sort=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("p:Q", title="mean P(correct day)", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("read:N", title="read at", sort=list(where.values()),
                        legend=alt.Legend(orient="bottom", direction="vertical")),
        tooltip=[alt.Tooltip("kind:N", title="ablation"), alt.Tooltip("read:N", title="read at"),
                 alt.Tooltip("size:O", title="heads kept"), alt.Tooltip("added:N", title="step"),
                 alt.Tooltip("p:Q", format=".3f", title="mean P(correct)"),
                 alt.Tooltip("top1:Q", title=f"prompts top-1 (of {n})"), alt.Tooltip("heads:N", title="kept")])
    lines = base.mark_line(point=alt.OverlayMarkDef(size=70, filled=True), strokeWidth=2)
    clean = alt.Chart(alt.Data(values=[{"p": round(float(s["clean"].mean()), 4), "what": "every head kept"}])).mark_rule(
        strokeDash=[4, 3], color=style.RESIDUAL, strokeWidth=2).encode(
        y="p:Q", tooltip=[alt.Tooltip("what:N", title=""), alt.Tooltip("p:Q", format=".3f", title="mean P(correct)")])
    chart = alt.vconcat(*[
        alt.layer(lines.transform_filter(alt.datum.kind == f"{kind} ablation"), clean).properties(
            width=460, height=160, title=alt.Title(f"{kind} ablation of every other head",
                                                   subtitle="dashed: the unchanged model's output"))
        for kind in SUBSET_KINDS]).resolve_scale(x="independent")
    return Figure(
        data={**data, "lens_layer": layer, "cap": SUBSET_CAP, "n_prompts": n, "n_candidates": s["n_candidates"],
              "start": [head_label(*h) for h in s["start"]], "start_text": join_words([head_label(*h) for h in s["start"]]),
              "start_sentence": (f"the successor head {head_label(*s['start'][0])} and the copying head "
                                 f"{head_label(*s['start'][1])}" if len(s["start"]) > 1 else
                                 f"{head_label(*s['start'][0])}, which is both the successor head and the copying head "
                                 "followed"),
              "clean_mean": round(float(s["clean"].mean()), 4)},
        alt=f"Two line charts, mean and random ablation: the mean correct probability through the lens at the end of "
            f"layer {layer} and at the output as heads are added; "
            + "; ".join(f"{k}: {data[k]['heads_text']}" for k in SUBSET_KINDS),
        caption=f"Every head outside the kept set has its result replaced, at every position, by its mean over the "
                f"mean-ablation dataset (top) or the random-ablation dataset (bottom). The search starts from "
                f"{join_words([head_label(*h) for h in s['start']])} and adds, one at a time, the head (in layers 0 to "
                f"{layer}) that most raises the mean correct probability read through the lens at the end of layer "
                f"{layer}, until the correct day is top-1 there on all {n} prompts or {SUBSET_CAP} heads are kept. Hover a "
                "point for the top-1 count and the kept set.",
        chart=chart, prompts=list(PROMPTS),
    )
