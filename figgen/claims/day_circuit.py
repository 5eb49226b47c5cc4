"""The day-of-week circuit's claims (seed 002, Gould et al.): in vivo, subsets, in vitro, months and numbers.

Each claim measures what the post states on the post's own heads, sets and setups, in the post's weight
processing (TransformerLens's defaults, figgen.analysis.processing). A claim about a named head reads that
head's entry (`_head_at`, or the figure's `named` block); one about "the heads the page follows" counts only
when the page follows the post's heads (`_if_post`: on a model without GPT-2 124M's shape it has no value).
Which head a search of ours ranks first is shown on the page, never judged here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .core import GPT2_SMALL, SEED_002, Claim, _pair

DAYS_TASK = ("The 7 prompts “If today is <Day>, tomorrow is”, one per day; the correct answer is the next day's "
             "token with a leading space; BOS prepended.")
PROCESSING = ("Weights as TransformerLens's HookedTransformer.from_pretrained processes them, as the post's notebook "
              "did (fold_ln, center_writing_weights, center_unembed, fold_value_biases): a head's output is its result "
              "minus (b_V + β₁·W_V)·W_O, the term those steps move into b_O. ")
HEAD_READ = (PROCESSING + "The head's output at the last position is read as the post defines the logit lens of a "
             "component: the final LayerNorm applied to it alone (its own scale, γ, and β, TransformerLens's b_U), then "
             "W_U; softmax over the whole vocabulary. The other common reading (cache.apply_ln_to_stack: the final "
             "stream's scale, no b_U) is on the page too. ")
DATASETS = ("Mean ablation replaces a head's result at every position by its mean over 512 prompts “If today is <x>, "
            "tomorrow is”, random ablation by its mean over 512 prompts “If <x> is <y>, <z> is”, <x>, <y>, <z> "
            "one-token words with a leading space, drawn at random but the same on every build (the post's dataset size is not in its "
            "text); zero ablation sets it to zero in the processed model, which leaves the head's value-bias term in "
            "b_O. The change is the mean over the 7 prompts of the correct day's probability at the output. ")
TL = "TransformerLens 4.3 with its default processing, on mini and on a GPT-2-shaped model with random biases: "
TL_HEADS = TL + "each head's processed hook_result through its ln_final and unembed (tests/test_transformer_lens.py::test_head_readings)."
TL_ABLATION = TL + "hook_result replaced by zero or by dataset means (tests/test_transformer_lens.py::test_ablations)."
TL_ATTENTION = TL + "hook_pattern read and overwritten (tests/test_transformer_lens.py::test_attention_and_fixed_rows)."
TL_STEER = TL + "α·W_U[:, “␣tomorrow”] added at hook_resid_pre (tests/test_transformer_lens.py::test_steering)."
TL_LAYERS = TL + "hook_resid_mid / hook_resid_post through ln_final and unembed, hook_mlp_out zeroed (tests/test_transformer_lens.py::test_layers_and_mlps)."
TL_SUBSETS = TL + "every other head's hook_result replaced by its dataset mean (tests/test_transformer_lens.py::test_subsets)."
TL_VITRO = TL + "the post's setups rebuilt from its hooks and processed weights (tests/test_transformer_lens.py::test_in_vitro)."
TL_MONTHS = TL + "the month prompts' head outputs read as for the days (tests/test_transformer_lens.py::test_head_readings)."


def _head_at(layer: int, head: int) -> Callable[[list], Any]:
    """A (layer × head) table → its entry for one head; None on a model without that head (other model)."""
    def pick(table: list) -> Any:
        return table[layer][head] if layer < len(table) and head < len(table[layer]) else None
    return pick


def _near(published: float, tolerance: float) -> Callable[[Any], bool]:
    """A predicate: the computed number is within `tolerance` of `published` (False for None: no such head)."""
    return lambda v: v is not None and abs(v - published) <= tolerance


def _if_post(value, follows_post: bool):
    """The value measured on the heads the page follows, when those are the post's (else None)."""
    return value if follows_post else None


