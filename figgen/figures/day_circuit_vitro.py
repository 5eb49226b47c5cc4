"""The day-of-week circuit in vitro (seed 002, Gould et al.): the smallest setup of the model's own components
that solves the task, its generalisation to months and numbers, and the successor head's OV circuit.

Figures, in the order of the page (section "day-circuit", after the in-vivo figures):
- `day-circuit.in-vitro`: the search for the smallest setup in the seed's form (a feeding MLP → the successor
  head and at most one copying head, attention fixed on the subject, the stream they read not added back →
  a read-out MLP → unembedding) and the chosen setup's correct-day probabilities;
- `day-circuit.generalisation`: the same components on the 12 month prompts and on numbers 1..100;
- `day-circuit.month-distribution`: the successor head's 12 × 12 month table (the page's 7 × 7 day table,
  for months);
- `day-circuit.successor-ov`: what the successor head writes for each day (month) token through W_V W_O,
  read at the day (month) tokens.
Forward passes go through figgen.interventions; the arithmetic is figgen.analysis.circuit and
figgen.analysis.circuit_vitro. Section modules never import each other: the prompts are rebuilt here.
"""

from __future__ import annotations

import altair as alt
import numpy as np

from .. import interventions as iv
from ..analysis import circuit as C
from ..analysis import circuit_vitro as V
from . import style
from .labels import cell_text, head_label, join_words, rounded
from .registry import Figure, figure

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
# Templates: the day template is the seed's; the month template puts the month at position 5 (BOS = 0), where
# the seed fixes attention for months; the seed's number template did not survive in its text (only that
# the number is its 2nd token after BOS), so numbers use mini's trained template for every model.
TEMPLATES = {"day": "If today is {}, tomorrow is", "month": "If this month is {}, next month is",
             "number": "If the number is {}, the next is"}
NUMBERS = tuple(range(1, 101))  # the seed's n = 1..100 (mini was trained on 1..50)
DAY_PROMPTS = tuple(TEMPLATES["day"].format(d) for d in DAYS)
MONTH_PROMPTS = tuple(TEMPLATES["month"].format(m) for m in MONTHS)
NUMBER_PROMPTS = tuple(TEMPLATES["number"].format(n) for n in NUMBERS)
N_COPY = 3  # copying-head candidates tried with the successor head


def prompts(ctx, kind: str) -> dict:
    """The prompts of one task as a batch: tokens (n, pos), the subject position, each prompt's subject and
    correct token ids. Prompts whose subject or answer is not one token, or that tokenize to another
    length than the most common one (tiny test tokenizers), are left out (`used`: indices kept)."""
    items = {"day": DAYS, "month": MONTHS, "number": [str(n) for n in NUMBERS]}[kind]
    nxt = {"day": lambda i: DAYS[(i + 1) % 7], "month": lambda i: MONTHS[(i + 1) % 12],
           "number": lambda i: str(NUMBERS[i] + 1)}[kind]
    tok = ctx.tokenizer
    one = [i for i, s in enumerate(items) if len(tok.encode(" " + s)) == 1 and len(tok.encode(" " + nxt(i))) == 1]
    texts = [TEMPLATES[kind].format(s) for s in items]
    lengths = {i: iv.tokenize_batch(ctx.model, [texts[i]]).shape[1] for i in one}
    common = max(set(lengths.values()), key=lambda n: (list(lengths.values()).count(n), -n)) if lengths else 0
    used = [i for i in one if lengths[i] == common]
    prefix = TEMPLATES[kind].split("{}")[0].rstrip()
    subject = iv.tokenize_batch(ctx.model, [prefix]).shape[1]  # BOS + the tokens before the subject
    tokens = iv.tokenize_batch(ctx.model, [texts[i] for i in used]) if used else np.zeros((0, 0), np.int64)
    return {"tokens": tokens, "subject": subject, "used": used, "items": [items[i] for i in used],
            "subject_ids": np.array([tok.encode(" " + items[i])[0] for i in used]),
            "targets": np.array([tok.encode(" " + nxt(i))[0] for i in used]),
            "answers": [nxt(i) for i in used]}


