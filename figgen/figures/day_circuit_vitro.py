"""The day-of-week circuit beyond single heads (seed 002, Gould et al.): keeping only a few heads, the circuit
in vitro, its generalisation to months and numbers, and the successor head's OV circuit.

Figures, in the order of the page (section "day-circuit", after the in-vivo figures):
- `day-circuit.subsets`: every head but a few mean- or random-ablated; on GPT-2 124M's shape the post's own
  sets, elsewhere a greedy search from the heads followed;
- `day-circuit.in-vitro`: the post's in-vitro steps, in order (the heads alone on a random-ablated, then a
  zero-ablated model; their attention fixed; just the output of one MLP fed to them; a read-out MLP);
- `day-circuit.generalisation`: the last setup on the 12 month prompts and on numbers 1..100;
- `day-circuit.month-distribution`: which head ranks the next month first, and the successor head's
  12 × 12 month table;
- `day-circuit.successor-ov`: what the successor head writes for each day (month) token through W_V W_O.
On GPT-2 124M's shape the components are the post's (L9H1, L10H3, MLP 0, MLP 9); elsewhere the heads the
page follows and, by the same tests the post used to pick its MLPs, this model's. Forward passes go
through figgen.interventions; the arithmetic is figgen.analysis.circuit and figgen.analysis.circuit_vitro.
"""

from __future__ import annotations

import altair as alt
import numpy as np

from .. import interventions as iv
from ..analysis import circuit as C
from ..analysis import circuit_vitro as V
from ..analysis.processing import processed_results
from . import style
from .day_task import (DAY_PROMPTS, DAYS, MONTH_PROMPTS, MONTHS, NUMBER_PROMPTS, NUMBERS, TEMPLATES, circuit_heads,
                       dataset_means, has_post_heads, mlp_effects, prompts, task, value_biases)
from .labels import cell_text, head_label, join_words, rounded
from .registry import Figure, figure

# --- keeping only a few heads (the post's "finding a subset under mean / random ablation") ----------------

