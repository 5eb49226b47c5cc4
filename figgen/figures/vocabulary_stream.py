"""Vocabulary space, second page (seed 003): MLP neurons and the residual stream read as words.

- `vocabulary.neurons`: the neurons chosen by their activations on the post's prompt (per layer the few
  firing hardest on a word, and the neurons that fire on the BOS only), each with the nearest words of its
  input weights (in its layer's ln2 space) and of its output weights (raw vocabulary), and its activation at
  every position; a picker chooses the group shown.
- `vocabulary.evolution`: the stream at each layer's input, as that layer reads it, read as its nearest
  word at every position; the model's own prediction and the true next token below; the same points read by
  the logit lens, and how often the two readings agree.
The analysis is figgen.analysis.vocab (below "# --- the stream"); these functions choose and draw.
"""

from __future__ import annotations

import altair as alt
import numpy as np

from ..analysis import vocab as V
from . import heads, style
from .labels import cell_ink, join_words, rounded
from .registry import Figure, figure

# The seed's prompt, as its printouts tokenize it: GPT-2's <|endoftext|> first (`trace` prepends it as the
# BOS), then " The" with its leading space, like every later word ("<|endoftext|> The baseball player| who|").
# Its count "3 of 7 right" needs that: the prediction after the BOS alone is " The".
PROMPT = V.PROMPT
K_SHOWN = 5  # words shown per neuron side (the seed listed ten; the tooltip gives each one's cosine)
K_TOOLTIP = 5  # words listed in an evolution cell's tooltip
MAX_CHARS = 11  # a word longer than this is cut with "…" in its cell (whole in the tooltip)
BOS_GROUP = "fires on the BOS only"
EXAMPLES_GROUP = "the post's examples"
# The post's two example neurons: (layer, neuron, a word it reads, a word it writes), 0-indexed.
SEED_EXAMPLES = ((10, 2361, "␣baseball", "␣player"), (0, 1259, "␣pop", "␣balloon"))
SEED_BOS = ((2, 666), (2, 1825), (2, 3034))  # the post's BOS-only neurons, whose output weights match high-bias words
FEW_WORDS = 2000  # under this many whole words, say that the lists are drawn from few candidates


def neuron_label(layer: int, neuron: int) -> str:
    return f"L{layer}N{neuron}"


def _cut(text: str, n: int = MAX_CHARS) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _position_labels(ctx) -> list[str]:
    """'position: token' for the seed's prompt (as `labels.token_labels` does for the site prompt)."""
    return [f"{p}: {s}" for p, s in enumerate(ctx.token_strs(ctx.trace_of(PROMPT).tokens))]


def _words(ctx, ids, cosines, k: int) -> str:
    return ", ".join(f"{ctx.token_str(int(i))} {c:.2f}" for i, c in zip(ids[:k], cosines[:k]))


# --- the neurons --------------------------------------------------------------------------------------


def neuron_data(ctx) -> dict:
    """The chosen neurons and their readings (memoised per build: both themes draw the same)."""
    t = ctx.trace_of(PROMPT)
    post = V.mlp_post(t, ctx.dims.n_layers)  # (L, pos, d_mlp)
    choice = V.choose_neurons(post)
    bos = choice.bos_only[:V.N_BOS_SHOWN]
    groups: list[tuple[str, np.ndarray]] = []
    if len(bos):
        groups.append((BOS_GROUP, bos))
    for l in range(ctx.dims.n_layers):
        groups.append((f"layer {l}", choice.firing[choice.firing[:, 0] == l]))
    examples = _seed_examples(ctx)
    if len(examples):
        groups.append((EXAMPLES_GROUP, examples))
    unique = np.unique(np.concatenate([g for _, g in groups] + [_seed_bos(ctx)]), axis=0)  # each neuron read once
    reading = V.read_neurons(ctx, unique, post)
    index = {(int(l), int(n)): i for i, (l, n) in enumerate(unique)}
    return {"choice": choice, "groups": groups, "reading": reading, "index": index, "n_tokens": len(t.tokens)}


