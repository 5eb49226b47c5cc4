"""The logit lens post's claims (seed 004, nostalgebraist 2020): the lens on GPT-2's stream."""

from __future__ import annotations

from .core import GPT2_FAMILY, SEED_004, Claim


# --- the logit lens (seed 004) --------------------------------------------------------------------


def _first_step_ratio(means: list[float]) -> float:
    """Drop of mean KL(final ‖ point) from the input to layer 0, over the largest later drop."""
    steps = [a - b for a, b in zip(means, means[1:])]
    later = max(steps[1:], default=0.0)
    return steps[0] / later if later > 0 else float(steps[0] > 0) * 1e6


def _at(values: list, index: int):
    return values[index]


def _late(share: float | None) -> bool:
    return share is not None and share > 0.75


def _upper_half(share: float | None) -> bool:
    return share is not None and share > 0.5


LENS = "the post's model, GPT-2 1.5B, has 48 layers: depth shares compare across sizes"
CLAIMS: tuple[Claim, ...] = (
    Claim(
        id="logit-lens.input-jump", source=SEED_004.at("KL divergence and input discarding"),
        statement="The lens's distribution jumps once, right after the input, towards the model's output, then "
                  "converges smoothly: the drop of KL(final ‖ point) from the input to the first layer is larger "
                  "than any later step.",
        about=GPT2_FAMILY, keys=("logit-lens.kl:kl_final_mean",), compute=_first_step_ratio,
        published="one discontinuous jump after the input", predicate=lambda r: r > 1,
        criterion="Reproduced when the first step's drop in mean KL(final ‖ point) exceeds every later step's "
                  "(the number: how many times larger)", fmt=".1f",
        conventions="KL in nats, mean over the prose example's positions (BOS excluded); final LayerNorm with its "
                    "own γ and β applied to every point; " + LENS + "."),
    Claim(
        id="logit-lens.middle-ranks", source=SEED_004.at("ranks"),
        statement="By the middle layers the model's final answer is already near the top of the lens's ranking.",
        about=GPT2_FAMILY, keys=("logit-lens.ranks:median_final_rank", "logit-lens.ranks:middle_row"),
        compute=_at, published="small ranks by the middle layers", predicate=lambda m: m <= 10,
        criterion="Reproduced when the median rank of the final top-1 token, over the prose example's positions, "
                  "is ≤ 10 at the middle of the depth", fmt=",.0f",
        conventions="Median over positions (BOS excluded); the middle point is the ⌊(L+1)/2⌋-th of the L+1 "
                    "points read; " + LENS + "."),
    Claim(
        id="logit-lens.plasma-late", source=SEED_004.at("copying a rare token"),
        statement="In the copying example the model predicts “plasma” correctly, but the word surfaces in the "
                  "lens only in the last layers.",
        about=GPT2_FAMILY, keys=("logit-lens.plasma:depth_share",),
        published="only in the very last layers", predicate=_late,
        criterion="Reproduced when “plasma” becomes the top guess, for good, only in the last quarter of the "
                  "layers (the number: that layer's share of the depth)", fmt=".0%",
        conventions="Rank of the copied token at the position of the second “say”, after every sublayer; "
                    + LENS + "."),
    Claim(
        id="logit-lens.repetition-upper", source=SEED_004.at("extreme repetition"),
        statement="When text repeats verbatim, the lens notices the repetition only in the upper half of the "
                  "network.",
        about=GPT2_FAMILY, keys=("logit-lens.repetition:depth_share",),
        published="noticed in the upper half", predicate=_upper_half,
        criterion="Reproduced when the lens first predicts the repeated text at ≥ 50% of the repeated positions "
                  "only beyond half the depth (the number: that layer's share of the depth)", fmt=".0%",
        conventions="Our own text, as the post does not give its: the run of arbitrary words “apple river copper "
                    "silver thunder pencil.” repeated four times, or three or two when the model's context cannot "
                    "hold four (the page's ordinary sentence, shown beside it, is not judged); counted at the "
                    "positions of the second and later copies, the lens read after the input and after every "
                    "attention sublayer and MLP; " + LENS + "."),
)

# --- the addendum: comparing to the inputs ---------------------------------------------------------


def _below(bound: float):
    def ok(value: float | None) -> bool:
        return value is not None and value < bound
    return ok