def heads_lens(ctx) -> dict:
    """The in-vivo head lens on the day prompts: every head's output at the final position, value bias folded
    (TransformerLens's convention, the seed's): the successor search's scores and the subject-day probability."""
    t = ctx.analysis(prompts, "day")
    L = ctx.dims.n_layers
    names = [f"blocks.{l}.attn.hook_result" for l in range(L)]
    out = iv.run(ctx.model, t["tokens"], keep=names, final_only=True)
    W = ctx.weights
    vb = np.stack([np.einsum("he,hed->hd", W[f"blocks.{l}.attn.b_V"], W[f"blocks.{l}.attn.W_O"])
                   for l in range(L)])  # (layer, head, d_model)
    results = np.stack([out[n][:, -1] for n in names])  # (layer, batch, head, d_model)
    day_ids = [ctx.tokenizer.encode(" " + d)[0] for d in DAYS]
    correct = [(i + 1) % 7 for i in t["used"]]
    W_days = W["W_U"][:, day_ids]  # (d_model, 7): sliced first, so no d_vocab-wide float64 copy is made
    folded = C.head_day_logits(results, W["ln_final.w"], W_days, range(7), value_bias=vb)  # (layer, head, b, 7)
    raw = C.head_day_logits(results, W["ln_final.w"], W_days, range(7))
    return {"results": results, "value_bias": vb, "scores": C.successor_scores(folded, correct),
            "scores_raw": C.successor_scores(raw, correct), "day_ids": day_ids}


def successor_head(ctx) -> tuple[int, int]:
    """The head the successor search names: most prompts with the correct day first (value bias folded),
    ties broken by the unfolded score, then by the lowest layer and head."""
    h = ctx.analysis(heads_lens)
    L, H = h["scores"].shape
    return max(((l, k) for l in range(L) for k in range(H)),
               key=lambda p: (h["scores"][p], h["scores_raw"][p], -p[0], -p[1]))


def copy_candidates(ctx) -> dict:
    """Heads in the successor head's layer or later, ranked by their mean probability of the prompt's own day
    under the per-head logit lens (output alone through the final LayerNorm and W_U, value bias folded)."""
    t = ctx.analysis(prompts, "day")
    h = ctx.analysis(heads_lens)
    s = ctx.analysis(successor_head)
    W, H = ctx.weights, ctx.dims.n_heads
    layers = range(s[0], ctx.dims.n_layers)
    heads = [(l, k) for l in layers for k in range(H) if (l, k) != s]
    vec = np.stack([h["results"][l, :, k] - h["value_bias"][l, k] for l, k in heads])  # (heads, batch, d_model)
    n = vec.shape[1]
    probs = V.lens_probs(vec.reshape(-1, vec.shape[-1]), W["ln_final.w"], W["ln_final.b"], W["W_U"],
                         t["subject_ids"], ctx.model.cfg.layer_norm_epsilon).reshape(len(heads), n, n)
    subject = np.array([np.diagonal(p).mean() for p in probs])  # (heads,)
    order = np.argsort(-subject, kind="stable")
    return {"heads": [heads[i] for i in order[:N_COPY]], "probs": [float(subject[i]) for i in order[:N_COPY]]}


def _cfg(ctx):
    return ctx.model.cfg.layer_norm_epsilon, ctx.model.cfg.activation_function


def bare_streams(ctx, kind: str) -> np.ndarray:
    """What an InVitro run with no component has as every layer's resid_pre at the subject position,
    (layer, batch, d_model) = token + position embedding + Σ b_O of the layers before (a test compares it
    with the engine's run)."""
    t = ctx.analysis(prompts, kind)
    W = ctx.weights
    e = W["W_E"][t["tokens"][:, t["subject"]]].astype(np.float64) + W["W_pos"][t["subject"]]  # (batch, d_model)
    b = np.cumsum([np.zeros(ctx.dims.d_model)] + [W[f"blocks.{l}.attn.b_O"] for l in range(ctx.dims.n_layers - 1)], 0)
    return e[None] + b[:, None]  # (layer, batch, d_model)


def stream_at_cut(ctx, kind: str, feed: int | None, cut: int) -> np.ndarray:
    """The stream the heads read at the subject position (batch, d_model), as an InVitro run keeping only MLP
    `feed` gives `blocks.{cut}.hook_resid_pre`: embedding + Σ b_O[< cut] + MLP feed's output, where MLP feed
    reads its layer's resid_mid (embedding + Σ b_O[≤ feed]). From `bare_streams` (one run) and the MLP in
    numpy (a test compares it with the engine's run)."""
    x = ctx.analysis(bare_streams, kind)
    if feed is None:
        return x[cut]
    eps, act = _cfg(ctx)
    W = ctx.weights
    return x[cut] + V.mlp(x[feed] + W[f"blocks.{feed}.attn.b_O"], W, feed, eps, act)