def _seed_examples(ctx) -> np.ndarray:
    """(n, 2) the post's example neurons, when this model has them (GPT-2's shapes): else empty."""
    have = [(l, n) for l, n, *_ in SEED_EXAMPLES if l < ctx.dims.n_layers and n < ctx.dims.d_mlp]
    return np.array(have, dtype=np.int64).reshape(-1, 2) if len(have) == len(SEED_EXAMPLES) else np.zeros((0, 2), np.int64)


def _seed_bos(ctx) -> np.ndarray:
    """(n, 2) the post's BOS-only neurons this model has (all three at GPT-2's shapes)."""
    have = [(l, n) for l, n in SEED_BOS if l < ctx.dims.n_layers and n < ctx.dims.d_mlp]
    return np.array(have, dtype=np.int64).reshape(-1, 2)


def _seed_bos_data(ctx, nd: dict) -> dict:
    """The post's BOS neurons' output weights, read (None where the model has no such neuron)."""
    r: V.NeuronReading = nd["reading"]
    out, zs = {}, []
    for l, n in SEED_BOS:
        i = nd["index"].get((l, n))
        if i is None:
            zs.append(None)
            continue
        zs.append(round(float(r.outputs.mean_z[i]), 4))
        out[neuron_label(l, n)] = {"writes": ctx.token_strs(r.outputs.ids[i, :K_SHOWN]), "writes_z": zs[-1],
                                   "writes_high": bool(r.outputs.high[i]), "bos": round(float(r.acts[i, 0]), 3)}
    names = [neuron_label(l, n) for l, n in SEED_BOS]
    if not out:
        text = f"do not exist in this model ({ctx.dims.n_layers} layers of {ctx.dims.d_mlp:,} neurons)"
    else:
        n_high = sum(e["writes_high"] for e in out.values())
        text = ("have output words whose mean bias is " +
                join_words([f"z = {e['writes_z']:+.1f} ({k})".replace("-", "−") for k, e in out.items()]) +
                f": {n_high} of the {len(out)} lists are high bias")
    return {"neurons": names, "writes_z": zs, "readings": out, "text": text}


def _example_data(ctx, nd: dict) -> dict:
    """Per example neuron: its nearest words on both sides (all read) and where it fires most."""
    r: V.NeuronReading = nd["reading"]
    tokens = ctx.token_strs(ctx.trace_of(PROMPT).tokens)
    out = {}
    for l, n in _seed_examples(ctx):
        i = nd["index"][int(l), int(n)]
        out[neuron_label(int(l), int(n))] = {
            "reads": ctx.token_strs(r.inputs.ids[i]), "writes": ctx.token_strs(r.outputs.ids[i]),
            "reads_high": bool(r.inputs.high[i]), "writes_high": bool(r.outputs.high[i]),
            "peak_token": tokens[int(np.argmax(r.acts[i]))], "peak": round(float(r.acts[i].max()), 3)}
    return out


def neuron_finding(n_bos: int, n_total: int, peak: str, value: float, token: str, position: int,
                   peak_bos_only: bool) -> str:
    """The page's opening clause: how many neurons fire on the BOS only, and where the largest activation is."""
    at = f"{value:.1f} on " + ("the BOS" if position == 0 else f"{token}, position {position}")
    if n_bos == 0:
        return (f"no MLP neuron fires on the BOS only, and the largest activation anywhere on the prompt is {peak}'s "
                f"({at})")
    who = f"{n_bos} of the {n_total:,} MLP neurons fire{'s' if n_bos == 1 else ''} on the BOS only"
    return (f"{who}, and the neuron with the largest activation anywhere on the prompt, {peak} ({at}), is "
            + ("one of them" if peak_bos_only else "not one of them"))


