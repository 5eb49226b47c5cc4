"""The day-of-week task of Gould et al. (seed 002), as the day-circuit page's two figure modules share it.

Registers no figure. What is here, each step memoised per build through `ctx.analysis`:
- `prompts(ctx, kind)`: the day, month and number prompts as batches, their subject position and answers;
- `task(ctx)`: the day prompts' clean run (probabilities, each head's final-position result, the stream
  entering each layer, the final LayerNorm's scale) — what every later experiment starts from;
- `head_readings(ctx)`: each head's output read on its own, in TransformerLens's processing (the post's),
  in two normalisations (`READINGS`), and the successor search over every head;
- `circuit_heads(ctx)`: the heads the page follows — the post's own (L9H1, L10H3) on a model of GPT-2
  124M's shape, where the post named them, else the ones this model's own search finds;
- `dataset_means(ctx)`: every head's mean result over the mean- and random-ablation datasets.
Forward passes go through figgen.interventions; the arithmetic is figgen.analysis.circuit and
figgen.analysis.processing.
"""

from __future__ import annotations

import numpy as np

from .. import interventions as iv
from ..analysis import circuit as C
from ..analysis import processing as P
from ..analysis.vocab import decoded_vocabulary

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
NUMBERS = tuple(range(1, 101))  # the post's n = 1..100 (mini was trained on 1..50)
# The day template is the post's; the month template puts the month at position 5 (BOS = 0), where the post
# fixes attention for months; the post's number template did not survive in its text (only that the number
# is its 2nd token after the BOS), so numbers use mini's trained template on every model.
TEMPLATES = {"day": "If today is {}, tomorrow is", "month": "If this month is {}, next month is",
             "number": "If the number is {}, the next is"}
DAY_PROMPTS = tuple(TEMPLATES["day"].format(d) for d in DAYS)
MONTH_PROMPTS = tuple(TEMPLATES["month"].format(m) for m in MONTHS)
NUMBER_PROMPTS = tuple(TEMPLATES["number"].format(n) for n in NUMBERS)
STEER_TOKEN = " tomorrow"

# The post's components, in GPT-2 124M (layer, head), 0-indexed: its "(9, 1)" is L9H1.
POST_SHAPE = (12, 12)  # GPT-2 124M's layers × heads: on a model of another shape these names point nowhere
SUCCESSOR, COPYING = (9, 1), (10, 3)
POST_COPIERS = ((10, 3, 0.5869), (6, 9, 0.8075), (7, 10, 0.4078), (8, 1, 0.5489))  # and their P(subject day)
POST_NAMED = ((10, 3), (9, 1), (0, 8), (11, 0), (8, 9), (10, 7), (8, 1), (8, 6), (8, 8), (6, 9), (7, 10))
COPY_THRESHOLD = 0.3  # a copying head: its own output, read by the lens, gives the prompt's day ≥ 30% (mean)

# Gould et al.'s two ablation datasets, built as token ids from the Monday prompt's tokens (BOS, If, ␣today,
# ␣is, ␣Monday, ",", ␣tomorrow, ␣is): mean ablation replaces the day (position 4) by a random space-prefixed
# word; random ablation replaces ␣today, ␣Monday and ␣tomorrow (positions 2, 4, 6) by three. The post's
# dataset size did not survive in its text; ours is N_DATASET, seeded. (On mini, two draws of 512 give heads'
# Δ correct probabilities that differ by at most 3.7 points, two of 1,024 by 3.1: the sampling noise halves
# only at 4,096, four times the cost, so 512 it is.)
N_DATASET = 512
MEAN_SLOTS, MEAN_SEED = (4,), 0
RANDOM_SLOTS, RANDOM_SEED = (2, 4, 6), 1

# How a head's output is read on its own (the post's "logit lens applied to heads"), in TransformerLens's
# processing: the head's result minus its value-bias term, then one of these, then W_U.
READINGS = {
    "own": "the final LayerNorm applied to the head's output alone: divided by its own scale, times γ, plus β "
           "(TransformerLens's b_U); the post's definition of the lens, the unembedding applied to a component",
    "stream": "divided by the scale of the final stream at that position, times γ, without β (no b_U): "
              "TransformerLens's cache.apply_ln_to_stack, as direct logit attribution reads a component",
}