def _no_prompts(ctx) -> dict:
    """A task none of whose prompts this tokenizer keeps (tiny test models): empty results."""
    empty = np.zeros((0, ctx.dims.d_vocab))
    return {"logits": empty, "probs": np.zeros(0), "top": np.zeros(0, np.int64), "summed": empty, "heads": {}}


def run_setup(ctx, kind: str, setup: V.Setup) -> dict:
    """The setup through the engine on a task's prompts: InVitro(feed + heads, cut) with each head's attention
    from the final position one-hot on the subject; the summed outputs (the last layer's resid_post, which
    in vitro excludes the stream at the cut) then through the read-out MLP and the unembedding (numpy).
    → logits (batch, d_vocab), correct probabilities, top-1 ids, each head's output."""
    t = ctx.analysis(prompts, kind)
    if not t["used"]:
        return _no_prompts(ctx)
    L = ctx.dims.n_layers
    comps = frozenset(c for c in setup.components() if setup.after is None or c != f"mlp{setup.after}")
    edits = [iv.InVitro(comps, cut=setup.cut), *(iv.SetPattern(l, h, -1, t["subject"]) for l, h in setup.heads)]
    keep = [f"blocks.{L - 1}.hook_resid_post", *{f"blocks.{l}.attn.hook_result" for l, _ in setup.heads}]
    out = iv.run(ctx.model, t["tokens"], edits=edits, keep=keep, final_only=True)
    eps, act = _cfg(ctx)
    summed = out[f"blocks.{L - 1}.hook_resid_post"][:, -1]  # (batch, d_model)
    logits = V.readout(summed, ctx.weights, setup.after, eps, act)  # (batch, d_vocab)
    return {"logits": logits, "probs": C.correct_probs(logits, t["targets"]), "top": logits.argmax(-1),
            "summed": summed,
            "heads": {hd: out[f"blocks.{hd[0]}.attn.hook_result"][:, -1, hd[1]] for hd in setup.heads}}


def setup_from_weights(ctx, kind: str, setup: V.Setup) -> dict:
    """The same as `run_setup`, computed from the weights (`stream_at_cut`, `fixed_head_outputs`, `readout`):
    the months' and numbers' batches cost a few small matrix products instead of full forward passes."""
    t = ctx.analysis(prompts, kind)
    if not t["used"]:
        return _no_prompts(ctx)
    eps, act = _cfg(ctx)
    W = ctx.weights
    outs = V.fixed_head_outputs(stream_at_cut(ctx, kind, setup.feed, setup.cut), W, setup.heads, eps)
    logits = V.readout(V.summed_outputs(setup, outs, W, ctx.dims.n_layers), W, setup.after, eps, act)
    return {"logits": logits, "probs": C.correct_probs(logits, t["targets"]), "top": logits.argmax(-1)}


def vitro_search(ctx) -> dict:
    """The search: every setup of the seed's form from the successor head, the copying candidates and the MLPs,
    smallest first, evaluated from the weights (`circuit_vitro.fixed_head_outputs`, `readout`) on the
    streams an engine run gives for each feeding MLP; the chosen setup is then run through the engine."""
    t = ctx.analysis(prompts, "day")
    s = ctx.analysis(successor_head)
    cands = ctx.analysis(copy_candidates)["heads"]
    L, W = ctx.dims.n_layers, ctx.weights
    eps, act = _cfg(ctx)
    cut = s[0]
    heads = [s, *cands]
    outputs = {feed: V.fixed_head_outputs(stream_at_cut(ctx, "day", feed, cut), W, heads, eps)
               for feed in [None, *range(cut)]}

    def evaluate(setup):
        return V.readout(V.summed_outputs(setup, outputs[setup.feed], W, L), W, setup.after, eps, act)

    result = V.search(V.candidate_setups(s, cands, L), evaluate, t["targets"])
    chosen = result.chosen
    engine = ctx.analysis(run_setup, "day", chosen)
    return {"result": result, "engine": engine, "numpy_logits": evaluate(chosen), "successor": s, "copy": cands}


# --- figures -----------------------------------------------------------------------------------------