def _neuron_chart(ctx, nd: dict):
    r: V.NeuronReading = nd["reading"]
    labels = _position_labels(ctx)
    heat, words = [], []
    cos_max = 0.0
    for group, members in nd["groups"]:
        idx = [nd["index"][int(l), int(n)] for l, n in members]
        scale = max(float(np.abs(r.acts[idx]).max()), 1e-6) if idx else 1.0
        for row, i in enumerate(idx):
            l, n = (int(v) for v in r.neurons[i])
            name = neuron_label(l, n)
            for p, a in enumerate(r.acts[i]):
                heat.append({"g": group, "row": row, "neuron": name, "x": p, "token": labels[p],
                             "act": round(float(a), 3), "shade": round(float(a) / scale, 4)})
            for side, rd, what in (("reads", r.inputs, "input weights (W_in column), ln2 space"),
                                   ("writes", r.outputs, "output weights (W_out row), raw vocabulary")):
                y = 2 * row + (side == "writes")
                if rd.high[i]:
                    words.append({"g": group, "y": y, "rowname": f"{name} {side}", "rank": 0,
                                  "word": f"(high bias, z = {rd.mean_z[i]:+.1f})".replace("-", "−"), "cos": None,
                                  "what": what, "neuron": name,
                                  "note": f"mean bias z of the {rd.ids.shape[1]} nearest words {rd.mean_z[i]:+.2f}, "
                                          f"beyond ±{rd.threshold:g}"})
                    continue
                for rank, (w, c) in enumerate(zip(rd.ids[i, :K_SHOWN], rd.cosines[i, :K_SHOWN])):
                    cos_max = max(cos_max, float(c))
                    word = ctx.token_str(int(w))
                    words.append({"g": group, "y": y, "rowname": f"{name} {side}", "rank": rank,
                                  "word": _cut(word), "full": word, "cos": round(float(c), 3),
                                  "what": what, "neuron": name})
    top = float(np.ceil(max(cos_max, 0.1) * 10) / 10)
    names = [g for g, _ in nd["groups"]]
    group = alt.param(name="group", value=names[0],
                      bind=alt.binding_select(options=names, name="neurons shown "))
    tokens = heads.names_param("tokens", labels)
    n_pos = len(labels)
    cell_w = 62
    heat_chart = alt.Chart(alt.Data(values=heat)).transform_filter(alt.datum.g == group)
    heat_base = heat_chart.encode(
        x=alt.X("x:O", title=None, scale=alt.Scale(domain=list(range(n_pos))),
                axis=alt.Axis(labelExpr=heads.label_expr("tokens"), labelAngle=-40, orient="top", ticks=False,
                              labelLimit=110)),
        y=alt.Y("neuron:N", title=None, sort=alt.EncodingSortField("row"), axis=alt.Axis(ticks=False)))
    heat_layer = heat_base.mark_rect(stroke=None).encode(
        color=alt.Color("shade:Q", legend=None,
                        scale=alt.Scale(domain=[-1, 1], domainMid=0, range=style.vega_range("diverging"))),
        tooltip=[alt.Tooltip("neuron:N"), alt.Tooltip("token:N", title="position"),
                 alt.Tooltip("act:Q", format=".3f", title="activation (GELU output)")])
    heat_text = heat_base.mark_text(fontSize=11).encode(
        text=alt.Text("act:Q", format=".1f"), color=cell_ink("shade", "diverging", (-1.0, 1.0)))
    heat_view = (heat_layer + heat_text).properties(
        width=alt.Step(cell_w), height=alt.Step(24),  # as many rows as the group picked
        title=alt.Title("Activation at each position",
                        subtitle="colour: relative to the largest |activation| in the group shown"))
    word_chart = alt.Chart(alt.Data(values=words)).transform_filter(alt.datum.g == group)
    word_base = word_chart.encode(
        x=alt.X("rank:O", title=None, scale=alt.Scale(domain=list(range(K_SHOWN))), axis=None),
        y=alt.Y("rowname:N", title=None, sort=alt.EncodingSortField("y"), axis=alt.Axis(ticks=False)))
    word_rect = word_base.transform_filter("datum.cos != null").mark_rect().encode(
        color=alt.Color("cos:Q", title="cosine", scale=alt.Scale(domain=[0, top], range=style.vega_range("similarity")),
                        legend=alt.Legend(orient="bottom", direction="horizontal", gradientLength=160)),
        tooltip=[alt.Tooltip("neuron:N"), alt.Tooltip("what:N", title="vector"), alt.Tooltip("full:N", title="word"),
                 alt.Tooltip("cos:Q", format=".3f", title="cosine")])
    word_text = word_base.transform_filter("datum.cos != null").mark_text(fontSize=11).encode(
        text="word:N", color=cell_ink("cos", "similarity", (0.0, top)))
    high_text = word_base.transform_filter("datum.cos == null").mark_text(fontSize=11, align="left", dx=-40).encode(
        text="word:N", tooltip=[alt.Tooltip("neuron:N"), alt.Tooltip("what:N", title="vector"),
                                alt.Tooltip("note:N", title="high bias")])
    word_view = (word_rect + word_text + high_text).properties(
        width=cell_w * n_pos, height=alt.Step(22),
        title=alt.Title(f"The {K_SHOWN} nearest whole words, most similar first",
                        subtitle="reads: input weights in the layer's ln2 space; writes: output weights"))
    chart = alt.vconcat(heat_view, word_view, spacing=14).add_params(group, tokens).resolve_scale(color="independent")
    return chart, top