def has_post_heads(ctx) -> bool:
    """Whether the model has GPT-2 124M's layers × heads, so that the post's heads (L9H1 …) exist and mean
    something to compare."""
    return (ctx.dims.n_layers, ctx.dims.n_heads) == POST_SHAPE


def head_at(table, layer: int, head: int):
    """A (layer, head, ...) table's entry for one head; None on a model without that head."""
    return table[layer][head] if layer < len(table) and head < len(table[layer]) else None


def prompts(ctx, kind: str) -> dict:
    """The prompts of one task as a batch: tokens (n, pos), the subject position, each prompt's subject and
    correct token ids, which items are `used`.

    Days: a day that is several tokens is read by its first (tiny test tokenizers), and the prompts of the
    most common length are used. Months and numbers: a prompt whose subject or answer is not one token is
    left out, then those of another length than the most common."""
    items = {"day": DAYS, "month": MONTHS, "number": [str(n) for n in NUMBERS]}[kind]
    nxt = {"day": lambda i: DAYS[(i + 1) % 7], "month": lambda i: MONTHS[(i + 1) % 12],
           "number": lambda i: str(NUMBERS[i] + 1)}[kind]
    tok = ctx.tokenizer
    texts = [TEMPLATES[kind].format(s) for s in items]
    one = [i for i, s in enumerate(items)
           if kind == "day" or (len(tok.encode(" " + s)) == 1 and len(tok.encode(" " + nxt(i))) == 1)]
    lengths = {i: iv.tokenize_batch(ctx.model, [texts[i]]).shape[1] for i in one}
    common = max(set(lengths.values()), key=lambda n: (list(lengths.values()).count(n), -n)) if lengths else 0
    used = [i for i in one if lengths[i] == common]
    prefix = TEMPLATES[kind].split("{}")[0].rstrip()
    subject = iv.tokenize_batch(ctx.model, [prefix]).shape[1]  # BOS + the tokens before the subject
    tokens = iv.tokenize_batch(ctx.model, [texts[i] for i in used]) if used else np.zeros((0, 0), np.int64)
    return {"tokens": tokens, "subject": subject, "used": used, "items": [items[i] for i in used],
            "subject_ids": np.array([tok.encode(" " + items[i])[0] for i in used], np.int64),
            "targets": np.array([tok.encode(" " + nxt(i))[0] for i in used], np.int64),
            "answers": [nxt(i) for i in used],
            "single_token": all(len(tok.encode(" " + items[i])) == 1 for i in used)}


def task(ctx) -> dict:
    """The day prompts' clean run, kept for every experiment that starts from it.

    → everything of `prompts(ctx, "day")`, and day_ids (7,), correct (n,) the index of each prompt's answer
    among the 7 days, logits (n, d_vocab) and probs (n,) at the final position, results (layer, n, head,
    d_model) each head's result there, resid_pre (layer, n, pos, d_model) the stream entering each layer,
    final_scale (n,) the final LayerNorm's scale at the final position."""
    t = dict(ctx.analysis(prompts, "day"))
    L = ctx.dims.n_layers
    pres = [f"blocks.{l}.hook_resid_pre" for l in range(L)]
    results = [f"blocks.{l}.attn.hook_result" for l in range(L)]
    out = iv.run(ctx.model, t["tokens"], keep=[*pres, *results, "ln_final.hook_scale"], final_only=True)
    logits = out.logits[:, -1]  # (n, d_vocab)
    t.update(day_ids=[ctx.tokenizer.encode(" " + d)[0] for d in DAYS], correct=[(i + 1) % 7 for i in t["used"]],
             logits=logits, probs=C.correct_probs(logits, t["targets"]),
             results=np.stack([out[r][:, -1] for r in results]), resid_pre=np.stack([out[p] for p in pres]),
             final_scale=out["ln_final.hook_scale"][:, -1, 0])
    return t


def value_biases(ctx) -> np.ndarray:
    """(layer, head, d_model): each head's value-bias term, which TransformerLens's processing moves into b_O."""
    return P.value_biases(ctx.weights, ctx.dims.n_layers)