def _shown(value: float) -> str:
    """A probability the post prints to 4 decimals, as the site shows it: 2 significant figures (the post's
    exact value stays in the claim's criterion)."""
    return f"{value:.2g}" if value < 0.1 else f"{value:.2f}"


def _named(*labels: str, kinds=None) -> Callable[[dict | None], Any]:
    """The post's named heads' entries of a figure's `named` block ({label: value or {kind: value}})."""
    def pick(named: dict | None):
        if not named:
            return None
        return [named[x] if kinds is None else [named[x][k] for k in kinds] for x in labels]
    return pick


# --- the task and single-head ablation ----------------------------------------------------------------
CLAIMS: tuple[Claim, ...] = (
    Claim(
        id="day-circuit.solves-all", source=SEED_002.at("The Task"),
        short="The model gets all seven days right.",
        statement="GPT-2 small solves the next-day task: for each of the 7 prompts its top prediction is the "
                  "correct next day.",
        about=GPT2_SMALL, keys=("day-circuit.task:n_top1",),
        published="all 7 prompts", predicate=lambda n: n == 7,
        criterion="Reproduced when the correct day is the top-1 token on all 7 prompts (the number: on how many)",
        conventions=DAYS_TASK, checked="transformers' own forward pass (tests/test_checks.py) and TransformerLens "
                                       "(tests/test_transformer_lens.py::test_ablations, the clean run)"),
    Claim(
        id="day-circuit.l10h3-ablation", source=SEED_002.at("Head ablation"),
        short="Removing L10H3 hurts most (mean and random ablation).",
        statement="Removing head L10H3 lowers the correct day's probability more than removing any other single "
                  "head, under both mean and random ablation.",
        about=GPT2_SMALL, keys=("day-circuit.ablation:mean.most_harmful", "day-circuit.ablation:random.most_harmful"),
        compute=_pair, published="L10H3 under mean and under random ablation",
        predicate=lambda v: list(v) == ["L10H3", "L10H3"],
        criterion="Reproduced when L10H3 has the most negative change of the correct probability under mean ablation "
                  "and under random ablation, of all 144 heads (the value: the most harmful head under each)",
        conventions=DAYS_TASK + " " + DATASETS, checked=TL_ABLATION),
    Claim(
        id="day-circuit.zero-ablation-peers", source=SEED_002.at("Head ablation"),
        short="Under zero ablation, L0H8 and L11H0 matter as much as L10H3.",
        statement="Under zero ablation L10H3's removal still hurts, but removing L0H8 or L11H0 hurts about as much.",
        about=GPT2_SMALL, keys=("day-circuit.ablation:named",), compute=_named("L10H3", "L0H8", "L11H0", kinds=("zero",)),
        published="L0H8 and L11H0 as significant as L10H3",
        predicate=lambda v: v is not None and v[0][0] < 0 and all(x[0] <= 0.5 * v[0][0] for x in v[1:]),
        criterion="Reproduced when zero-ablating L10H3 lowers the correct probability, and zero-ablating L0H8 and "
                  "L11H0 each lowers it by at least half as much (the values: the three changes)",
        fmt="+.3f", conventions=DAYS_TASK + " " + DATASETS, checked=TL_ABLATION),
    Claim(
        id="day-circuit.destructive-heads", source=SEED_002.at("Head ablation"),
        short="Removing L8H9 or L10H7 helps.",
        statement="Some heads are consistently destructive: removing L8H9 or L10H7 raises the correct day's "
                  "probability, under every kind of ablation.",
        about=GPT2_SMALL, keys=("day-circuit.ablation:named",),
        compute=_named("L8H9", "L10H7", kinds=("zero", "mean", "random")),
        published="L8H9 and L10H7: removal improves performance",
        predicate=lambda v: v is not None and all(x > 0 for row in v for x in row),
        criterion="Reproduced when zero, mean and random ablation of L8H9 and of L10H7 all raise the mean correct "
                  "probability (the values: the six changes, zero, mean, random for each)",
        fmt="+.3f", conventions=DAYS_TASK + " " + DATASETS, checked=TL_ABLATION),
    Claim(
        id="day-circuit.layer8-helpers", source=SEED_002.at("Head ablation"),
        short="L8H1, L8H6 and L8H8 help (mean and random ablation).",
        statement="Under mean and under random ablation, L8H1, L8H6 and L8H8 help push the correct day: removing any "
                  "of them lowers its probability.",
        about=GPT2_SMALL, keys=("day-circuit.ablation:named",),
        compute=_named("L8H1", "L8H6", "L8H8", kinds=("mean", "random")),
        published="L8H1, L8H6 and L8H8 helpful under mean and random ablation",
        predicate=lambda v: v is not None and all(x < 0 for row in v for x in row),
        criterion="Reproduced when mean and random ablation of each of L8H1, L8H6 and L8H8 lower the mean correct "
                  "probability (the values: the six changes, mean and random for each)",
        fmt="+.3f", conventions=DAYS_TASK + " " + DATASETS, checked=TL_ABLATION),
)

