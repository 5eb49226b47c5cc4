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


LENS = "the seed's model, GPT-2 1.5B, has 48 layers: depth shares compare across sizes"
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