def read_heads(ctx, vectors: np.ndarray, ids: np.ndarray, reading: str, scale=None):
    """TransformerLens-processed head outputs `vectors` (..., d_model) through the lens in one of READINGS;
    `scale` (...,) the final stream's scale for "stream". → probs, logits at `ids` (..., k), top-1 (...)."""
    W = ctx.weights
    eps = ctx.model.cfg.layer_norm_epsilon
    if reading == "own":
        return C.lens_read(vectors, W["ln_final.w"], W["ln_final.b"], W["W_U"], eps, ids)
    return C.lens_read(vectors, W["ln_final.w"], W["ln_final.b"], W["W_U"], eps, ids, scale=scale, bias=False)


def head_readings(ctx) -> dict:
    """Every head's output at the final position read on its own, in TransformerLens's processing (value-bias
    term out), in each of READINGS: for each reading (layer, head, prompt) P(correct day), P(subject day),
    the top-1 token and the 7 day logits (layer, head, prompt, 7), and the successor search's scores
    (layer, head): on how many prompts the correct day ranks first among the 7."""
    t = ctx.analysis(task)
    vb = ctx.analysis(value_biases)
    r = P.processed_results(t["results"], vb[:, None])  # (layer, prompt, head, d_model)
    ids = np.array([[t["day_ids"][c], t["day_ids"][u], *t["day_ids"]] for c, u in zip(t["correct"], t["used"])])
    ids = ids[None, :, None]  # (1, prompt, 1, 9)
    out = {}
    for reading in READINGS:
        scale = t["final_scale"][None, :, None] if reading == "stream" else None
        probs, logits, top = read_heads(ctx, r, ids, reading, scale)  # (layer, prompt, head, 9), …, (layer, prompt, head)
        days = logits[..., 2:].transpose(0, 2, 1, 3)  # (layer, head, prompt, 7)
        out[reading] = {"correct": probs[..., 0].transpose(0, 2, 1), "subject": probs[..., 1].transpose(0, 2, 1),
                        "top": top.transpose(0, 2, 1), "days": days,
                        "scores": C.successor_scores(days, t["correct"])}
    return out


def circuit_heads(ctx) -> dict:
    """The two heads the in-vivo and in-vitro experiments follow, and where they come from.

    On a model of GPT-2 124M's shape: the post's successor head L9H1 and copying head L10H3 ("post"), so that
    every comparison is made on the heads the post names. On another model those names point nowhere, so
    ("search"): the successor head is the one the successor search scores highest in the post's reading
    ("own"; the first in layer order on a tie), and the copying head is, among the heads whose own output gives
    the prompt's day a mean probability ≥ COPY_THRESHOLD, the one whose mean ablation lowers the correct
    probability most (the post's L10H3 is both); with no such head, the one with the highest such probability.
    `copying_heads`: every head passing the threshold, (layer, head, mean probability), highest first."""
    h = ctx.analysis(head_readings)["own"]
    subject = h["subject"].mean(-1)  # (layer, head)
    copying = C.ranked_heads(subject, COPY_THRESHOLD)
    if has_post_heads(ctx):
        return {"successor": SUCCESSOR, "copying": COPYING, "copying_heads": copying, "is_copying": bool(copying),
                "source": "post"}
    scores = h["scores"]
    succ = tuple(int(i) for i in np.unravel_index(np.argmax(scores), scores.shape))
    if copying:
        mean_delta = ctx.analysis(ablation_deltas)["mean"]
        copy = min(((l, hh) for l, hh, _ in copying), key=lambda lh: (mean_delta[lh], lh))
    else:
        copy = tuple(int(i) for i in np.unravel_index(np.argmax(subject), subject.shape))
    return {"successor": succ, "copying": copy, "copying_heads": copying, "is_copying": bool(copying),
            "source": "search"}


def dataset_means(ctx) -> dict:
    """Every head's mean result over the mean- and the random-ablation datasets, (layer, pos, head, d_model)
    each: computed once for the single-head ablations, the post's head subsets and the in-vitro runs."""
    t = ctx.analysis(task)
    words = C.space_words(ctx.analysis(decoded_vocabulary))
    template = t["tokens"][0]
    mean_set = C.dataset(template, MEAN_SLOTS, C.random_word_ids(words, N_DATASET, len(MEAN_SLOTS), MEAN_SEED))
    random_set = C.dataset(template, RANDOM_SLOTS,
                           C.random_word_ids(words, N_DATASET, len(RANDOM_SLOTS), RANDOM_SEED))
    example = {"mean": ctx.tokenizer.decode(mean_set[0, 1:]), "random": ctx.tokenizer.decode(random_set[0, 1:])}
    return {"mean": iv.head_results_mean(ctx.model, mean_set), "random": iv.head_results_mean(ctx.model, random_set),
            "n_words": len(words), "example": example}