# --- what each head's output says on its own -------------------------------------------------------------
COPY_CLAIMS = ((10, 3, 0.5869), (6, 9, 0.8075), (7, 10, 0.4078), (8, 1, 0.5489))
CLAIMS = CLAIMS + (
    Claim(
        id="day-circuit.successor-head", source=SEED_002.at("Logit lens applied to heads"),
        short="Only L9H1 ranks the correct day first on every prompt.",
        statement="Exactly one head, L9H1, ranks the correct day above the other six days in its own output, on "
                  "all 7 prompts.",
        about=GPT2_SMALL, keys=("day-circuit.successor:own.all_seven",),
        published="only L9H1", predicate=lambda heads: list(heads) == ["L9H1"],
        criterion="Reproduced when the heads whose output ranks the correct day first among the 7 day tokens on all 7 "
                  "prompts are exactly [L9H1] (the value: the heads found, of all 144)",
        conventions=DAYS_TASK + " " + HEAD_READ + "Only the 7 day logits are compared.", checked=TL_HEADS),
) + tuple(
    Claim(
        id=f"day-circuit.copy-l{l}h{h}", source=SEED_002.at("Behaviour of (10, 3)"),
        short=f"L{l}H{h} copies the day (mean probability).",
        statement=f"Read through the logit lens, head L{l}H{h}'s own output gives the prompt's day (the subject day) "
                  f"a mean probability of about {_shown(v)}: it copies the day.",
        about=GPT2_SMALL, keys=("day-circuit.head-lens:subject_mean",), compute=_head_at(l, h),
        published=_shown(v), predicate=_near(v, 0.02), fmt=".3f",
        criterion=f"Reproduced within ± 0.02 of the post's {v} (a model without L{l}H{h} has no value)",
        conventions=DAYS_TASK + " " + HEAD_READ + "The subject day's probability averaged over the 7 prompts.",
        checked=TL_HEADS)
    for l, h, v in COPY_CLAIMS) + (
    Claim(
        id="day-circuit.l10h3-top-token", source=SEED_002.at("Logit lens applied to heads"),
        short="L10H3's top token is the prompt's own day (but on Tuesday).",
        statement="L10H3's most confident prediction is the prompt's own day on every prompt but Tuesday → Wednesday, "
                  "where it is the correct day.",
        about=GPT2_SMALL, keys=("day-circuit.head-lens:top",), compute=_head_at(10, 3),
        published="the subject day, but “␣Wednesday” on the Tuesday prompt",
        predicate=lambda tops: tops is not None and list(tops) == ["␣Monday", "␣Wednesday", "␣Wednesday", "␣Thursday",
                                                                   "␣Friday", "␣Saturday", "␣Sunday"],
        criterion="Reproduced when L10H3's top-1 token on the 7 prompts, Monday to Sunday, is each prompt's own day "
                  "except on the Tuesday prompt, where it is “␣Wednesday” (the value: the 7 top-1 tokens)",
        conventions=DAYS_TASK + " " + HEAD_READ, checked=TL_HEADS),
)

# --- attention, the layers, steering and the MLPs -----------------------------------------------------------
STEER = (PROCESSING + "α times “␣tomorrow”'s unembedding vector as TransformerLens has it (W_U's column with the final "
         "LayerNorm's γ folded in, centred; not normalised) added at every position to the residual stream at the end "
         "of layer 8; L9H1's attention from the last position to the day, averaged over the 7 prompts. The post does "
         "not say at which positions it added the vector; the page also shows the last position only.")
