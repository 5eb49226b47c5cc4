"""The day-of-week circuit's claims (seed 002, Gould et al.): in vivo, subsets, in vitro, months and numbers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .core import GPT2_SMALL, SEED_002, Claim, _pair


# --- the day-of-week circuit (seed 002) -----------------------------------------------------------
DAYS_TASK = ("The 7 prompts “If today is <Day>, tomorrow is”, one per day; the correct answer is the next day's "
             "token with a leading space.")
CLAIMS: tuple[Claim, ...] = (
    Claim(
        id="day-circuit.solves-all", source=SEED_002.at("The Task"),
        statement="GPT-2 small solves the next-day task: for each of the 7 prompts its top prediction is the "
                  "correct next day.",
        about=GPT2_SMALL, keys=("day-circuit.task:n_top1",),
        published="all 7 prompts", predicate=lambda n: n == 7,
        criterion="Reproduced when the correct day is the top-1 token on all 7 prompts (the number: on how many)",
        conventions=DAYS_TASK + " BOS prepended."),
    Claim(
        id="day-circuit.l10h3-ablation", source=SEED_002.at("Head ablation"),
        statement="Removing head L10H3 lowers the correct day's probability more than removing any other single "
                  "head, under both mean and random ablation.",
        about=GPT2_SMALL, keys=("day-circuit.ablation:mean.most_harmful", "day-circuit.ablation:random.most_harmful"),
        compute=_pair, published="L10H3 under mean and under random ablation",
        predicate=lambda v: list(v) == ["L10H3", "L10H3"],
        criterion="Reproduced when L10H3 has the most negative Δ correct probability (mean over the 7 prompts) "
                  "under mean ablation and under random ablation (the value: the most harmful head under each)",
        conventions=DAYS_TASK + " A head's result vector is replaced at every position by its mean over 1,024 "
                    "prompts “If today is <x>, tomorrow is” (mean) or “If <x> is <y>, <z> is” (random), <x>, <y>, "
                    "<z> one-token words with a leading space, seeded (the seed's dataset size is not in its "
                    "text). Mean and random ablation give the same numbers with or without TransformerLens's weight "
                    "processing (the value bias is a constant the mean keeps; a centred W_O changes the stream "
                    "only along the direction every LayerNorm removes)."),
    Claim(
        id="day-circuit.successor-head", source=SEED_002.at("Logit lens applied to heads"),
        statement="Exactly one head, L9H1, ranks the correct day above the other six days in its own output, on "
                  "all 7 prompts.",
        about=GPT2_SMALL, keys=("day-circuit.successor:all_seven_folded",),
        published="only L9H1", predicate=lambda heads: list(heads) == ["L9H1"],
        criterion="Reproduced when the heads ranking the correct day first among the 7 day tokens on all 7 prompts "
                  "are exactly [L9H1] (the value: the heads found)",
        conventions=DAYS_TASK + " Each head's result at the last position minus its value-bias term b_V·W_O (as "
                    "TransformerLens's fold_value_biases, which the seed's notebook most likely used), centred, "
                    "times the final LayerNorm's γ, times W_U; no β (a bias the head does not write) and no "
                    "division by the stream's scale (a positive number: it does not change the ranking)."),
)



# in vivo: the heads' logit lens, their attention, the layers and the MLPs (seed 002, "In-Vivo Results")


def _head_at(layer: int, head: int) -> Callable[[list], Any]:
    """A (layer × head) table → its entry for one head; None on a model without that head (other model)."""
    def pick(table: list) -> Any:
        return table[layer][head] if layer < len(table) and head < len(table[layer]) else None
    return pick


def _near(published: float, tolerance: float) -> Callable[[Any], bool]:
    """A predicate: the computed number is within `tolerance` of `published` (False for None: no such head)."""
    return lambda v: v is not None and abs(v - published) <= tolerance


HEAD_LENS = ("Each head's result vector at the last position minus its value-bias term b_V·W_O (TransformerLens's "
             "fold_value_biases), decoded through the final LayerNorm (its own scale recomputed, γ and β) and W_U, "
             "softmax over the whole vocabulary; the subject day's probability averaged over the 7 prompts.")
COPY_CLAIMS = ((10, 3, 0.5869), (6, 9, 0.8075), (7, 10, 0.4078), (8, 1, 0.5489))
STEER = ("α times “ tomorrow”'s unembedding vector as TransformerLens processes GPT-2 (γ of the final LayerNorm "
         "folded in, centred over the vocabulary, not normalised) added at every position to the residual stream "
         "entering the successor head's layer (for L9H1: the end of layer 8); the successor head's attention from "
         "the last position to the day, averaged over the 7 prompts. The seed does not say at which positions it "
         "added the vector; the figure also shows the last position only.")
CLAIMS = CLAIMS + tuple(
    Claim(
        id=f"day-circuit.copy-l{l}h{h}", source=SEED_002.at("Behaviour of (10, 3)"),
        statement=f"Read through the logit lens, head L{l}H{h}'s own output gives the prompt's day (the subject day) "
                  f"a mean probability of {v}: it copies the day.",
        about=GPT2_SMALL, keys=("day-circuit.head-lens:subject_mean",), compute=_head_at(l, h),
        published=f"{v}", predicate=_near(v, 0.02), fmt=".4f",
        criterion=f"Reproduced within ± 0.02 of {v} (a model without L{l}H{h} has no value)",
        conventions=DAYS_TASK + " " + HEAD_LENS)
    for l, h, v in COPY_CLAIMS) + (
    Claim(
        id="day-circuit.successor-attention", source=SEED_002.at("Attention patterns"),
        statement="From the last position, the successor head L9H1 puts a mean attention of 0.2097 on the day "
                  "token (most of the rest goes to the BOS).",
        about=GPT2_SMALL, keys=("day-circuit.attention:successor_attention",), published=0.2097, tolerance=0.01,
        fmt=".4f", conventions=DAYS_TASK + " The successor head is the successor search's best head; the weight "
                                            "on position 4 (the day), averaged over the 7 prompts."),
    Claim(
        id="day-circuit.copying-attention", source=SEED_002.at("Attention patterns"),
        statement="From the last position, the copying head L10H3 puts a mean attention of 0.7133 on the day token.",
        about=GPT2_SMALL, keys=("day-circuit.attention:copying_attention",), published=0.7133, tolerance=0.01,
        fmt=".4f", conventions=DAYS_TASK + " The copying head followed is, among the heads whose lens gives the day "
                                            "≥ 30%, the one whose mean ablation lowers the correct probability most; "
                                            "the weight on position 4, averaged over the 7 prompts."),
    Claim(
        id="day-circuit.fixed-attention-helps", source=SEED_002.at("Attention patterns"),
        statement="Setting the successor head's last-position attention to 1 on the day token raises the correct "
                  "probability above the unchanged model's.",
        about=GPT2_SMALL, keys=("day-circuit.streams:successor_fixed_gain",),
        published="an improved performance", predicate=lambda gain: gain > 0, fmt="+.4f",
        criterion="Reproduced when the mean correct probability with the attention fixed exceeds the unchanged "
                  "model's (the number: the difference)",
        conventions=DAYS_TASK + " The attention row of the last position replaced by one that is 1 on the day; "
                                "correct probability at the output, averaged over the 7 prompts."),
    Claim(
        id="day-circuit.subject-stream", source=SEED_002.at("Attention patterns"),
        statement="Of all positions, the day token is the one that, given all of L9H1's and L10H3's last-position "
                  "attention, gives the highest correct probability.",
        about=GPT2_SMALL, keys=("day-circuit.streams:best_key.both",),
        published="the day's position (the 4th stream)", predicate=lambda key: str(key).startswith("4:"),
        criterion="Reproduced when position 4, the day, gives the highest mean correct probability with both heads' "
                  "attention set on it (the value: the best position)",
        conventions=DAYS_TASK + " Both heads' last-position attention set to 1 on one position at a time (our reading "
                                "of the seed's per-stream chart: it names both heads together)."),
    Claim(
        id="day-circuit.tomorrow-top", source=SEED_002.at("Logit lens applied to layers"),
        statement="Through the logit lens, “ tomorrow” is the top token at the last position after layers 8 and 9 "
                  "(for all prompts but one), and after no other layer.",
        about=GPT2_SMALL, keys=("day-circuit.layer-lens:tomorrow_layers",),
        published="layers 8 and 9", predicate=lambda layers: list(layers) == [8, 9],
        criterion="Reproduced when the layers after which “ tomorrow” is the top-1 token on at least 6 of the 7 "
                  "prompts are exactly 8 and 9 (the value: those layers)",
        conventions=DAYS_TASK + " The stream after each layer (resid_post) at the last position, final LayerNorm "
                                "with its own scale, γ and β, then W_U."),
    Claim(
        id="day-circuit.peak-layer", source=SEED_002.at("Logit lens applied to layers"),
        statement="Through the logit lens, the correct day's probability is highest after layer 10, not at the "
                  "output: layer 11 lowers it.",
        about=GPT2_SMALL, keys=("day-circuit.layer-lens:peak_layer",),
        published="layer 10", predicate=lambda layer: layer == 10,
        criterion="Reproduced when the mean correct probability over the 7 prompts peaks after layer 10 (the value: "
                  "the peak layer)",
        conventions=DAYS_TASK + " The stream after each layer at the last position through the lens, as above."),
) + tuple(
    Claim(
        id=f"day-circuit.steer-{name}", source=SEED_002.at("Logit lens applied to layers"),
        statement=f"Adding α = {a} times the unembedding vector of “ tomorrow” to the stream at the end of layer 8 "
                  f"changes L9H1's mean attention from the last position to the day to {v}.",
        about=GPT2_SMALL, keys=(f"day-circuit.steering:attention_{name}",), published=v, tolerance=0.02,
        fmt=".4f", conventions=DAYS_TASK + " " + STEER)
    for name, a, v in (("m5", -5, 0.0322), ("m1", -1, 0.1522), ("5", 5, 0.5864), ("100", 100, 0.7499))) + (
    Claim(
        id="day-circuit.mlp9-decopies", source=SEED_002.at("Layer MLPs"),
        statement="Through the logit lens, MLP 9 raises the correct day's probability more than any other MLP, and "
                  "it does so by moving weight from the prompt's own day to the next one: it decopies.",
        about=GPT2_SMALL, keys=("day-circuit.mlps:helpful_verdict",),
        published="MLP 9, decopying", predicate=lambda v: list(v) == [9, True],
        criterion="Reproduced when the MLP with the largest rise in the lens's correct probability is MLP 9 and, in "
                  "its normalised day table, the prompt's day falls and the correct day rises across it (the value: "
                  "that MLP, and whether it decopies)",
        conventions=DAYS_TASK + " Correct probability through the lens (final LayerNorm, W_U) of the last position's "
                                "stream just before (resid_mid) and after (resid_post) each MLP, averaged over the "
                                "prompts; the day table: the 7 day logits per prompt normalised by their mean and "
                                "standard deviation, the subject's and the correct day's entries averaged."),
    Claim(
        id="day-circuit.mlp7-harmful", source=SEED_002.at("Layer MLPs"),
        statement="Through the logit lens, MLP 7 lowers the correct day's probability more than any other MLP.",
        about=GPT2_SMALL, keys=("day-circuit.mlps:harmful", "day-circuit.mlps:harmful_lowers"), compute=_pair,
        published="MLP 7", predicate=lambda v: list(v) == [7, True],
        criterion="Reproduced when MLP 7 has the most negative change of the lens's correct probability (the value: "
                  "that MLP, and whether its change is negative)",
        conventions=DAYS_TASK + " As for MLP 9."),
    Claim(
        id="day-circuit.mlp0-ablation", source=SEED_002.at("Layer MLPs"),
        statement="Zero-ablating MLP 0 lowers the correct day's probability at the output by far the most of the 12 "
                  "MLPs.",
        about=GPT2_SMALL, keys=("day-circuit.mlps:needed",),
        published="MLP 0", predicate=lambda layer: layer == 0,
        criterion="Reproduced when zero-ablating MLP 0 gives the most negative mean change of the correct "
                  "probability (the value: the MLP that does)",
        conventions=DAYS_TASK + " The MLP's output (b_out included) replaced by zero at every position; the change "
                                "in the output's correct probability, averaged over the 7 prompts."),
)


SUBSETS = (DAYS_TASK + " Every head outside the kept set has its result replaced at every position by its mean over the "
           "mean-ablation (or the random-ablation) dataset of the single-head ablations. A greedy search starts from the "
           "successor head and the copying head followed on the page and adds, one at a time, the head (in layers up "
           "to the one after the successor head's) that most raises the mean correct probability read through the "
           "logit lens at the end of that layer (layer 10 in GPT-2 124M, as the seed reads it), until the correct "
           "day is top-1 there on all 7 prompts or 8 heads are kept. The seed found its sets by hand; the search is "
           "ours, so a set larger than the seed's that contains it counts as reproduced.")
CLAIMS = CLAIMS + (
    Claim(
        id="day-circuit.subset-mean", source=SEED_002.at("Finding a subset under mean ablation"),
        statement="With every other head mean-ablated, L9H1 and L10H3 alone are not enough; adding the layer-8 heads "
                  "L8H1, L8H6 and L8H8 restores the correct day at the end of layer 10.",
        about=GPT2_SMALL, keys=("day-circuit.subsets:mean.heads",),
        published="L9H1, L10H3, L8H1, L8H6, L8H8",
        predicate=lambda heads: {"L9H1", "L10H3", "L8H1", "L8H6", "L8H8"} <= set(heads),
        criterion="Reproduced when the set the greedy search ends with under mean ablation contains L9H1, L10H3, "
                  "L8H1, L8H6 and L8H8 (the value: the set found)",
        conventions=SUBSETS),
    Claim(
        id="day-circuit.subset-random", source=SEED_002.at("Finding a subset under random ablation"),
        statement="With every other head random-ablated, those five heads are not enough; adding the copying head "
                  "L6H9 makes them work.",
        about=GPT2_SMALL, keys=("day-circuit.subsets:random.heads",),
        published="L9H1, L10H3, L8H1, L8H6, L8H8, L6H9",
        predicate=lambda heads: {"L9H1", "L10H3", "L8H1", "L8H6", "L8H8", "L6H9"} <= set(heads),
        criterion="Reproduced when the set the greedy search ends with under random ablation contains the five "
                  "heads of the mean-ablation set and L6H9 (the value: the set found)",
        conventions=SUBSETS),
)

# --- the day-of-week circuit in vitro, months and numbers (seed 002; figgen/figures/day_circuit_vitro.py) ----


VITRO = ("The setup in the seed's form: the stream entering the successor head's layer (token and position "
         "embeddings, the layer biases b_O before it and at most one MLP's output; every earlier head removed) is "
         "read by the heads, whose attention from the final position is set to 1 on the subject token; only the heads' "
         "outputs (and their layers' b_O) are summed, the stream they read is not added back; at most one MLP reads "
         "that sum (through its own LayerNorm) and its output is added to it; then the final LayerNorm and W_U. The search tries the successor "
         "head, at most one of the 3 heads (in its layer or later) with the highest subject-day probability, and "
         "every MLP, smallest setups first, and keeps the smallest with the correct top-1 on all 7 prompts.")
NUMBERS_TASK = ("Prompts “If the number is <n>, the next is” for n = 1..100 (the seed's own number template is not in "
                "its text; ours puts the number at position 5, the seed's at 2); the answer is “ <n+1>”; attention "
                "fixed on the number.")
CLAIMS = CLAIMS + (
    Claim(
        id="day-circuit.vitro-circuit", source=SEED_002.at("Testing our theories"),
        statement="The smallest in-vitro setup that solves the day task is MLP 0's output read by L9H1 and L10H3 "
                  "(attention fixed on the day), then MLP 9, then the unembedding.",
        about=GPT2_SMALL, keys=("day-circuit.in-vitro:components",),
        published="MLP 0 → L9H1 + L10H3 → MLP 9", predicate=lambda c: list(c) == ["mlp0", "L9H1", "L10H3", "mlp9"],
        criterion="Reproduced when the search's smallest setup with the correct day top-1 on all 7 prompts is exactly "
                  "MLP 0, L9H1, L10H3 and MLP 9 (the value: the components found)",
        conventions=DAYS_TASK + " " + VITRO),
    Claim(
        id="day-circuit.vitro-all-seven", source=SEED_002.at("Testing our theories"),
        statement="That setup gives the correct day as its top prediction on all 7 prompts.",
        about=GPT2_SMALL, keys=("day-circuit.in-vitro:n_top1",),
        published="all 7 prompts", predicate=lambda n: n == 7,
        criterion="Reproduced when the chosen setup has the correct day top-1 on all 7 prompts (the number: on how many)",
        conventions=DAYS_TASK + " " + VITRO),
    Claim(
        id="day-circuit.vitro-without-mlp9", source=SEED_002.at("Testing our theories"),
        statement="Without MLP 9 the same setup fails on two prompts: Monday → Tuesday and Sunday → Monday.",
        about=GPT2_SMALL, keys=("day-circuit.in-vitro:without_after.wrong",),
        published="Monday and Sunday wrong", predicate=lambda w: list(w) == ["Monday", "Sunday"],
        criterion="Reproduced when the chosen setup without its read-out MLP has a wrong top-1 on exactly the Monday "
                  "and the Sunday prompts (the value: the prompts it gets wrong)",
        conventions=DAYS_TASK + " " + VITRO),
    Claim(
        id="day-circuit.months-but-july", source=SEED_002.at("The month task"),
        statement="The day circuit, unchanged, completes every month prompt but July's, where it predicts “ Aug”.",
        about=GPT2_SMALL, keys=("day-circuit.generalisation:month.wrong_pairs",),
        published="all but July → ␣Aug", predicate=lambda v: list(v) == ["July → ␣Aug"],
        criterion="Reproduced when the only month prompt whose top-1 token is not the next month is July's, and its "
                  "top-1 is “␣Aug” (the value: the wrong prompts and their top-1 tokens)",
        conventions="The 12 prompts “If this month is <Month>, next month is” (the month at position 5, where the seed "
                    "fixes attention); " + VITRO),
    Claim(
        id="day-circuit.month-successor", source=SEED_002.at("The month task"),
        statement="No head ranks the next month first among the 12 months on all 12 prompts; allowing one miss, only "
                  "L9H1 does.",
        about=GPT2_SMALL, keys=("day-circuit.month-distribution:head", "day-circuit.month-distribution:score"),
        compute=_pair, published="L9H1, on 11 of 12", predicate=lambda v: list(v) == ["L9H1", 11],
        criterion="Reproduced when the day task's successor head is L9H1 and it ranks the next month first among the "
                  "12 month tokens on exactly 11 of the 12 month prompts (the value: the head and its count)",
        conventions="The 12 prompts “If this month is <Month>, next month is”, the full model; the head's output at the "
                    "last position minus b_V·W_O, centred, times the final LayerNorm's γ, times W_U at the 12 month tokens."),
    Claim(
        id="day-circuit.numbers-mean-prob", source=SEED_002.at("The number task"),
        statement="MLP 0 and L9H1 alone (attention fixed on the number) give the next number a mean probability of "
                  "0.7363 over n = 1..100.",
        about=GPT2_SMALL, keys=("day-circuit.generalisation:number_simple.mean_prob",),
        published=0.7363, tolerance=0.02, fmt=".4f",
        conventions=NUMBERS_TASK + " The setup: the day circuit's feeding MLP and its successor head only, the stream "
                    "it reads not added back; mean of the correct token's probability."),
    Claim(
        id="day-circuit.numbers-top1", source=SEED_002.at("The number task"),
        statement="The same setup answers 83 of the 100 number prompts correctly (top-1).",
        about=GPT2_SMALL, keys=("day-circuit.generalisation:number_simple.n_top1",),
        published=83, tolerance=2,
        conventions=NUMBERS_TASK + " The setup: the day circuit's feeding MLP and its successor head only; top-1 token."),
)