PROSE = ("The prose example: the post's passage from the GPT-3 abstract where the model predicts at least a quarter "
         "of it right, else a passage of our own (the page says which); the post's plots show stretches of the "
         "abstract with more of it before them, ours start at the segment. Positions after the BOS. ")
INPUT_RANK = "Rank 1 = the lens's top guess; the input token is the token at the position read. "
CLAIMS = CLAIMS + (
    Claim(
        id="logit-lens.input-unlike", source=SEED_004.at("overview"),
        statement="After the input row, nothing in the lens looks like the input: the input token is almost never "
                  "the top guess at any later depth.",
        about=GPT2_FAMILY, keys=("logit-lens.input-rank:input_top1_after",),
        published="almost never looks like the input", predicate=lambda v: v is not None and v <= 0.05, fmt=".1%",
        criterion="Reproduced when the input token is the lens's top guess at no more than 5% of the cells after "
                  "the input row (every later depth, the output included, × every position; the value: that share)",
        conventions=PROSE + INPUT_RANK + "Final LayerNorm with its own γ and β applied to every point; " + LENS + "."),
    Claim(
        id="logit-lens.input-kl-smaller", source=SEED_004.at("addendum: more on \"input discarding\""),
        statement="KL(input ‖ layer) also jumps right after the input, but far less than KL(final ‖ layer) drops at "
                  "the same step.",
        about=GPT2_FAMILY, keys=("logit-lens.kl:input_jump_ratio",),
        published="a fast jump, far smaller than the jump in KL(final ‖ layer)",
        predicate=lambda r: r is not None and 0 < r <= 0.5, fmt=".2f",
        criterion="Reproduced when the mean KL(input ‖ after layer 0) is positive and at most half the drop of "
                  "the mean KL(final ‖ point) from the input to after layer 0 (the value: that ratio; none when "
                  "KL(final ‖ point) does not drop)",
        conventions=PROSE + "KL in nats, means over positions; “input” is the input embeddings read through the "
                    "lens; " + LENS + "."),
    Claim(
        id="logit-lens.input-kl-cap", source=SEED_004.at("addendum: more on \"input discarding\""),
        statement="KL(input ‖ layer) never reaches 30 nats, the top of the post's colour scale (KL(final ‖ layer) "
                  "went well beyond it).",
        about=GPT2_FAMILY, keys=("logit-lens.kl:kl_input_max",),
        published="KL = 30 does not appear on the plot of KL(input ‖ layer)", predicate=_below(30.0), fmt=".1f",
        criterion="Reproduced when the largest KL(input ‖ point), over every depth and every position after the "
                  "BOS, is below 30 nats (the value: that largest)",
        conventions=PROSE + "KL in nats; every position of the passage, where the post's plot showed a stretch of "
                    "it; " + LENS + "."),
    Claim(
        id="logit-lens.input-ranks-kept", source=SEED_004.at("addendum: more on \"input discarding\""),
        statement="After the input, many input tokens keep ranks in the hundreds or thousands, not the tens of "
                  "thousands.",
        about=GPT2_FAMILY, keys=("logit-lens.input-rank:kept_share",),
        published="in the 100s or 1000s, but not the 10000s, in many cases",
        predicate=lambda v: v is not None and v >= 0.25, fmt=".0%",
        criterion="Reproduced when at least a quarter of the positions keep their input token's rank under 10,000 "
                  "at every depth after the input row, the output included (the value: the share of positions)",
        conventions=PROSE + INPUT_RANK + LENS + "; GPT-2's vocabulary has 50,257 tokens at every size."),
    Claim(
        id="logit-lens.plasma-preserved", source=SEED_004.at("addendum: more on \"input discarding\""),
        statement="The first “plasma” of the copying example is strikingly preserved: at its own position its rank "
                  "stays low through the depth.",
        about=GPT2_FAMILY, keys=("logit-lens.plasma:first_word.worst_after",),
        published="the preservation of “plasma” is striking", predicate=lambda v: v is not None and v <= 100,
        fmt=",",
        criterion="Reproduced when the first “␣plasma”, read at its own position, ranks 100 or better after every "
                  "layer, the output included (the value: its worst rank after the input row)",
        conventions="The post's copying prompt “Sometimes, when people say plasma, they mean a state of matter. Other "
                    "times, when people say plasma” (a shorter one of ours only where the context cannot hold it), "
                    "BOS first; the first “␣plasma” is position 6 in GPT-2's tokens. " + INPUT_RANK +
                    "The post's rank colours stop at 1,000; " + LENS + "."),
)