CLAIMS = CLAIMS + (
    Claim(
        id="day-circuit.successor-attention", source=SEED_002.at("Attention patterns"),
        short="L9H1's attention to the day.",
        statement="From the last position, L9H1 puts a mean attention of about 0.21 on the day token (most of the rest "
                  "goes to the BOS).",
        about=GPT2_SMALL, keys=("day-circuit.attention:successor_attention", "day-circuit.attention:follows_post"),
        compute=_if_post, published="0.21", predicate=_near(0.2097, 0.01), fmt=".3f",
        criterion="Reproduced within ± 0.01 of the post's 0.2097",
        conventions=DAYS_TASK + " The weight of L9H1's last-position row on position 4 (the day), averaged over the "
                                "7 prompts.", checked=TL_ATTENTION),
    Claim(
        id="day-circuit.copying-attention", source=SEED_002.at("Attention patterns"),
        short="L10H3's attention to the day.",
        statement="From the last position, L10H3 puts a mean attention of about 0.71 on the day token.",
        about=GPT2_SMALL, keys=("day-circuit.attention:copying_attention", "day-circuit.attention:follows_post"),
        compute=_if_post, published="0.71", predicate=_near(0.7133, 0.01), fmt=".3f",
        criterion="Reproduced within ± 0.01 of the post's 0.7133",
        conventions=DAYS_TASK + " The weight of L10H3's last-position row on position 4, averaged over the 7 prompts.",
        checked=TL_ATTENTION),
    Claim(
        id="day-circuit.fixed-attention-helps", source=SEED_002.at("Attention patterns"),
        short="Fixing L9H1's attention on the day helps.",
        statement="Setting L9H1's last-position attention to 1 on the day token raises the correct probability above "
                  "the unchanged model's.",
        about=GPT2_SMALL, keys=("day-circuit.streams:successor_fixed_gain", "day-circuit.streams:follows_post"),
        compute=_if_post, published="an improved performance", predicate=lambda gain: gain is not None and gain > 0,
        fmt="+.3f",
        criterion="Reproduced when the mean correct probability with the attention fixed exceeds the unchanged "
                  "model's (the number: the difference)",
        conventions=DAYS_TASK + " L9H1's attention row of the last position replaced by one that is 1 on the day; "
                                "correct probability at the output, averaged over the 7 prompts.", checked=TL_ATTENTION),
    Claim(
        id="day-circuit.subject-stream", source=SEED_002.at("Attention patterns"),
        short="The day is the only position that works.",
        statement="Of all positions, the day token is the one that, given all of L9H1's and L10H3's last-position "
                  "attention, gives the highest correct probability.",
        about=GPT2_SMALL, keys=("day-circuit.streams:best_key.both", "day-circuit.streams:follows_post"),
        compute=_if_post, published="the day's position (the 4th stream)",
        predicate=lambda key: key is not None and str(key).startswith("4:"),
        criterion="Reproduced when position 4, the day, gives the highest mean correct probability with both heads' "
                  "attention set on it (the value: the best position)",
        conventions=DAYS_TASK + " Both heads' last-position attention set to 1 on one position at a time (our reading "
                                "of the post's per-stream chart: it names both heads together).", checked=TL_ATTENTION),
    Claim(
        id="day-circuit.tomorrow-top", source=SEED_002.at("Logit lens applied to layers"),
        short="“␣tomorrow” tops the lens after layers 8 and 9.",
        statement="Through the logit lens, “␣tomorrow” is the top token at the last position after layers 8 and 9 "
                  "(for all prompts but one), and after no other layer.",
        about=GPT2_SMALL, keys=("day-circuit.layer-lens:tomorrow_layers",),
        published="layers 8 and 9", predicate=lambda layers: list(layers) == [8, 9],
        criterion="Reproduced when the layers after which “␣tomorrow” is the top-1 token on at least 6 of the 7 "
                  "prompts are exactly 8 and 9 (the value: those layers)",
        conventions=DAYS_TASK + " The stream after each layer (resid_post) at the last position, final LayerNorm "
                                "with its own scale, γ and β, then W_U (the same in either processing).",
        checked=TL_LAYERS),
    Claim(
        id="day-circuit.peak-layer", source=SEED_002.at("Logit lens applied to layers"),
        short="The correct day peaks after layer 10.",
        statement="Through the logit lens, the correct day's probability is highest after layer 10, not at the "
                  "output: layer 11 lowers it.",
        about=GPT2_SMALL, keys=("day-circuit.layer-lens:peak_layer",),
        published="layer 10", predicate=lambda layer: layer == 10,
        criterion="Reproduced when the mean correct probability over the 7 prompts peaks after layer 10 (the value: "
                  "the peak layer)",
        conventions=DAYS_TASK + " The stream after each layer at the last position through the lens, as above.",
        checked=TL_LAYERS),
    Claim(
        id="day-circuit.day-ranks-by-layer", source=SEED_002.at("Logit lens applied to layers"),
        short="Layer 8: the subject day leads; layer 9: the correct one.",
        statement="Among the 7 days, the lens ranks the prompt's own day first at the end of layer 8, and the correct "
                  "day first at the end of layer 9 on every prompt but Monday → Tuesday.",
        about=GPT2_SMALL, keys=("day-circuit.layer-lens:subject_first_layers", "day-circuit.layer-lens:correct_first_misses"),
        compute=lambda subject, misses: [8 in subject, misses[9] if len(misses) > 9 else None],
        published="layer 8: the subject day; layer 9: the correct day except on Monday",
        predicate=lambda v: v[0] is True and v[1] == ["Monday"],
        criterion="Reproduced when, after layer 8, the subject day has the largest of the 7 day logits on all 7 "
                  "prompts, and after layer 9 the correct day has it on every prompt but the Monday one (the value: "
                  "whether the first holds, and the prompts the second misses)",
        conventions=DAYS_TASK + " The stream after each layer at the last position through the lens; only the 7 day "
                                "logits compared.", checked=TL_LAYERS),
) + tuple(
    Claim(
        id=f"day-circuit.steer-{name}", source=SEED_002.at("Logit lens applied to layers"),
        short=f"α = {str(a).replace('-', '−')}: L9H1's attention to the day.",
        statement=f"Adding α = {str(a).replace('-', '−')} times the unembedding vector of “␣tomorrow” to the stream at the end of layer 8 "
                  f"changes L9H1's mean attention from the last position to the day to about {_shown(v)}.",
        about=GPT2_SMALL, keys=(f"day-circuit.steering:attention_{name}", "day-circuit.steering:follows_post"),
        compute=_if_post, published=_shown(v), predicate=_near(v, 0.02), fmt=".3f",
        criterion=f"Reproduced within ± 0.02 of the post's {v}",
        conventions=DAYS_TASK + " " + STEER, checked=TL_STEER)
    for name, a, v in (("m5", -5, 0.0322), ("m1", -1, 0.1522), ("5", 5, 0.5864), ("100", 100, 0.7499))) + (
    Claim(
        id="day-circuit.mlp9-decopies", source=SEED_002.at("Layer MLPs"),
        short="MLP 9 helps most, by decopying.",
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
                                "standard deviation, the subject's and the correct day's entries averaged.",
        checked=TL_LAYERS),
    Claim(
        id="day-circuit.mlp7-harmful", source=SEED_002.at("Layer MLPs"),
        short="MLP 7 hurts most through the lens.",
        statement="Through the logit lens, MLP 7 lowers the correct day's probability more than any other MLP.",
        about=GPT2_SMALL, keys=("day-circuit.mlps:harmful", "day-circuit.mlps:harmful_lowers"), compute=_pair,
        published="MLP 7", predicate=lambda v: list(v) == [7, True],
        criterion="Reproduced when MLP 7 has the most negative change of the lens's correct probability (the value: "
                  "that MLP, and whether its change is negative)",
        conventions=DAYS_TASK + " As for MLP 9.", checked=TL_LAYERS),
    Claim(
        id="day-circuit.mlp0-ablation", source=SEED_002.at("Layer MLPs"),
        short="Removing MLP 0 does the most damage.",
        statement="Zero-ablating MLP 0 lowers the correct day's probability at the output by far the most of the 12 "
                  "MLPs.",
        about=GPT2_SMALL, keys=("day-circuit.mlps:needed",),
        published="MLP 0", predicate=lambda layer: layer == 0,
        criterion="Reproduced when zero-ablating MLP 0 gives the most negative mean change of the correct "
                  "probability (the value: the MLP that does)",
        conventions=DAYS_TASK + " The MLP's output (b_out included) replaced by zero at every position; the change "
                                "in the output's correct probability, averaged over the 7 prompts.", checked=TL_LAYERS),
)