ABLATIONS = ("zero", "mean", "random")


def ablation_deltas(ctx) -> dict:
    """Δ correct probability (layer, head), mean over the prompts, with each head's result replaced at every
    position: zero ablation as TransformerLens's processed model does it (the head's value-bias term stays, in
    b_O), mean and random ablation by the datasets' means (the same in either processing: the value-bias term
    is a constant the mean keeps). → {kind: (layer, head)}, and "probs" (kind, layer, head, prompt)."""
    t, m = ctx.analysis(task), ctx.analysis(dataset_means)
    values = {"zero": P.zero_ablation_values(ctx.weights, ctx.dims.n_layers)[:, None, None],  # (layer, 1, 1, head, d)
              "mean": m["mean"][:, None], "random": m["random"][:, None]}  # (layer, 1, pos, head, d_model)
    targets = np.asarray(t["targets"])
    probs = iv.head_ablation_sweep(ctx.model, t["tokens"], values, targets=targets)  # (kind, layer, head, prompt)
    delta = C.ablation_deltas(probs, t["probs"])  # (kind, layer, head)
    return {**{k: delta[i] for i, k in enumerate(ABLATIONS)}, "probs": probs}


def lens_ids(ctx, t: dict) -> np.ndarray:
    """Per prompt, the tokens the lens keeps: correct day, subject day, " tomorrow", then the 7 days: (prompts, 10)."""
    tomorrow = ctx.tokenizer.encode(STEER_TOKEN)[0]
    return np.array([[t["day_ids"][c], t["day_ids"][u], tomorrow, *t["day_ids"]]
                     for c, u in zip(t["correct"], t["used"])])


def _lens(ctx, x, ids):
    W = ctx.weights
    return C.lens_read(x, W["ln_final.w"], W["ln_final.b"], W["W_U"], ctx.model.cfg.layer_norm_epsilon, ids)


def layer_lens(ctx) -> dict:
    """The stream at the final position after each layer's attention (resid_mid) and after its MLP
    (resid_post), through the lens; and the correct probabilities with each MLP zero-ablated (each run from
    its layer on, the clean run below reused)."""
    t = ctx.analysis(task)
    L, n = ctx.dims.n_layers, len(t["used"])
    names = [f"blocks.{l}.hook_resid_{k}" for l in range(L) for k in ("mid", "post")]
    out = iv.run(ctx.model, t["tokens"], keep=names, final_only=True)
    x = np.stack([out[name][:, -1] for name in names]).reshape(L, 2, n, -1)  # (layer, mid/post, prompt, d_model)
    probs, logits, top = _lens(ctx, x, lens_ids(ctx, t)[None, None])  # (layer, 2, prompt, 10), (layer, 2, prompt)
    zero = np.stack([C.correct_probs(iv.run(ctx.model, t["tokens"], edits=[iv.ReplaceMLP(l, 0.0)], final_only=True,
                                            start=(l, t["resid_pre"][l])).logits[:, -1], t["targets"]) for l in range(L)])
    return {"probs": probs, "days": logits[..., 3:], "top": top, "zero_mlp": zero, "clean": t["probs"]}


def mlp_effects(ctx) -> dict:
    """Each MLP's effect on the correct day, mean over the prompts: "local", the lens's correct probability
    just after the MLP minus just before it (resid_post − resid_mid at the final position), and "ablated", the
    output's correct probability with the MLP zero-ablated minus the clean one; both (layer,)."""
    ll = ctx.analysis(layer_lens)
    probs = ll["probs"]  # (layer, mid/post, prompt, 10)
    return {"local": (probs[:, 1, :, 0] - probs[:, 0, :, 0]).mean(-1),
            "ablated": (ll["zero_mlp"] - ll["clean"][None]).mean(-1)}