@figure("vocabulary.neurons", section="vocabulary", title="MLP neurons read as words",
        caption="Chosen MLP neurons: their activation at each position, and the nearest words of their input and "
                "output weights.", prompts=(PROMPT,))
def neurons(ctx) -> Figure:
    nd = ctx.analysis(neuron_data)
    c: V.NeuronChoice = nd["choice"]
    r: V.NeuronReading = nd["reading"]
    t = ctx.trace_of(PROMPT)
    chart, top = _neuron_chart(ctx, nd)
    bos_shown = c.bos_only[:V.N_BOS_SHOWN]
    bos_idx = [nd["index"][int(l), int(n)] for l, n in bos_shown]
    firing_idx = [nd["index"][int(l), int(n)] for l, n in c.firing]
    pl, pn, pp = c.peak
    peak_bos_only = any((int(l), int(n)) == (pl, pn) for l, n in c.bos_only)
    layer_max = V.mlp_post(t, ctx.dims.n_layers)[:, 1:].max((1, 2)) if len(t.tokens) > 1 else None
    n_bos = len(c.bos_only)
    strongest = None if not n_bos else {
        "label": neuron_label(*map(int, c.bos_only[0])), "layer": int(c.bos_only[0, 0]),
        "neuron": int(c.bos_only[0, 1]), "bos": round(float(c.bos_value[0]), 3),
        "other": round(float(c.bos_other[0]), 3)}
    bos_high_out = int(r.outputs.high[bos_idx].sum()) if bos_idx else 0
    bos_layers = sorted({int(l) for l in c.bos_only[:, 0]})
    n_words = int(ctx.analysis(V.vocabulary).keep.sum())
    data = {
        "prompt_tokens": ctx.token_strs(t.tokens), "prompt_tokens_text": " · ".join(ctx.token_strs(t.tokens)),
        "n_tokens": len(t.tokens),
        "n_layers": ctx.dims.n_layers, "d_mlp": ctx.dims.d_mlp, "n_neurons_total": ctx.dims.n_layers * ctx.dims.d_mlp,
        "n_firing_per_layer": V.N_FIRING, "bos_ratio": V.BOS_RATIO, "n_bos_shown": len(bos_shown), "n_bos_max": V.N_BOS_SHOWN,
        "n_bos_only": n_bos, "bos_layers": bos_layers,
        "bos_layers_text": ", ".join(map(str, bos_layers)) if bos_layers else "none",
        "bos_only": [[int(l), int(n), round(float(b), 3), round(float(o), 3)]
                     for (l, n), b, o in list(zip(c.bos_only, c.bos_value, c.bos_other))[:V.N_BOS_LISTED]],
        "layer_max_other": rounded(layer_max) if layer_max is not None else [],
        "strongest_bos": strongest,
        "strongest_bos_text": ("no neuron passes it on this prompt" if strongest is None else
                               f"the strongest, {strongest['label']}, reaches {strongest['bos']:.1f} on the BOS and "
                               f"{max(strongest['other'], 0.0) + 0.0:.1f} at most on any other token"),
        "n_words": n_words, "d_vocab": ctx.dims.d_vocab,
        "words_verdict": (f"only {n_words:,} candidates: the same words come back in many lists, and a match says "
                          "less than it would among tens of thousands" if n_words < FEW_WORDS else
                          "tens of thousands of candidates, as in the post"),
        "peak": {"label": neuron_label(pl, pn), "layer": pl, "neuron": pn, "position": pp,
                 "token": ctx.token_str(int(t.tokens[pp])), "value": round(c.peak_value, 3),
                 "bos_only": peak_bos_only},
        "peak_verdict": ("is one of the BOS-only neurons" if peak_bos_only else
                         "is not one of the BOS-only neurons"),
        "finding": neuron_finding(n_bos, ctx.dims.n_layers * ctx.dims.d_mlp, neuron_label(pl, pn), c.peak_value,
                                  ctx.token_str(int(t.tokens[pp])), pp, peak_bos_only),
        "n_read": len(r.neurons), "k_shown": K_SHOWN, "k_read": int(r.inputs.ids.shape[1]),
        "high_bias_z": r.inputs.threshold,
        "inputs_high": int(r.inputs.high.sum()), "outputs_high": int(r.outputs.high.sum()),
        "firing_inputs_high": int(r.inputs.high[firing_idx].sum()),
        "firing_outputs_high": int(r.outputs.high[firing_idx].sum()), "n_firing": len(firing_idx),
        "bos_outputs_high": bos_high_out, "bos_inputs_high": int(r.inputs.high[bos_idx].sum()) if bos_idx else 0,
        "cosine_scale_top": top,
        "groups": [g for g, _ in nd["groups"]], "first_group": nd["groups"][0][0],
        "seed_examples": _example_data(ctx, nd), "seed_bos": _seed_bos_data(ctx, nd),
        "seed_examples_verdict": (f"are under “{EXAMPLES_GROUP}” in the menu" if len(_seed_examples(ctx)) else
                                  f"do not exist in this model ({ctx.dims.n_layers} layers of "
                                  f"{ctx.dims.d_mlp:,} neurons)"),
    }
    shown = nd["groups"][0]
    return Figure(
        data=data,
        alt=f"Two tables for the chosen MLP neurons of one group (a picker switches between {len(nd['groups'])} "
            f"groups; shown first: {shown[0]}): each neuron's activation at the {len(t.tokens)} positions of the "
            f"prompt, and the {K_SHOWN} whole words nearest its input weights and its output weights. "
            f"{n_bos} neurons pass the BOS-only criterion; the largest activation anywhere is "
            f"{neuron_label(pl, pn)}'s, {c.peak_value:.1f} on {ctx.token_str(int(t.tokens[pp]))}",
        caption=("Pick a group of neurons below the chart: each one's activation at every position (top), and the "
                 f"{K_SHOWN} whole words nearest what it reads and what it writes (bottom). "
                 + (f"Shown first, the {len(bos_shown)} strongest of the neurons that fire on the BOS only: strong at "
                    "position 0, far weaker everywhere else." if shown[0] == BOS_GROUP else
                    f"Shown first: {shown[0]}, its {len(shown[1])} neurons firing hardest on a word.")),
        chart=chart, prompts=[PROMPT],
    )