# --- keeping only a few heads (the post's sets) ---------------------------------------------------------------
SUBSETS = (DAYS_TASK + " Every head outside the kept set has its result replaced at every position by its mean over the "
           "mean-ablation (or the random-ablation) dataset of the single-head ablations; the MLPs run. The correct "
           "probability is read through the lens at the end of layer 10, as the post reads it, and averaged over the "
           "7 prompts. The sets are the post's: {L9H1, L10H3}, with L8H1, L8H6 and L8H8, and with L6H9 as well. The "
           "post's probabilities for them are images lost from its text, so what is compared is their order.")


def _subset_values(kind: str, *names: str) -> Callable[[dict | None], Any]:
    def pick(post: dict | None):
        return None if post is None else [post[kind][n]["lens"] for n in names]
    return pick


CLAIMS = CLAIMS + (
    Claim(
        id="day-circuit.subset-mean", source=SEED_002.at("Finding a subset under mean ablation"),
        short="Mean ablation: the five heads beat the two.",
        statement="With every other head mean-ablated, L9H1 and L10H3 alone are not enough; adding the layer-8 heads "
                  "L8H1, L8H6 and L8H8 gives good correct probabilities at the end of layer 10.",
        about=GPT2_SMALL, keys=("day-circuit.subsets:post",), compute=_subset_values("mean", "pair", "five"),
        published="the five heads do better than the two",
        predicate=lambda v: v is not None and v[1] > v[0],
        criterion="Reproduced when, under mean ablation of every other head, keeping L9H1, L10H3, L8H1, L8H6 and L8H8 "
                  "gives a higher mean correct probability at the end of layer 10 than keeping L9H1 and L10H3 (the "
                  "values: the two probabilities)",
        fmt=".3f", conventions=SUBSETS, checked=TL_SUBSETS),
    Claim(
        id="day-circuit.subset-random", source=SEED_002.at("Finding a subset under random ablation"),
        short="Random ablation: L6H9 rescues the five.",
        statement="With every other head random-ablated, those five heads work less well, and adding the copying head "
                  "L6H9 improves them.",
        about=GPT2_SMALL, keys=("day-circuit.subsets:post",),
        compute=lambda post: None if post is None else [post["mean"]["five"]["lens"], post["random"]["five"]["lens"],
                                                        post["random"]["six"]["lens"]],
        published="five heads worse under random ablation; L6H9 added, better",
        predicate=lambda v: v is not None and v[1] < v[0] and v[2] > v[1],
        criterion="Reproduced when the five heads' mean correct probability at the end of layer 10 is lower under "
                  "random ablation than under mean ablation, and adding L6H9 raises it under random ablation (the "
                  "values: five under mean, five under random, six under random)",
        fmt=".3f", conventions=SUBSETS, checked=TL_SUBSETS),
)