def _bars(rows: list[dict], order: list[str], title: str, n_label: str, height_per: int = 22):
    return alt.Chart(alt.Data(values=rows)).mark_bar(color=style.ATTENTION).encode(
        y=alt.Y("prompt:N", sort=order, title=None),
        x=alt.X("p:Q", title="probability of the correct answer", scale=alt.Scale(domain=[0, 1])),
        opacity=alt.condition("datum.right == 'yes'", alt.value(1.0), alt.value(0.45)),
        tooltip=[alt.Tooltip("prompt:N", title=n_label), alt.Tooltip("p:Q", format=".3f", title="probability"),
                 alt.Tooltip("top:N", title="top-1 token"), alt.Tooltip("right:N", title="top-1 correct")],
    ).properties(width=400, height=max(60, len(rows) * height_per), title=title)


def _task_rows(ctx, kind: str, run: dict, label) -> list[dict]:
    t = ctx.analysis(prompts, kind)
    return [{"prompt": label(t["items"][j], t["answers"][j]), "p": round(float(run["probs"][j]), 4),
             "top": ctx.token_str(int(run["top"][j])), "right": "yes" if run["top"][j] == t["targets"][j] else "no"}
            for j in range(len(t["items"]))]


@figure("day-circuit.in-vitro", section="day-circuit", title="The smallest circuit, in vitro",
        caption="The correct-day probability of the smallest setup found, per prompt.", prompts=DAY_PROMPTS)
def in_vitro_figure(ctx) -> Figure:
    v = ctx.analysis(vitro_search)
    r, engine = v["result"], v["engine"]
    chosen = r.chosen
    t = ctx.analysis(prompts, "day")
    n = len(t["used"])
    rows = _task_rows(ctx, "day", engine, lambda a, b: f"{a} → {b}")
    top1 = int(sum(x["right"] == "yes" for x in rows))
    # the chosen setup without its read-out MLP (the seed's step before adding MLP 9)
    bare = V.Setup(chosen.heads, chosen.feed, None)
    bare_run = ctx.analysis(run_setup, "day", bare) if chosen.after is not None else engine
    bare_rows = _task_rows(ctx, "day", bare_run, lambda a, b: a)
    bare_wrong = [x["prompt"] for x in bare_rows if x["right"] == "no"]
    sizes = sorted(r.best_by_size)
    size_rows = [{"size": f"{k} component{'s' if k > 1 else ''}", "n": int(r.best_by_size[k][1]),
                  "setup": r.best_by_size[k][0].text(), "p": round(r.best_by_size[k][2], 4),
                  "tried": sum(1 for s, _, _ in r.tried if s.size == k)} for k in sizes]
    top = _bars(rows, [x["prompt"] for x in rows], f"{chosen.text()}", "prompt")
    best = alt.Chart(alt.Data(values=size_rows)).mark_bar(color=style.PARAMETER).encode(
        y=alt.Y("size:N", sort=[x["size"] for x in size_rows], title="setup size"),
        x=alt.X("n:Q", title=f"prompts with the correct day top-1 (of {n})", scale=alt.Scale(domain=[0, n]),
                axis=alt.Axis(tickMinStep=1, format="d")),
        tooltip=[alt.Tooltip("size:N"), alt.Tooltip("setup:N", title="best setup"), alt.Tooltip("n:Q", title="top-1 correct"),
                 alt.Tooltip("p:Q", format=".3f", title="mean correct probability"),
                 alt.Tooltip("tried:Q", title="setups tried")],
    ).properties(width=400, height=max(50, 26 * len(size_rows)), title="Best setup of each size")
    chart = alt.vconcat(top, best)
    components = chosen.components()
    diff = float(np.abs(engine["logits"] - v["numpy_logits"]).max())
    verdict = (f"the smallest setup with the correct day top-1 on all {n} prompts has {chosen.size} "
               f"component{'s' if chosen.size > 1 else ''}: {chosen.text()}" if r.solved else
               f"no setup tried gets all {n} prompts; the best, {chosen.text()}, gets {top1}")
    copy = ctx.analysis(copy_candidates)
    others = [head_label(*hd) for hd in chosen.heads if hd != v["successor"]]
    roles = [
        (f"MLP {chosen.feed}'s output joins the stream the heads read" if chosen.feed is not None else
         "no MLP feeds the heads" + (" (the successor head is in layer 0: there is no earlier MLP to try)"
                                     if chosen.cut == 0 else "")),
        (f"{join_words(others)} works beside the successor head" if others else "no second head was needed"),
        (f"MLP {chosen.after} reads the heads' summed outputs" if chosen.after is not None else
         "no MLP reads the heads' sum")]
    return Figure(
        data={"components": components, "setup_text": chosen.text(), "size": chosen.size, "solved": r.solved,
              "successor": head_label(*v["successor"]), "copy_candidates": [head_label(*h) for h in v["copy"]],
              "copy_candidates_text": join_words([f"{head_label(*h)} ({p:.1%})" for h, p in zip(copy["heads"], copy["probs"])]),
              "n_copy": N_COPY, "cut": chosen.cut, "feed": chosen.feed, "after": chosen.after,
              "probs": rounded(engine["probs"]), "mean_prob": round(float(engine["probs"].mean()), 4),
              "min_prob": round(float(engine["probs"].min()), 4), "n_top1": top1, "n_prompts": n,
              "top": [x["top"] for x in rows], "n_tried": len(r.tried), "verdict": verdict,
              "best_by_size": {str(k): {"setup": r.best_by_size[k][0].text(), "n_top1": int(r.best_by_size[k][1]),
                                        "mean_prob": round(r.best_by_size[k][2], 4)} for k in sizes},
              "without_after": {"setup": bare.text(), "n_top1": n - len(bare_wrong), "wrong": bare_wrong,
                                "wrong_text": join_words(bare_wrong) or "none",
                                "mean_prob": round(float(bare_run["probs"].mean()), 4)},
              "engine_vs_weights": float(f"{diff:.2g}"), "roles_text": "; ".join(roles)},
        alt=f"Two bar charts. Top: the correct-day probability of each of the {n} day prompts for the setup "
            f"{chosen.text()}, from {engine['probs'].min():.2f} to {engine['probs'].max():.2f}, correct top-1 on {top1}. "
            "Bottom: the most prompts the best setup of each size gets right: "
            + "; ".join(f"{x['size']}: {x['n']}" for x in size_rows),
        caption=f"Top: {chosen.text()}, every head's attention from the last position fixed on the day token, the "
                "stream the heads read not added back: the probability of the correct next day per prompt (faded "
                f"bars: the top-1 token is another). Bottom: the {len(r.tried)} setups tried, by size (the best of "
                "each); the search stops at the first size that gets every prompt. Hover a bar for the top-1 token "
                "or the setup.",
        chart=chart, prompts=list(DAY_PROMPTS),
    )