# --- token evolution ------------------------------------------------------------------------------------


def evolution_data(ctx) -> dict:
    t = ctx.trace_of(PROMPT)
    ev = ctx.analysis(V.evolution, PROMPT)
    n, L = len(t.tokens), ctx.dims.n_layers
    known = np.arange(n - 1)  # positions whose next token is in the prompt
    correct = ev.predicted[known] == t.tokens[known + 1]
    view_top = ev.ids[..., 0]  # (L, pos)
    agree_any = view_top == ev.lens_top
    agree_words = view_top == ev.lens_word_top
    lens_is_word = ctx.analysis(V.vocabulary).keep[ev.lens_top]
    # Does the true next token ever show up, at any layer's input? (top-1; among the k read)
    next_top1 = [bool((view_top[:, p] == t.tokens[p + 1]).any()) for p in known]
    next_topk = [bool((ev.ids[:, p] == t.tokens[p + 1]).any()) for p in known]
    changes = (view_top[1:] != view_top[:-1]).sum(1) if L > 1 else np.zeros(0)
    last_changes = int((view_top[-1] != ev.predicted).sum())
    return {"trace": t, "ev": ev, "known": known, "correct": correct, "agree_any": agree_any,
            "agree_words": agree_words, "lens_is_word": lens_is_word, "next_top1": next_top1,
            "next_topk": next_topk, "changes": changes, "last_changes": last_changes}