# --- in vitro, months and numbers -------------------------------------------------------------------------------
VITRO = (PROCESSING + "In vitro, L9H1 and L10H3 read the stream entering layer 9 and only their outputs are summed "
         "and unembedded (the stream they read is not added back; the post's diagrams are lost, so that both heads "
         "read the same stream is our reading). Steps: every head of layers 0–8 random-ablated (its mean over the "
         "random-ablation dataset; the MLPs run), then zero-ablated (its value-bias term stays in b_O, as in the "
         "processed model), then with both heads' attention from the last position fixed on the day; then just the "
         "output of layer 0 (its heads zero-ablated) fed to the heads, layers 1–8 left out entirely; then MLP 9 reading "
         "the heads' sum through its own LayerNorm, its output added to that sum, before the final LayerNorm and W_U.")
MONTHS_TASK = ("The 12 prompts “If this month is <Month>, next month is” (the post's template is lost; ours puts the "
               "month at position 5, where the post fixes attention). ")
NUMBERS_LOST = ("The post's number template is lost from its text (only that the number is its second token after "
                "the BOS); ours, “If the number is <n>, the next is”, puts it at position 5, and the template moves "
                "these numbers, so the post's values cannot be compared.")
NUMBERS_TASK = ("Prompts “If the number is <n>, the next is” for n = 1..100; the answer is “␣<n+1>”; attention fixed "
                "on the number. " + PROCESSING)