def generalisation(ctx) -> dict:
    """The chosen day setup on the month and number prompts, and the seed's number setup: the feeding MLP and
    the successor head alone."""
    chosen = ctx.analysis(vitro_search)["result"].chosen
    s = ctx.analysis(successor_head)
    simple = V.Setup((s,), chosen.feed, None)
    return {"month": ctx.analysis(setup_from_weights, "month", chosen),
            "number": ctx.analysis(setup_from_weights, "number", chosen),
            "number_simple": ctx.analysis(setup_from_weights, "number", simple), "simple": simple, "chosen": chosen}


def _summary(ctx, kind: str, run: dict) -> dict:
    t = ctx.analysis(prompts, kind)
    right = run["top"] == t["targets"]
    wrong = [t["items"][j] for j in np.flatnonzero(~right)]
    return {"probs": rounded(run["probs"]), "mean_prob": round(float(run["probs"].mean()), 4) if len(right) else 0.0,
            "n_top1": int(right.sum()), "n_prompts": len(right), "wrong": wrong,
            "wrong_top": [ctx.token_str(int(run["top"][j])) for j in np.flatnonzero(~right)],
            "wrong_pairs": [f"{t['items'][j]} → {ctx.token_str(int(run['top'][j]))}" for j in np.flatnonzero(~right)],
            "wrong_text": _wrong_text([f"{w} (→ {ctx.token_str(int(run['top'][j]))})"
                                       for w, j in zip(wrong, np.flatnonzero(~right))])}


def _wrong_text(items: list[str], most: int = 6) -> str:
    """The wrong prompts in words: all of them when few, else the first `most` and how many more."""
    if not items:
        return "none"
    if len(items) <= most:
        return join_words(items)
    return ", ".join(items[:most]) + f" and {len(items) - most} more"


@figure("day-circuit.generalisation", section="day-circuit", title="The same circuit on months and numbers",
        caption="The day circuit's components, unchanged, on the 12 month prompts and on numbers 1 to 100.",
        prompts=MONTH_PROMPTS + (NUMBER_PROMPTS[0], NUMBER_PROMPTS[-1]))