def _share(mask: np.ndarray) -> float:
    return round(float(np.mean(mask)), 4) if np.size(mask) else 0.0


@figure("vocabulary.evolution", section="vocabulary", title="The stream read as words, layer by layer",
        caption="The residual stream at each layer's input read as its nearest word at each position, with the "
                "model's prediction and the true next token.", prompts=(PROMPT,))
def evolution(ctx) -> Figure:
    e = ctx.analysis(evolution_data)
    t, ev = e["trace"], e["ev"]
    n, L = len(t.tokens), ctx.dims.n_layers
    labels = _position_labels(ctx)
    row_names = [f"layer {l} input" for l in range(L)] + ["prediction", "next token"]
    cells, texts = [], []
    for l in range(L):
        for p in range(n):
            word = ctx.token_str(int(ev.ids[l, p, 0]))
            high = bool(ev.high[l, p])
            cell = {"y": l, "x": p, "token": labels[p], "layer": f"layer {l} input",
                    "word": "(high bias)" if high else _cut(word), "full": word,
                    "cos": round(float(ev.cosines[l, p, 0]), 3),
                    "nearest": _words(ctx, ev.ids[l, p], ev.cosines[l, p], K_TOOLTIP),
                    "z": round(float(ev.mean_z[l, p]), 2),
                    "lens": ctx.token_str(int(ev.lens_top[l, p]))}
            (texts if high else cells).append(cell)
    for p in range(n):
        pred = ctx.token_str(int(ev.predicted[p]))
        right = p < n - 1 and bool(e["correct"][p])
        texts.append({"y": L, "x": p, "token": labels[p], "layer": "prediction",
                      "word": _cut(pred, MAX_CHARS - 2) + (" ✓" if right else ""), "full": pred,
                      "nearest": "right" if right else ("no next token in the prompt" if p == n - 1 else "wrong")})
        nxt = ctx.token_str(int(t.tokens[p + 1])) if p < n - 1 else "—"
        texts.append({"y": L + 1, "x": p, "token": labels[p], "layer": "next token", "word": _cut(nxt), "full": nxt,
                      "nearest": "the prompt's next token"})
    tokens = heads.names_param("tokens", labels)
    rows = heads.names_param("rows", row_names)
    cell_w = max(60, min(80, 560 // n))
    x = alt.X("x:O", title=None, scale=alt.Scale(domain=list(range(n))),
              axis=alt.Axis(labelExpr=heads.label_expr("tokens"), labelAngle=-40, orient="top", ticks=False,
                            labelLimit=110))
    y = alt.Y("y:O", title=None, scale=alt.Scale(domain=list(range(L + 2))),
              axis=alt.Axis(labelExpr=heads.label_expr("rows"), ticks=False))
    base = alt.Chart(alt.Data(values=cells)).encode(x=x, y=y)
    tip = [alt.Tooltip("layer:N", title="row"), alt.Tooltip("token:N", title="position"),
           alt.Tooltip("full:N", title="nearest word"), alt.Tooltip("cos:Q", format=".3f", title="cosine"),
           alt.Tooltip("nearest:N", title=f"{K_TOOLTIP} nearest (cosine)"),
           alt.Tooltip("lens:N", title="logit lens top-1")]
    rect = base.mark_rect().encode(
        color=alt.Color("cos:Q", title="cosine of the nearest word",
                        scale=alt.Scale(domain=[0, 1], range=style.vega_range("similarity")),
                        legend=alt.Legend(orient="bottom", direction="horizontal", gradientLength=160)),
        tooltip=tip)
    words = base.mark_text(fontSize=11).encode(text="word:N", color=cell_ink("cos", "similarity", (0.0, 1.0)),
                                               tooltip=tip)
    other = alt.Chart(alt.Data(values=texts)).mark_text(fontSize=11).encode(
        x=x, y=y, text="word:N",
        tooltip=[alt.Tooltip("layer:N", title="row"), alt.Tooltip("token:N", title="position"),
                 alt.Tooltip("full:N", title="token"), alt.Tooltip("nearest:N", title="note")])
    chart = (rect + words + other).add_params(tokens, rows).properties(width=cell_w * n, height=24 * (L + 2))
    known = e["known"]
    n_right, n_known = int(e["correct"].sum()), len(known)
    view_top = np.where(ev.high, -1, ev.ids[..., 0])  # (L, pos) the nearest word shown (-1: "(high bias)")
    own_first = int((view_top[0] == t.tokens).sum())  # the position's own token, at layer 0's input
    own_last = int((view_top[-1] == t.tokens).sum())
    next_first = int((view_top[0, known] == t.tokens[known + 1]).sum())
    next_last = int((view_top[-1, known] == t.tokens[known + 1]).sum())  # the next token, at the last layer's input
    moves = own_first > own_last and next_last > next_first
    finding = (f"Read as its nearest whole word, the stream at some layer's input is already the next token at "
               f"{int(sum(e['next_top1']))} of the {n_known} positions, and the model predicts {n_right} of them right")
    predicted = ctx.token_strs(ev.predicted)
    agree_any, agree_words, lens_is_word = e["agree_any"], e["agree_words"], e["lens_is_word"]
    agree_on_words = agree_any[lens_is_word]
    n_high = int(ev.high.sum())
    W = ctx.weights
    tied = bool(np.array_equal(np.asarray(W["W_U"]), np.asarray(W["W_E"]).T))
    data = {
        "predicted": predicted, "predicted_text": " ".join(predicted),
        "n_correct": n_right, "n_predicted": n_known,
        "accuracy_line": f"{n_right} of {n_known} next tokens right",
        "correct": [bool(c) for c in e["correct"]],
        "n_layers": L, "n_tokens": n, "n_cells": L * n, "k_read": int(ev.ids.shape[-1]),
        "n_high_bias": n_high, "high_bias_z": ev.threshold,
        "agree_lens": _share(agree_any), "agree_lens_words": _share(agree_words),
        "lens_word_share": _share(lens_is_word), "agree_where_lens_word": _share(agree_on_words),
        "agree_lens_by_layer": [_share(a) for a in agree_any],
        "agree_lens_words_by_layer": [_share(a) for a in agree_words],
        "next_ever_top1": int(sum(e["next_top1"])), "next_ever_topk": int(sum(e["next_topk"])),
        "next_in_topk": [bool(v) for v in e["next_topk"]],  # per position 0 … n − 2
        "tied_text": ("does too" if tied else "does not, so here the two readings compare different vectors"),
        "own_first": own_first, "next_last": next_last, "finding": finding,
        "changes_by_layer": [int(c) for c in e["changes"]], "last_layer_changes": e["last_changes"],
        "last_layer_change_share": round(e["last_changes"] / n, 4),
        "mean_top_cosine": round(float(ev.cosines[..., 0].mean()), 4),
        "first_cosine": round(float(ev.cosines[0, ..., 0].mean()), 4),
        "last_cosine": round(float(ev.cosines[-1, ..., 0].mean()), 4),
    }
    return Figure(
        data=data,
        alt=f"Grid of words: {L} rows, one per layer's input, by {n} positions of the prompt, each cell the nearest "
            f"whole word to the stream there as the layer reads it; below, the model's predictions "
            f"({', '.join(predicted)}) and the true next tokens; {n_right} of {n_known} predictions are right",
        caption=(("Down each column the stream moves from the position's own word towards the next one: "
                  if moves else "Down each column: ")
                 + f"the nearest word is the position's own token at {own_first} of the {n} positions at layer 0's "
                 f"input, and the next token at {next_last} of {n_known} at layer {L - 1}'s. Below: the model's "
                 "prediction (✓ right) and the true next token."),
        chart=chart, prompts=[PROMPT],
    )