SUBSET_KINDS = ("mean", "random")
# The post's sets in GPT-2 124M, each the one before plus the heads it added
POST_SETS = (((9, 1), (10, 3)), ((8, 1), (8, 6), (8, 8)), ((6, 9),))
SUBSET_CAP = 8  # on another model, a greedy search stops at this many heads …
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
    {"heads", "added" (a list), and the probe's arrays for that set}."""
    heads = list(dict.fromkeys(start))
    first = probe([heads])
    path = [{"heads": list(heads), "added": [], **{k: v[0] for k, v in first.items()}}]
    while len(heads) < cap and int(path[-1]["lens_top1"].sum()) < n:
        options = [c for c in candidates if c not in heads]
        if not options:
            break
        got = probe([heads + [c] for c in options])
        best = int(np.argmax(got["lens"].mean(-1)))
        heads = heads + [options[best]]
        path.append({"heads": list(heads), "added": [options[best]], **{k: v[best] for k, v in got.items()}})
    return path


def fixed_path(probe, steps) -> list[dict]:
    """The post's sets, each step adding its heads to the one before: the same path form as `greedy_subset`."""
    sets = [sum(steps[:i + 1], ()) for i in range(len(steps))]
    got = probe([list(s) for s in sets])
    return [{"heads": list(s), "added": list(steps[i]) if i else [], **{k: v[i] for k, v in got.items()}}
            for i, s in enumerate(sets)]


def subsets(ctx) -> dict:
    """Every head but a kept set replaced by its mean over the mean- or random-ablation dataset; the correct
    probability through the lens at the end of the layer after the successor head's (GPT-2: layer 10, as the
    post reads it) and at the output. The post's own sets on GPT-2 124M's shape; elsewhere a greedy search from
    the heads followed, over the heads in layers up to that one (later heads cannot change what the lens reads)."""
    t, c, m = ctx.analysis(task), ctx.analysis(circuit_heads), ctx.analysis(dataset_means)
    L, H = ctx.dims.n_layers, ctx.dims.n_heads
    layer = min(c["successor"][0] + 1, L - 1)
    W, eps = ctx.weights, ctx.model.cfg.layer_norm_epsilon
    read = (layer, lambda x, ids: C.lens_read(x, W["ln_final.w"], W["ln_final.b"], W["W_U"], eps, ids))
    targets = np.asarray(t["targets"])

    def probe(kind):
        return lambda s: keep_only_probs(ctx.model, t["tokens"], targets, m[kind], s, read)

    post = has_post_heads(ctx)
    start = list(dict.fromkeys(POST_SETS[0] if post else [c["successor"], c["copying"]]))
    candidates = [(l, h) for l in range(layer + 1) for h in range(H)]
    paths = {kind: fixed_path(probe(kind), POST_SETS) if post else
             greedy_subset(probe(kind), start, candidates, len(t["used"]), SUBSET_CAP) for kind in SUBSET_KINDS}
    return {"paths": paths, "lens_layer": layer, "start": start, "n": len(t["used"]), "post": post,
            "n_candidates": len(candidates), "clean": t["probs"]}


def _subset_result(path: list[dict], n: int) -> str:
    """The mean correct probability through the lens and at the output, from the start set to the last set."""
    first, last = path[0], path[-1]

    def change(key):
        a, b = float(first[key].mean()), float(last[key].mean())
        return f"goes from {a:.1%} with the first set to {b:.1%}" if len(path) > 1 else f"is {a:.1%} with the first set alone"

    return (f"through the lens, the mean correct probability {change('lens')}; at the output, it {change('output')}, "
            f"and the correct day is top-1 at the output on {int(last['output_top1'].sum())} of the {n} prompts")


@figure("day-circuit.subsets", section="day-circuit", title="Keeping only a few heads",
        caption="Every head outside a few replaced by its dataset mean: the correct probability as heads are added, "
                "under mean and random ablation.", prompts=DAY_PROMPTS)
def subsets_figure(ctx) -> Figure:
    s = ctx.analysis(subsets)
    n, layer = s["n"], s["lens_layer"]
    where = {"lens": f"end of layer {layer} (lens)", "output": "model output"}
    rows, data = [], {}
    for kind, path in s["paths"].items():
        for step in path:
            added = ("+" + " +".join(head_label(*h) for h in step["added"]) if step["added"]
                     else " + ".join(head_label(*h) for h in s["start"]))
            for key, name in where.items():
                rows.append({"kind": f"{kind} ablation", "size": len(step["heads"]), "read": name, "added": added,
                             "p": round(float(step[key].mean()), 4), "top1": int(step[f"{key}_top1"].sum()),
                             "heads": ", ".join(head_label(*h) for h in step["heads"])})
        last = path[-1]
        found = [head_label(*h) for h in last["heads"]]
        added = [head_label(*h) for p in path[1:] for h in p["added"]]
        data[kind] = {
            "heads": found, "heads_text": join_words(found), "added": added, "added_text": join_words(added) or "no head",
            "size": len(found), "solved": int(last["lens_top1"].sum()) == n,
            "lens_mean": rounded(np.array([p["lens"].mean() for p in path])),
            "output_mean": rounded(np.array([p["output"].mean() for p in path])),
            "lens_top1": [int(p["lens_top1"].sum()) for p in path],
            "output_top1": [int(p["output_top1"].sum()) for p in path],
            "start_lens": round(float(path[0]["lens"].mean()), 4), "start_output": round(float(path[0]["output"].mean()), 4),
            "final_lens": round(float(last["lens"].mean()), 4), "final_output": round(float(last["output"].mean()), 4),
            "result_text": _subset_result(path, n)}
    post = None
    if s["post"]:  # the post's three sets by name: the pair, the five with layer 8's heads, the six with L6H9
        post = {kind: {name: {"lens": data[kind]["lens_mean"][i], "output": data[kind]["output_mean"][i],
                              "lens_top1": data[kind]["lens_top1"][i]}
                       for i, name in enumerate(("pair", "five", "six"))} for kind in SUBSET_KINDS}
    base = alt.Chart(alt.Data(values=rows)).encode(
        x=alt.X("added:N", title="the first set, then the heads added", sort=None, axis=alt.Axis(labelAngle=0)),
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
    start = [head_label(*h) for h in s["start"]]
    how = ("the post's sets: L9H1 and L10H3, then with L8H1, L8H6 and L8H8, then with L6H9 as well" if s["post"] else
           f"a greedy search from {join_words(start)}, adding at each step the head (in layers 0 to {layer}) that "
           f"most raises the mean correct probability read through the lens at the end of layer {layer}, until the "
           f"correct day is top-1 there on all {n} prompts or {SUBSET_CAP} heads are kept")
    flat = all(len(path) == 1 for path in s["paths"].values())  # the search added nothing: one point per chart
    collapse = None
    if flat:
        collapse = (f"Keeping only {join_words(start)} is already enough here: with every other head replaced by its "
                    f"mean, the correct day's probability through the lens at the end of layer {layer} is "
                    f"{data['mean']['final_lens']:.0%} under mean ablation and {data['random']['final_lens']:.0%} under "
                    "random ablation, so the search adds no head.")
    return Figure(
        collapse=collapse,
        data={**data, "lens_layer": layer, "cap": SUBSET_CAP, "one_point": flat, "n_prompts": n, "n_candidates": s["n_candidates"],
              "post_sets": s["post"], "post": post, "start": start, "start_text": join_words(start), "how": how,
              "clean_mean": round(float(s["clean"].mean()), 4)},
        alt=f"Two line charts, mean and random ablation: the mean correct probability through the lens at the end of "
            f"layer {layer} and at the output as heads are kept; "
            + "; ".join(f"{k}: {data[k]['heads_text']}" for k in SUBSET_KINDS),
        caption="How much of the answer survives when every head but a few is replaced by its dataset mean "
                "(top: mean ablation, bottom: random ablation), as heads are kept. Hover a point for the kept set.",
        chart=chart, prompts=list(DAY_PROMPTS),
    )


# --- in vitro: the post's steps --------------------------------------------------------------------------

STEPS = ("random", "zero", "fixed", "fed", "readout")
STEP_NAMES = {"random": "every earlier head random-ablated", "zero": "every earlier head zero-ablated",
              "fixed": "zero-ablated, attention fixed on the day", "fed": "only one MLP's output fed to the heads",
              "readout": "and a read-out MLP"}


def _cfg(ctx):
    return ctx.model.cfg.layer_norm_epsilon, ctx.model.cfg.activation_function


def vitro_setup(ctx) -> V.Setup:
    """The in-vitro circuit's components. On GPT-2 124M's shape the post's: MLP 0 → L9H1 + L10H3 → MLP 9.
    Elsewhere the heads the page follows, the MLP before their layer whose zero ablation hurts the output most
    (the post's reason for MLP 0) and the MLP at or after it that raises the correct day most through the lens
    (the post's reason for MLP 9)."""
    c = ctx.analysis(circuit_heads)
    heads = tuple(dict.fromkeys([c["successor"], c["copying"]]))
    if has_post_heads(ctx):
        return V.Setup(heads, 0, 9)
    e = ctx.analysis(mlp_effects)
    cut = min(l for l, _ in heads)
    feed = int(np.argmin(e["ablated"][:cut])) if cut > 0 else None
    return V.Setup(heads, feed, cut + int(np.argmax(e["local"][cut:])))


def _no_prompts(ctx) -> dict:
    """A task none of whose prompts this tokenizer keeps (tiny test models): empty results."""
    empty = np.zeros((0, ctx.dims.d_vocab))
    return {"logits": empty, "probs": np.zeros(0), "top": np.zeros(0, np.int64), "summed": empty, "attention": {}}


def run_step(ctx, kind: str, step: str, setup: V.Setup) -> dict:
    """One of the post's in-vitro steps through the engine on a task's prompts (`InVitro`, cut at the heads'
    layer; figgen.interventions for its bookkeeping):
      random   the heads read the stream of the model whose every head before the cut is random-ablated (its
               mean over the random-ablation dataset; MLPs run); their outputs alone summed and unembedded
      zero     the same with those heads zero-ablated (value-bias terms kept in b_O, as in TransformerLens)
      fixed    the same, the heads' attention from the final position fixed on the subject
      fed      only the output of MLP `setup.feed` (its layer's heads zero-ablated) fed to the heads, attention fixed
      readout  that, with MLP `setup.after` applied to the heads' summed outputs (s + MLP(LN2(s)))
    → logits (batch, d_vocab), correct probabilities, top-1 ids, the summed outputs and each head's attention
    from the final position to the subject."""
    t = ctx.analysis(prompts, kind)
    if not t["used"]:
        return _no_prompts(ctx)
    L, cut = ctx.dims.n_layers, setup.cut
    heads = [f"L{l}H{h}" for l, h in setup.heads]
    before = [f"mlp{l}" for l in range(cut)] if step in ("random", "zero", "fixed") else \
        [] if setup.feed is None else [f"mlp{setup.feed}"]
    edits = [iv.InVitro(frozenset(before + heads), cut=cut)]
    if step == "random":
        means = ctx.analysis(dataset_means)["random"]
        edits += [iv.ReplaceHead(l, h, means[l, :, h]) for l in range(cut) for h in range(ctx.dims.n_heads)]
    if step not in ("random", "zero"):
        edits += [iv.SetPattern(l, h, -1, t["subject"]) for l, h in setup.heads]
    keep = [f"blocks.{L - 1}.hook_resid_post", *{f"blocks.{l}.attn.hook_pattern" for l, _ in setup.heads}]
    out = iv.run(ctx.model, t["tokens"], edits=edits, keep=keep, final_only=True)
    eps, act = _cfg(ctx)
    summed = out[f"blocks.{L - 1}.hook_resid_post"][:, -1]  # (batch, d_model): the heads' outputs, x excluded
    logits = V.readout(summed, ctx.weights, setup.after if step == "readout" else None, eps, act)  # (batch, d_vocab)
    attention = {head_label(l, h): out[f"blocks.{l}.attn.hook_pattern"][:, h, -1, t["subject"]] for l, h in setup.heads}
    return {"logits": logits, "probs": C.correct_probs(logits, t["targets"]), "top": logits.argmax(-1),
            "summed": summed, "attention": attention}


def stream_at_cut(ctx, kind: str, feed: int | None) -> np.ndarray:
    """The stream the heads read at the subject position (batch, d_model) when only MLP `feed` is kept before
    them: the token and position embeddings, then (if any) layer `feed`'s b_O with its heads' value-bias
    terms and MLP `feed`'s output on that stream (the engine's InVitro; a test compares the two)."""
    t = ctx.analysis(prompts, kind)
    W = ctx.weights
    x = W["W_E"][t["tokens"][:, t["subject"]]].astype(np.float64) + W["W_pos"][t["subject"]]  # (batch, d_model)
    if feed is None:
        return x
    eps, act = _cfg(ctx)
    x = x + W[f"blocks.{feed}.attn.b_O"] + ctx.analysis(value_biases)[feed].sum(0)
    return x + V.mlp(x, W, feed, eps, act)


def setup_from_weights(ctx, kind: str, setup: V.Setup, readout: bool = True) -> dict:
    """`run_step(kind, "readout" or "fed", setup)` computed from the weights (`stream_at_cut`,
    `fixed_head_outputs`, `readout`): the months' and numbers' batches cost a few small matrix products."""
    t = ctx.analysis(prompts, kind)
    if not t["used"]:
        return _no_prompts(ctx)
    eps, act = _cfg(ctx)
    W = ctx.weights
    outs = V.fixed_head_outputs(stream_at_cut(ctx, kind, setup.feed), W, setup.heads, eps)
    logits = V.readout(V.summed_outputs(setup, outs), W, setup.after if readout else None, eps, act)
    return {"logits": logits, "probs": C.correct_probs(logits, t["targets"]), "top": logits.argmax(-1)}


def in_vitro(ctx) -> dict:
    """Every step of `run_step` on the day prompts, and the last step computed from the weights (the check)."""
    setup = ctx.analysis(vitro_setup)
    steps = {step: ctx.analysis(run_step, "day", step, setup) for step in STEPS}
    return {"setup": setup, "steps": steps, "weights": ctx.analysis(setup_from_weights, "day", setup)}


def _vitro_finding(setup: V.Setup, steps: dict, n: int) -> dict:
    """The page's opening finding: whether the circuit alone (its last step) does the task, in words. "Nearly
    the whole story" when it gets every prompt but at most one right."""
    names = [head_label(*h) for h in setup.heads] + [f"MLP {m}" for m in (setup.feed, setup.after) if m is not None]
    k = steps["readout"]["n_top1"]
    enough = k >= n - 1
    verb = "is" if len(names) == 1 else "are"
    return {"finding_enough": enough, "finding_parts": join_words(names),
            "finding_text": (f"{join_words(names)} {verb} nearly the whole story: with every other part of the model "
                             f"removed, they still give the correct day on {k} of {n} prompts" if enough else
                             f"{join_words(names)} alone fall short: with every other part of the model removed, "
                             f"they give the correct day on only {k} of {n} prompts")}


def _bars(rows: list[dict], order: list[str], title: str, n_label: str, height_per: int = 22):
    return alt.Chart(alt.Data(values=rows)).mark_bar(color=style.ATTENTION).encode(
        y=alt.Y("prompt:N", sort=order, title=None),
        x=alt.X("p:Q", title="probability of the correct answer", scale=alt.Scale(domain=[0, 1])),
        opacity=alt.condition("datum.right == 'yes'", alt.value(1.0), alt.value(0.45)),
        tooltip=[alt.Tooltip("prompt:N", title=n_label), alt.Tooltip("p:Q", format=".3f", title="probability"),
                 alt.Tooltip("top:N", title="top-1 token"), alt.Tooltip("right:N", title="top-1 correct")],
    ).properties(width=400, height=max(60, len(rows) * height_per), title=title)


def _summary(ctx, kind: str, run: dict) -> dict:
    t = ctx.analysis(prompts, kind)
    right = run["top"] == t["targets"]
    wrong = np.flatnonzero(~right)
    return {"probs": rounded(run["probs"]), "mean_prob": round(float(run["probs"].mean()), 4) if len(right) else 0.0,
            "n_top1": int(right.sum()), "n_prompts": len(right), "wrong": [t["items"][j] for j in wrong],
            "wrong_top": [ctx.token_str(int(run["top"][j])) for j in wrong],
            "wrong_pairs": [f"{t['items'][j]} → {ctx.token_str(int(run['top'][j]))}" for j in wrong],
            "wrong_text": _wrong_text([f"{t['items'][j]} (→ {ctx.token_str(int(run['top'][j]))})" for j in wrong])}


def _wrong_text(items: list[str], most: int = 6) -> str:
    """The wrong prompts in words: all of them when few, else the first `most` and how many more."""
    if not items:
        return "none"
    if len(items) <= most:
        return join_words(items)
    return ", ".join(items[:most]) + f" and {len(items) - most} more"


@figure("day-circuit.in-vitro", section="day-circuit", title="The circuit in vitro, step by step",
        caption="The correct-day probability of each in-vitro step, per prompt.", prompts=DAY_PROMPTS)
def in_vitro_figure(ctx) -> Figure:
    v = ctx.analysis(in_vitro)
    setup, steps = v["setup"], v["steps"]
    t = ctx.analysis(prompts, "day")
    n = len(t["used"])
    feed = "the embeddings" if setup.feed is None else f"MLP {setup.feed}"
    label = {"random": "random-ablated", "zero": "zero-ablated", "fixed": "attention fixed",
             "fed": f"{feed} alone", "readout": f"+ MLP {setup.after}"}
    rows = [{"step": label[s], "prompt": f"{DAYS[b][:3]} → {DAYS[(b + 1) % 7][:3]}", "p": round(float(steps[s]["probs"][j]), 4),
             "top": ctx.token_str(int(steps[s]["top"][j])),
             "right": "yes" if steps[s]["top"][j] == t["targets"][j] else "no"}
            for s in STEPS for j, b in enumerate(t["used"])]
    order = [label[s] for s in STEPS]
    chart = alt.Chart(alt.Data(values=rows)).mark_bar(color=style.ATTENTION).encode(
        x=alt.X("step:N", sort=order, title=None, axis=alt.Axis(labelAngle=-30)),
        xOffset=alt.XOffset("prompt:N", sort=[r["prompt"] for r in rows[:n]]),
        y=alt.Y("p:Q", title="P(correct day)", scale=alt.Scale(domain=[0, 1])),
        opacity=alt.condition("datum.right == 'yes'", alt.value(1.0), alt.value(0.4)),
        tooltip=[alt.Tooltip("step:N"), alt.Tooltip("prompt:N"), alt.Tooltip("p:Q", format=".3f", title="probability"),
                 alt.Tooltip("top:N", title="top-1 token"), alt.Tooltip("right:N", title="top-1 correct")],
    ).properties(width=520, height=200, title=alt.Title(f"{' + '.join(head_label(*h) for h in setup.heads)} in vitro",
                                                      subtitle="one bar per prompt, Monday first; faded: another top-1"))
    data = {s: {**_summary(ctx, "day", steps[s]), "name": STEP_NAMES[s], "label": label[s],
                "attention": {k: round(float(a.mean()), 4) for k, a in steps[s]["attention"].items()}} for s in STEPS}
    diff = float(np.abs(steps["readout"]["logits"] - v["weights"]["logits"]).max()) if n else 0.0
    return Figure(
        data={**data, **_vitro_finding(setup, data, n), "setup_text": setup.text(), "components": setup.components(),
              "feed": setup.feed, "after": setup.after, "cut": setup.cut, "heads": [head_label(*h) for h in setup.heads],
              "heads_text": join_words([head_label(*h) for h in setup.heads]), "post_setup": has_post_heads(ctx),
              "n_prompts": n, "engine_vs_weights": float(f"{diff:.2g}"),
              "note_text": (f"Here {join_words([head_label(*h) for h in setup.heads])} "
                            f"{'is' if len(setup.heads) == 1 else 'are'} in layer 0, so there is no earlier head to "
                            "ablate: the first two steps are the same setup." if setup.cut == 0 else ""),
              "steps_text": "; ".join(f"{label[s]}, {data[s]['n_top1']} of {n} right" for s in STEPS)},
        alt=f"Bar chart of the correct-day probability of each of the {n} day prompts at each in-vitro step of "
            f"{setup.text()}: " + "; ".join(f"{label[s]}, mean {data[s]['mean_prob']:.2f}, top-1 on "
                                            f"{data[s]['n_top1']}" for s in STEPS),
        caption=f"Taking context away step by step, left to right, until {join_words([head_label(*h) for h in setup.heads])} "
                f"{'reads' if len(setup.heads) == 1 else 'read'} only {feed}; the read-out MLP {setup.after} then "
                "does what the stream did. Faded: another top-1 token (hover for it).",
        chart=chart, prompts=list(DAY_PROMPTS),
    )


# --- months and numbers -----------------------------------------------------------------------------------


def generalisation(ctx) -> dict:
    """The in-vitro circuit (its last step) on the month and number prompts, the post's number setup (the feeding
    MLP and the successor head alone), and the full model on the numbers."""
    setup = ctx.analysis(vitro_setup)
    simple = V.Setup(setup.heads[:1], setup.feed, None)
    t = ctx.analysis(prompts, "number")
    full = iv.run(ctx.model, t["tokens"], final_only=True).logits[:, -1] if t["used"] else np.zeros((0, 1))
    return {"month": ctx.analysis(setup_from_weights, "month", setup),
            "number": ctx.analysis(setup_from_weights, "number", setup),
            "number_simple": ctx.analysis(setup_from_weights, "number", simple),
            "number_full": {"probs": C.correct_probs(full, t["targets"]) if t["used"] else np.zeros(0),
                            "top": full.argmax(-1)}, "simple": simple, "setup": setup}


@figure("day-circuit.generalisation", section="day-circuit", title="The same circuit on months and numbers",
        caption="The day circuit's components, unchanged, on the 12 month prompts and on numbers 1 to 100.",
        prompts=MONTH_PROMPTS + (NUMBER_PROMPTS[0], NUMBER_PROMPTS[-1]))
def generalisation_figure(ctx) -> Figure:
    g = ctx.analysis(generalisation)
    setup, simple = g["setup"], g["simple"]
    month = _summary(ctx, "month", g["month"])
    summaries = {k: _summary(ctx, "number", g[k]) for k in ("number", "number_simple", "number_full")}
    t = ctx.analysis(prompts, "month")
    rows = [{"prompt": f"{t['items'][j]} → {t['answers'][j]}", "p": round(float(g["month"]["probs"][j]), 4),
             "top": ctx.token_str(int(g["month"]["top"][j])),
             "right": "yes" if g["month"]["top"][j] == t["targets"][j] else "no"} for j in range(len(t["items"]))]
    months = _bars(rows, [x["prompt"] for x in rows], "Months: " + setup.text(), "prompt", height_per=17)
    tn = ctx.analysis(prompts, "number")
    names = {"number_full": "the whole model", "number": setup.text(), "number_simple": simple.text()}
    drawn = {k: v for k, v in names.items() if not (k == "number_simple" and simple == setup)}  # one line per setup
    num_rows = [{"n": int(tn["items"][j]), "p": round(float(g[k]["probs"][j]), 4), "setup": name,
                 "top": ctx.token_str(int(g[k]["top"][j])), "right": "yes" if g[k]["top"][j] == tn["targets"][j] else "no"}
                for k, name in drawn.items() for j in range(len(tn["items"]))]
    numbers = alt.Chart(alt.Data(values=num_rows)).mark_line(point=alt.OverlayMarkDef(size=18), strokeWidth=1.5).encode(
        x=alt.X("n:Q", title="n (the prompt's number)", scale=alt.Scale(domain=[0, max(NUMBERS) + 1])),
        y=alt.Y("p:Q", title="probability of n + 1", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("setup:N", title=None, scale=alt.Scale(scheme="tableau10"), sort=list(drawn.values()),
                        legend=alt.Legend(orient="bottom", direction="vertical", labelLimit=600)),
        tooltip=[alt.Tooltip("n:Q"), alt.Tooltip("setup:N"), alt.Tooltip("p:Q", format=".3f", title="probability"),
                 alt.Tooltip("top:N", title="top-1 token"), alt.Tooltip("right:N", title="top-1 correct")],
    ).properties(width=520, height=170, title="Numbers: “If the number is n, the next is”")
    up_to_ten = {k: round(float(np.mean([p for p, x in zip(g[k]["probs"], tn["items"]) if int(x) <= 10] or [0.0])), 4)
                 for k in names}
    return Figure(
        data={"setup_text": setup.text(), "simple_text": simple.text(), "month": month, **summaries,
              "month_template": TEMPLATES["month"], "number_template": TEMPLATES["number"],
              "n_numbers": len(tn["items"]), "max_number": max(NUMBERS), "mean_to_ten": up_to_ten,
              "simple_beats_full": [up_to_ten["number_full"], up_to_ten["number_simple"]]},
        alt=f"Bar chart of the correct next-month probability for {month['n_prompts']} month prompts run through "
            f"{setup.text()} (top-1 correct on {month['n_top1']}), and a line chart over n = 1..{max(NUMBERS)} of the "
            f"probability of n + 1 for the whole model (mean {summaries['number_full']['mean_prob']:.2f}), "
            f"{setup.text()} (mean {summaries['number']['mean_prob']:.2f}) and {simple.text()} (mean "
            f"{summaries['number_simple']['mean_prob']:.2f})",
        caption="The day circuit, unchanged, on months (top; faded: another top-1 token) and on numbers 1 to "
                f"{max(NUMBERS)} (bottom), against the whole model. Hover for the top-1 tokens.",
        chart=alt.vconcat(months, numbers), prompts=[*MONTH_PROMPTS, NUMBER_PROMPTS[0], NUMBER_PROMPTS[-1]],
    )


def _table_chart(table: np.ndarray, rows: list[str], cols: list[str], title: str, cell: int, labels: bool,
                 m: float, legend: bool, row_title: str, col_title: str, successor_outline: bool = True,
                 show_rows: bool = True):
    n = len(rows)
    data = [{"row": rows[i], "col": cols[j], "z": round(float(table[i, j]), 4), "shown": round(float(table[i, j]), 1) + 0.0,
             "next": "yes" if j == (i + 1) % len(cols) else "no"} for i in range(n) for j in range(len(cols))]
    base = alt.Chart(alt.Data(values=data)).encode(
        x=alt.X("col:N", sort=cols, title=col_title, axis=alt.Axis(labelAngle=-45)),
        y=alt.Y("row:N", sort=rows, title=row_title if show_rows else None,
                axis=alt.Axis() if show_rows else alt.Axis(labels=False, ticks=False)))
    chart = base.mark_rect().encode(
        color=alt.Color("z:Q", title="normalised logit",
                        scale=alt.Scale(range=style.vega_range("diverging"), domain=[-m, m], domainMid=0),
                        legend=alt.Legend(format="+.1f") if legend else None),
        tooltip=[alt.Tooltip("row:N", title=row_title), alt.Tooltip("col:N", title=col_title),
                 alt.Tooltip("z:Q", format="+.2f", title="normalised"), alt.Tooltip("next:N", title="the next one")])
    if labels:
        chart += cell_text(base, "z", "+.1f", "diverging", (-m, m)).encode(text=alt.Text("shown:Q", format="+.1f"))
    if successor_outline:
        chart += base.transform_filter("datum.next == 'yes'").mark_rect(fill=None, stroke=style.OPERATION, strokeWidth=2)
    return chart.properties(width=len(cols) * cell, height=n * cell, title=title)


def month_lens(ctx) -> dict:
    """Every head's output at the final position of the (whole-model) month prompts, read as the post reads a
    head (figgen.figures.day_task's "own" reading), at the 12 month tokens: each head's count of prompts whose
    next month ranks first (layer, head), and the successor head's table normalised per prompt."""
    t = ctx.analysis(prompts, "month")
    l, h = ctx.analysis(circuit_heads)["successor"]
    L, H = ctx.dims.n_layers, ctx.dims.n_heads
    if not t["used"]:
        return {"table": np.zeros((0, 12)), "scores": np.zeros((L, H), int), "used": []}
    names = [f"blocks.{k}.attn.hook_result" for k in range(L)]
    out = iv.run(ctx.model, t["tokens"], keep=names, final_only=True)
    res = processed_results(np.stack([out[k][:, -1] for k in names]), ctx.analysis(value_biases)[:, None])  # (L, b, H, d)
    month_ids = [ctx.tokenizer.encode(" " + m)[0] for m in MONTHS]
    W, eps = ctx.weights, ctx.model.cfg.layer_norm_epsilon
    logits = C.lens_logits(res, W["ln_final.w"], W["ln_final.b"], W["W_U"][:, month_ids], eps).transpose(0, 2, 1, 3)
    correct = [(i + 1) % 12 for i in t["used"]]
    return {"table": C.day_distribution(logits[l, h]), "scores": C.successor_scores(logits, correct), "used": t["used"]}


@figure("day-circuit.month-distribution", section="day-circuit", title="Which head ranks the next month first",
        caption="The successor head's logits of the 12 month tokens, per month prompt, normalised.",
        prompts=MONTH_PROMPTS)
def month_distribution_figure(ctx) -> Figure:
    d = ctx.analysis(month_lens)
    table, used, scores = d["table"], d["used"], d["scores"]
    l, h = ctx.analysis(circuit_heads)["successor"]
    label = head_label(l, h)
    m = round(max(float(np.abs(table).max(initial=0.0)), 1e-3), 2)
    rows = [f"{MONTHS[i]} → {MONTHS[(i + 1) % 12][:3]}" for i in used]
    chart = _table_chart(table, rows, list(MONTHS), f"{label}: month logits, normalised per prompt", 24, False, m,
                         True, "prompt", "month token")
    correct = np.array([table[j, (i + 1) % 12] for j, i in enumerate(used)] or [0.0])
    subject = np.array([table[j, i] for j, i in enumerate(used)] or [0.0])
    n = len(used)
    ranked = sorted(((int(scores[a, b]), head_label(a, b)) for a in range(len(scores)) for b in range(len(scores[0]))),
                    key=lambda x: -x[0])
    every = [name for s, name in ranked if s == n and n]
    but_one = [name for s, name in ranked if s >= n - 1 and n]
    return Figure(
        data={"head": label, "score": int(scores[l, h]), "n_prompts": n, "table": rounded(table),
              "scores": scores.astype(int).tolist(), "all_months": every, "all_but_one": but_one,
              "all_months_text": join_words(every) or "no head", "all_but_one_text": join_words(but_one) or "no head",
              "best": ranked[0][1], "best_score": ranked[0][0],
              "correct_mean": round(float(correct.mean()), 4), "subject_mean": round(float(subject.mean()), 4)},
        alt=f"{n} by 12 table of {label}'s month-token logits normalised per prompt; it ranks the next month first on "
            f"{int(scores[l, h])} of {n} prompts; heads that do on all: {join_words(every) or 'none'}; on all but one: "
            f"{join_words(but_one) or 'none'}",
        caption=f"Does {label} push the next month, as it pushes the next day? Its twelve month logits per prompt, "
                "normalised; outlined: the next month.",
        chart=chart, prompts=list(MONTH_PROMPTS),
    )


# --- the successor head's OV circuit -----------------------------------------------------------------------


def ov_tables(ctx) -> dict:
    """The successor head's OV circuit on the day and month tokens: for each source token at the subject position,
    the stream the in-vitro heads read — with and without the circuit's feeding MLP — through LN1 (centred,
    times γ₁, no β₁), W_V and W_O (no b_V: TransformerLens folds LN and value biases out of the head, as the
    post's matrix W), then read scale-free at the day (month) tokens and normalised per row."""
    l, h = ctx.analysis(circuit_heads)["successor"]
    setup = ctx.analysis(vitro_setup)
    W = ctx.weights
    feeds = [None] if setup.feed is None else [None, setup.feed]
    W_OV = np.asarray(W[f"blocks.{l}.attn.W_V"][h], np.float64) @ np.asarray(W[f"blocks.{l}.attn.W_O"][h], np.float64)
    out = {}
    for kind, items in (("day", DAYS), ("month", MONTHS)):
        t = ctx.analysis(prompts, kind)
        ids = [ctx.tokenizer.encode(" " + s)[0] for s in items]
        for feed in feeds:
            if not t["used"]:  # no prompt of this kind kept by this tokenizer (tiny test models)
                out[(kind, feed)] = {"table": np.zeros((0, len(items))), "used": [], "n_successor": 0, "n_copy": 0,
                                     "profile": None}
                continue
            x = stream_at_cut(ctx, kind, feed)  # (batch, d_model)
            x = x - x.mean(-1, keepdims=True)
            ov = (x * W[f"blocks.{l}.ln1.w"]) @ W_OV  # (batch, d_model)
            logits = V.scale_free_logits(ov, W["ln_final.w"], np.asarray(W["W_U"])[:, ids])  # (batch, n)
            table = C.day_distribution(logits)
            n = len(items)
            full = np.full((n, n), np.nan)
            full[t["used"]] = table
            arg = logits.argmax(-1)
            used = np.array(t["used"])
            out[(kind, feed)] = {"table": table, "used": t["used"],
                                 "n_successor": int((arg == (used + 1) % n).sum()), "n_copy": int((arg == used).sum()),
                                 "profile": V.offset_profile(full[~np.isnan(full).any(1)]) if len(used) == n else None}
    return {"tables": out, "feeds": feeds, "head": (l, h)}


def _ov_verdict(r: dict, n: int, what: str) -> str:
    if n == 0:
        return f"no {what} prompt tokenizes to single tokens with this tokenizer"
    if r["n_successor"] == n:
        return f"every {what} maps to the next one"
    if r["n_copy"] > r["n_successor"]:
        return f"it mostly copies: the {what} itself ranks first for {r['n_copy']} of {n}, the next one for {r['n_successor']}"
    return f"the next {what} ranks first for {r['n_successor']} of {n} (the {what} itself for {r['n_copy']})"


@figure("day-circuit.successor-ov", section="day-circuit", title="The successor head's OV circuit on days and months",
        caption="What the successor head writes for each day (month) token, read at the day (month) tokens.",
        prompts=DAY_PROMPTS + MONTH_PROMPTS)
def successor_ov_figure(ctx) -> Figure:
    o = ctx.analysis(ov_tables)
    l, h = o["head"]
    label = head_label(l, h)
    feeds = o["feeds"]
    m = round(max(max(float(np.abs(v["table"]).max(initial=0.0)) for v in o["tables"].values()), 1e-3), 2)
    data, panels = {}, []
    two = len(feeds) > 1
    for kind, items, cell in (("day", DAYS, 26 if two else 30), ("month", MONTHS, 16 if two else 18)):
        row = []
        for i, feed in enumerate(feeds):
            r = o["tables"][(kind, feed)]
            names = [items[j] for j in r["used"]]
            short = [s[:3] for s in items]
            name = "embedding" if feed is None else f"MLP {feed}"
            title = f"{kind}s, from the {'embedding' if feed is None else f'embedding + MLP {feed}'}"
            row.append(_table_chart(r["table"], [s[:3] if kind == "month" else s for s in names],
                                    short if kind == "month" else list(items), title, cell, kind == "day" and len(feeds) == 1,
                                    m, kind == "day" and i == 0, "source token", f"{kind} token", show_rows=i == 0))
            key = f"{kind}_{'embed' if feed is None else 'feed'}"
            data[key] = {"n_successor": r["n_successor"], "n_copy": r["n_copy"], "n": len(r["used"]), "input": name,
                         "verdict": _ov_verdict(r, len(r["used"]), kind),
                         "profile": None if r["profile"] is None else rounded(r["profile"]),
                         "successor_z": None if r["profile"] is None else round(float(r["profile"][1]), 4),
                         "copy_z": None if r["profile"] is None else round(float(r["profile"][0]), 4),
                         "table": rounded(r["table"])}
        panels.append(alt.hconcat(*row) if len(row) > 1 else row[0])
    # one table per kind (no feeding MLP): days and months side by side fit the column; else a row per kind
    chart = (alt.hconcat if len(feeds) == 1 else alt.vconcat)(*panels).resolve_scale(color="shared")
    main = "feed" if len(feeds) > 1 else "embed"
    return Figure(
        data={**data, "head": label, "main": main, "has_feed": len(feeds) > 1, "feed": feeds[-1],
              "input_text": (f"the token and position embeddings plus MLP {feeds[-1]}'s output, as the in-vitro circuit "
                             "feeds the head (the left-hand panels: the embeddings alone)") if len(feeds) > 1 else
                            "the token and position embeddings (this model's circuit has no MLP before the head)",
              "day": data[f"day_{main}"], "month": data[f"month_{main}"]},
        alt=f"Heatmaps of {label}'s OV circuit: for each day token (rows) what it writes, read at the 7 day tokens "
            f"(columns), normalised per row; then the same for the 12 months. Days: {data[f'day_{main}']['verdict']}; "
            f"months: {data[f'month_{main}']['verdict']}",
        caption=f"Does {label}'s value-output map turn each day (month) into the next? Each row: what it writes for one "
                "day or month token, read at the days (months), normalised per row"
                + (" (left: from the embeddings alone; right: with the feeding MLP, as in vitro)" if len(feeds) > 1 else "")
                + ". Outlined: the next one.",
        chart=chart, prompts=[*DAY_PROMPTS, *MONTH_PROMPTS],
    )