def generalisation_figure(ctx) -> Figure:
    g = ctx.analysis(generalisation)
    chosen, simple = g["chosen"], g["simple"]
    month = _summary(ctx, "month", g["month"])
    number = _summary(ctx, "number", g["number"])
    number_simple = _summary(ctx, "number", g["number_simple"])
    rows = _task_rows(ctx, "month", g["month"], lambda a, b: f"{a} → {b}")
    months = _bars(rows, [x["prompt"] for x in rows], "Months: " + chosen.text(), "prompt", height_per=20)
    tn = ctx.analysis(prompts, "number")
    num_rows = []
    for name, run in ((chosen.text(), g["number"]), (simple.text(), g["number_simple"])):
        num_rows += [{"n": int(tn["items"][j]), "p": round(float(run["probs"][j]), 4), "setup": name,
                      "top": ctx.token_str(int(run["top"][j])), "right": "yes" if run["top"][j] == tn["targets"][j] else "no"}
                     for j in range(len(tn["items"]))]
    same = chosen == simple
    numbers = alt.Chart(alt.Data(values=num_rows)).mark_line(point=alt.OverlayMarkDef(size=18), strokeWidth=1.5).encode(
        x=alt.X("n:Q", title="n (the prompt's number)", scale=alt.Scale(domain=[0, max(NUMBERS) + 1])),
        y=alt.Y("p:Q", title="probability of n + 1", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("setup:N", title=None, scale=alt.Scale(scheme="tableau10"),
                        legend=alt.Legend(orient="bottom", direction="vertical", labelLimit=600)),
        tooltip=[alt.Tooltip("n:Q"), alt.Tooltip("setup:N"), alt.Tooltip("p:Q", format=".3f", title="probability"),
                 alt.Tooltip("top:N", title="top-1 token"), alt.Tooltip("right:N", title="top-1 correct")],
    ).properties(width=520, height=200, title="Numbers: “If the number is n, the next is”")
    if same:
        numbers = numbers.transform_filter(alt.datum.setup == chosen.text())
    chart = alt.vconcat(months, numbers)
    return Figure(
        data={"setup_text": chosen.text(), "simple_text": simple.text(), "simple_is_day_setup": same,
              "month": month, "number": number, "number_simple": number_simple,
              "month_template": TEMPLATES["month"], "number_template": TEMPLATES["number"],
              "n_numbers": len(tn["items"]), "max_number": max(NUMBERS)},
        alt=f"Bar chart of the correct next-month probability for {month['n_prompts']} month prompts run through "
            f"{chosen.text()} (top-1 correct on {month['n_top1']}), and a line chart over n = 1..{max(NUMBERS)} of "
            f"the probability of n + 1: the day setup gets {number['n_top1']} of {number['n_prompts']} top-1, mean "
            f"{number['mean_prob']:.2f}; {simple.text()} gets {number_simple['n_top1']}, mean {number_simple['mean_prob']:.2f}",
        caption=f"Top: the month prompts “{TEMPLATES['month'].format('<Month>')}” through the day circuit's "
                "components, attention fixed on the month token (faded bars: the top-1 token is another). Bottom: "
                f"“{TEMPLATES['number'].format('n')}” for n = 1..{max(NUMBERS)}, attention fixed on the number, "
                "through the day circuit and through its feeding MLP and successor head alone. Hover for top-1 tokens.",
        chart=chart, prompts=[*MONTH_PROMPTS, NUMBER_PROMPTS[0], NUMBER_PROMPTS[-1]],
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
    """The successor head's output at the final position of the (clean) month prompts, read as logits of the 12
    month tokens (scale-free, value bias folded: the day table's convention), normalised per prompt."""
    t = ctx.analysis(prompts, "month")
    l, h = ctx.analysis(successor_head)
    if not t["used"]:
        return {"table": np.zeros((0, 12)), "score": 0, "used": []}
    W = ctx.weights
    name = f"blocks.{l}.attn.hook_result"
    res = iv.run(ctx.model, t["tokens"], keep=[name], final_only=True)[name][:, -1]  # (batch, head, d_model)
    vb = np.einsum("he,hed->hd", W[f"blocks.{l}.attn.b_V"], W[f"blocks.{l}.attn.W_O"])
    month_ids = [ctx.tokenizer.encode(" " + m)[0] for m in MONTHS]
    logits = C.head_day_logits(res[None], W["ln_final.w"], W["W_U"][:, month_ids], range(12), value_bias=vb[None])[0, h]
    correct = [(i + 1) % 12 for i in t["used"]]
    return {"table": C.day_distribution(logits), "score": int(C.successor_scores(logits, correct)), "used": t["used"]}


@figure("day-circuit.month-distribution", section="day-circuit", title="The successor head's month table",
        caption="The successor head's logits of the 12 month tokens, per month prompt, normalised.",
        prompts=MONTH_PROMPTS)
def month_distribution_figure(ctx) -> Figure:
    d = ctx.analysis(month_lens)
    table, used = d["table"], d["used"]
    label = head_label(*ctx.analysis(successor_head))
    m = round(max(float(np.abs(table).max(initial=0.0)), 1e-3), 2)
    rows = [f"{MONTHS[i]} → {MONTHS[(i + 1) % 12][:3]}" for i in used]
    chart = _table_chart(table, rows, list(MONTHS), f"{label}: month logits, normalised per prompt", 24, False, m,
                         True, "prompt", "month token")
    correct = np.array([table[j, (i + 1) % 12] for j, i in enumerate(used)] or [0.0])
    subject = np.array([table[j, i] for j, i in enumerate(used)] or [0.0])
    n = len(used)
    return Figure(
        data={"head": label, "score": d["score"], "n_prompts": n, "table": rounded(table),
              "correct_mean": round(float(correct.mean()), 4), "subject_mean": round(float(subject.mean()), 4)},
        alt=f"{n} by 12 table of {label}'s month-token logits normalised per prompt; it ranks the next month first on "
            f"{d['score']} of {n} prompts; the next month's mean is {correct.mean():+.2f} standard deviations, the "
            f"prompt's own month's {subject.mean():+.2f}",
        caption=f"{label}'s output at the last position of “{TEMPLATES['month'].format('<Month>')}”, in the full model, "
                "read as logits of the 12 month tokens (columns), each row normalised by its mean and standard "
                "deviation. Outlined: the next month. Hover a cell for its value.",
        chart=chart, prompts=list(MONTH_PROMPTS),
    )


def ov_tables(ctx) -> dict:
    """The successor head's OV circuit on the day and month tokens: for each source token at the subject position,
    the stream the in-vitro heads read — with and without the circuit's feeding MLP — through LN1 (centred,
    times γ₁, no β₁), W_V and W_O (no b_V: TransformerLens folds LN and value biases out of the head, as the
    seed's matrix W), then read scale-free at the day (month) tokens and normalised per row."""
    l, h = ctx.analysis(successor_head)
    chosen = ctx.analysis(vitro_search)["result"].chosen
    W = ctx.weights
    feeds = [None] if chosen.feed is None else [None, chosen.feed]
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
            x = stream_at_cut(ctx, kind, feed, l)  # (batch, d_model)
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
            n = len(items)
            key = f"{kind}_{'embed' if feed is None else 'feed'}"
            data[key] = {"n_successor": r["n_successor"], "n_copy": r["n_copy"], "n": len(r["used"]), "input": name,
                         "verdict": _ov_verdict(r, len(r["used"]), kind),
                         "profile": None if r["profile"] is None else rounded(r["profile"]),
                         "successor_z": None if r["profile"] is None else round(float(r["profile"][1]), 4),
                         "copy_z": None if r["profile"] is None else round(float(r["profile"][0]), 4),
                         "table": rounded(r["table"])}
        panels.append(alt.hconcat(*row) if len(row) > 1 else row[0])
    chart = alt.vconcat(*panels).resolve_scale(color="shared")
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
        caption=f"{label}'s OV circuit restricted to the day and month tokens: each row is one source token at the "
                "subject position of its prompt; its stream " + (
                    "(the token and position embeddings alone, left; with the feeding MLP's output added, as the "
                    "in-vitro circuit feeds it, right) " if len(feeds) > 1 else
                    "(token and position embeddings: this model's circuit has no feeding MLP) ")
                + "goes through the head's LayerNorm (centred, times γ), W_V and W_O, and the result is read through "
                "the final LayerNorm (scale-free) and W_U at the day (month) tokens, each row normalised by its mean and "
                f"standard deviation. One colour scale (±{m:.1f}). Outlined: the next day (month).",
        chart=chart, prompts=[*DAY_PROMPTS, *MONTH_PROMPTS],
    )