CLAIMS = CLAIMS + (
    Claim(
        id="day-circuit.vitro-zero-collapses", source=SEED_002.at("Testing our theories"),
        short="Random ablation works, zero ablation collapses.",
        statement="L9H1 and L10H3 alone, on a model whose earlier heads are random-ablated, do well on most prompts; "
                  "with those heads zero-ablated instead, they do much worse.",
        about=GPT2_SMALL, keys=("day-circuit.in-vitro:random.mean_prob", "day-circuit.in-vitro:zero.mean_prob",
                                "day-circuit.in-vitro:post_setup"),
        compute=lambda r, z, post: [r, z] if post else None, published="random ablation works; zero ablation collapses",
        predicate=lambda v: v is not None and v[0] > v[1], fmt=".3f",
        criterion="Reproduced when the mean correct probability with the earlier heads random-ablated exceeds the one "
                  "with them zero-ablated (the values: the two)",
        conventions=DAYS_TASK + " " + VITRO, checked=TL_VITRO),
    Claim(
        id="day-circuit.vitro-fixed-rescues", source=SEED_002.at("Testing our theories"),
        short="Fixing the attention rescues it.",
        statement="In the zero-ablated setup, fixing L9H1's and L10H3's attention on the day improves the correct "
                  "probabilities substantially.",
        about=GPT2_SMALL, keys=("day-circuit.in-vitro:zero.mean_prob", "day-circuit.in-vitro:fixed.mean_prob",
                                "day-circuit.in-vitro:post_setup"),
        compute=lambda z, f, post: [z, f] if post else None, published="a substantial improvement",
        predicate=lambda v: v is not None and v[1] > v[0], fmt=".3f",
        criterion="Reproduced when the mean correct probability with the attention fixed exceeds the one without (the "
                  "values: without, with)",
        conventions=DAYS_TASK + " " + VITRO, checked=TL_VITRO),
    Claim(
        id="day-circuit.vitro-without-mlp9", source=SEED_002.at("Testing our theories"),
        short="Fed MLP 0 alone: only Monday and Sunday fail.",
        statement="Fed just layer 0's output, with their attention fixed, L9H1 and L10H3 get every prompt right but "
                  "two: Monday (they answer “Tuesday” without the space) and Sunday (the subject day wins).",
        about=GPT2_SMALL, keys=("day-circuit.in-vitro:fed.wrong_pairs", "day-circuit.in-vitro:post_setup"),
        compute=_if_post, published="Monday → “Tuesday”, Sunday → “␣Sunday”",
        predicate=lambda w: w is not None and list(w) == ["Monday → Tuesday", "Sunday → ␣Sunday"],
        criterion="Reproduced when the only wrong prompts are Monday's, with top-1 “Tuesday” (no space), and "
                  "Sunday's, with top-1 “␣Sunday” (the value: the wrong prompts and their top-1 tokens)",
        conventions=DAYS_TASK + " " + VITRO, checked=TL_VITRO),
    Claim(
        id="day-circuit.vitro-all-seven", source=SEED_002.at("Testing our theories"),
        short="With MLP 9 added: all seven right.",
        statement="Adding MLP 9 to that setup (MLP 0 → L9H1 + L10H3 → MLP 9) gives the correct answer on all 7 "
                  "prompts.",
        about=GPT2_SMALL, keys=("day-circuit.in-vitro:readout.n_top1", "day-circuit.in-vitro:post_setup"),
        compute=_if_post, published="all 7 prompts", predicate=lambda n: n == 7,
        criterion="Reproduced when the correct day is the top-1 token on all 7 prompts (the number: on how many)",
        conventions=DAYS_TASK + " " + VITRO, checked=TL_VITRO),
    Claim(
        id="day-circuit.months-but-july", source=SEED_002.at("The month task"),
        short="Every month but July (“␣Aug”).",
        statement="The day circuit, unchanged, completes every month prompt but July's, where it predicts “␣Aug”.",
        about=GPT2_SMALL, keys=("day-circuit.generalisation:month.wrong_pairs", "day-circuit.in-vitro:post_setup"),
        compute=_if_post, published="all but July → ␣Aug",
        predicate=lambda v: v is not None and list(v) == ["July → ␣Aug"],
        criterion="Reproduced when the only month prompt whose top-1 token is not the next month is July's, and its "
                  "top-1 is “␣Aug” (the value: the wrong prompts and their top-1 tokens)",
        conventions=MONTHS_TASK + "The in-vitro circuit's last step, attention fixed on the month. " + VITRO,
        checked=TL_VITRO),
    Claim(
        id="day-circuit.month-successor", source=SEED_002.at("The month task"),
        short="No head gets all twelve months; with one miss, only L9H1.",
        statement="No head ranks the next month first among the 12 months on all 12 prompts; allowing one miss, only "
                  "L9H1 does.",
        about=GPT2_SMALL, keys=("day-circuit.month-distribution:all_months", "day-circuit.month-distribution:all_but_one"),
        compute=_pair, published="none on all 12; only L9H1 on 11",
        predicate=lambda v: list(v[0]) == [] and list(v[1]) == ["L9H1"],
        criterion="Reproduced when no head ranks the next month first among the 12 month tokens on all 12 prompts, and "
                  "L9H1 is the only head that does on at least 11 (the values: the heads on all 12, the heads on at "
                  "least 11, of all 144)",
        conventions=MONTHS_TASK + "The whole model; each head's output at the last position read as for the days. "
                    + HEAD_READ, checked=TL_MONTHS),
    Claim(
        id="day-circuit.numbers-full-model", source=SEED_002.at("The number task"),
        short="Numbers: the small setup beats the whole model.",
        statement="The whole model does surprisingly badly on the number task; MLP 0 and L9H1 alone, attention fixed "
                  "on the number, do much better (n up to 10).",
        about=GPT2_SMALL, keys=("day-circuit.generalisation:simple_beats_full",),
        published="the simple setup far better", predicate=lambda v: v[1] > v[0], fmt=".3f",
        criterion="Reproduced when the simple setup's mean correct probability over n = 1..10 exceeds the whole "
                  "model's (the values: the whole model's, the setup's)",
        conventions=NUMBERS_TASK, not_comparable=NUMBERS_LOST, checked=TL_VITRO),
    Claim(
        id="day-circuit.numbers-mean-prob", source=SEED_002.at("The number task"),
        short="Numbers: mean probability of n + 1.",
        statement="MLP 0 and L9H1 alone (attention fixed on the number) give the next number a mean probability of "
                  "about 0.74 over n = 1..100.",
        about=GPT2_SMALL, keys=("day-circuit.generalisation:number_simple.mean_prob",),
        published=0.7363, tolerance=0.02, fmt=".3f",
        conventions=NUMBERS_TASK + " The setup: just layer 0's output (MLP 0) read by L9H1, its output alone "
                                   "unembedded; mean of the correct token's probability (the post: 0.7363).",
        not_comparable=NUMBERS_LOST, checked=TL_VITRO),
    Claim(
        id="day-circuit.numbers-top1", source=SEED_002.at("The number task"),
        short="Numbers: prompts right, of 100.",
        statement="The same setup answers 83 of the 100 number prompts correctly (top-1).",
        about=GPT2_SMALL, keys=("day-circuit.generalisation:number_simple.n_top1",),
        published=83, tolerance=2, conventions=NUMBERS_TASK + " The setup as above; top-1 token.",
        not_comparable=NUMBERS_LOST, checked=TL_VITRO),
)
