"""The seeds' published claims, each next to what this build computes for it.

A claim is a statement a source document makes (a number, or a qualitative finding) that a figure
of this site recomputes. It is registered once, here:

    Claim(id="embedding.w-e-params", source=SEED_000.at("Token embedding"),
          statement="GPT-2 124M's token embedding matrix W_E holds 38,597,376 parameters.",
          about=GPT2_SMALL, keys=("embedding.params:W_E_params",), published=38_597_376, tolerance=0)

`keys` name the figure data that compute it (`figure-id:data.key`, read from the manifest); a
`compute` function turns those values into the compared quantity when it is not one of them. A
claim is checked either against `published` within `tolerance` (absolute), or by a `predicate` on
the computed value for a qualitative claim (`published` then says what the seed found, in words).

Status is computed, never typed (`evaluate`):
    reproduced      this build's model is the one the claim is about, and the value agrees
    not reproduced  it is, and the value disagrees: a finding, shown as one (never a build error)
    other model     the claim is about GPT-2 (124M, or any size for GPT2_FAMILY claims) and this
                    build traced another model: its value is shown, but not compared
    not computed    the figure that computes it is not in this build (`figgen build --only …`)
Claims `about=ARCHITECTURE` hold for any GPT-2-architecture model (identities, weight tying) and
are compared whatever the model.

The manifest records `claims: [{id, status, published, computed, …}]`; the MkDocs plugin places
`{{ claim ID }}` badges and builds the Claims page from the same records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

GPT2_SMALL = "GPT-2 124M"
GPT2_FAMILY = "GPT-2 (the seed showed its 1.5B model)"  # compared on any size of OpenAI's GPT-2
ARCHITECTURE = "any GPT-2-architecture model"
GPT2_HUB = {"openai-community/gpt2", "openai-community/gpt2-medium", "openai-community/gpt2-large",
            "openai-community/gpt2-xl"}

STATUSES = ("reproduced", "not reproduced", "other model", "not computed")


@dataclass(frozen=True)
class Source:
    """Where a claim is published: a seed file, the section it is in, and a public link."""

    seed: str  # file name in shared/seeds/
    title: str  # the document, as cited on the site
    short: str  # how a badge names it
    url: str
    section: str = ""

    def at(self, section: str) -> "Source":
        return Source(self.seed, self.title, self.short, self.url, section)


SEED_000 = Source("000_3d5a89f57b53313f.txt", "Dolan, A Vector-Level View of GPT-2 (2024)", "infographic",
                  "https://jeremydolan.net/transformer-view/")
# The deep dives' seeds (their claims are registered with their pages).
SEED_002 = Source("002_e5262dd8bfce3da8.txt", "Gould et al., Mechanistically interpreting time in GPT-2 small",
                  "Gould et al.",
                  "https://www.lesswrong.com/posts/6tHNM2s6SWzFHv3Wo/mechanistically-interpreting-time-in-gpt-2-small")
SEED_003 = Source("003_ddb8c1b52c4745f2.txt", "McCormick, Patterns and Messages, part 6: vocabulary-based analysis (2025)",
                  "McCormick",
                  "https://mccormickml.com/2025/02/21/patterns-and-messages-part-6-vocabulary-based-analysis/")
SEED_004 = Source("004_dea726988dbf7d24.txt", "nostalgebraist, interpreting GPT: the logit lens (2020)",
                  "logit lens post",
                  "https://www.lesswrong.com/posts/AcKRB8wDpdaN6v6ru/interpreting-gpt-the-logit-lens")


@dataclass(frozen=True)
class Claim:
    """One published statement and how this build checks it.

    id: dotted `section.name`; the section's page shows it (`{{ claim ID }}`).
    statement: the claim in our own words.
    about: the model it was made about: GPT2_SMALL, or ARCHITECTURE for identities that hold for any
        GPT-2-architecture model.
    keys: figure data keys that compute it, `figure-id:dotted.key`.
    compute: values of `keys` → the compared quantity (default: the single key's value).
    published: the published value (a number), or for a predicate claim what the seed found, in words.
    tolerance: absolute tolerance around a numeric `published`.
    predicate: computed → bool, for a qualitative claim; `criterion` says in words what it tests.
    fmt: format spec for published and computed numbers (e.g. ",", ".0%", ".1e").
    conventions: what moves the number (dataset, normalisation, weight processing): shown with it.
    """

    id: str
    source: Source
    statement: str
    about: str
    keys: tuple[str, ...]
    published: Any
    tolerance: float | None = None
    predicate: Callable[[Any], bool] | None = field(default=None, compare=False)
    criterion: str = ""
    compute: Callable[..., Any] | None = field(default=None, compare=False)
    fmt: str = ""
    conventions: str = ""

    @property
    def section(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def figures(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(k.split(":", 1)[0] for k in self.keys))

    def test(self) -> str:
        """What 'reproduced' means for this claim, in words (shown in the badge's working)."""
        if self.predicate is not None:
            return self.criterion
        if not self.tolerance:
            return "Reproduced when equal"
        return f"Reproduced within ± {show(self.tolerance, self.fmt)}"


def show(value: Any, fmt: str = "") -> str:
    """A published or computed value as text (numbers formatted with `fmt`, lists joined)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(show(v, fmt) for v in value)
    if isinstance(value, (int, float)) and fmt:
        return format(value, fmt)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


# --- the registry ---------------------------------------------------------------------------------


def _mlp_share_of_layers(components: dict) -> float:
    """MLP parameters / all parameters inside the layers (attention + MLP + LayerNorms)."""
    inside = components["attention"] + components["MLP"] + components["LayerNorm"]
    return components["MLP"] / inside


def _tied(max_diff: float) -> bool:
    return max_diff == 0.0


def _float_rounding(max_diff: float) -> bool:
    return max_diff <= 1e-4


CLAIMS: tuple[Claim, ...] = (
    Claim(
        id="embedding.w-e-params", source=SEED_000.at("Token embedding"),
        statement="The token embedding matrix W_E, one 768-component row for each of the 50,257 tokens, "
                  "holds 38,597,376 parameters.",
        about=GPT2_SMALL, keys=("embedding.params:W_E_params",), published=38_597_376, tolerance=0, fmt=",",
        conventions="d_vocab × d_model, counted from the model's dimensions."),
    Claim(
        id="embedding.w-e-share", source=SEED_000.at("Token embedding"),
        statement="W_E is 31% of all of GPT-2 124M's parameters.",
        about=GPT2_SMALL, keys=("embedding.params:W_E_share",), published=0.31, tolerance=0.005, fmt=".1%",
        conventions="W_U is tied to W_E, so it is counted once; the total (124,439,808 for GPT-2 124M) "
                    "includes W_pos, every bias and LayerNorm parameter. The seed rounds to a whole percent."),
    Claim(
        id="embedding.n-params", source=SEED_000.at("Introduction"),
        statement="The model the infographic draws has about 124 million parameters.",
        about=GPT2_SMALL, keys=("embedding.params:n_params",), published=124_000_000, tolerance=500_000,
        fmt=",", conventions="Counted from the dimensions, tied W_U counted once (the name rounds to millions)."),
    Claim(
        id="mlp.two-thirds", source=SEED_000.at("MLP"),
        statement="The MLPs hold roughly two-thirds of a typical transformer's trainable parameters.",
        about=ARCHITECTURE, keys=("embedding.params:components",), compute=_mlp_share_of_layers,
        published=2 / 3, tolerance=0.02, fmt=".1%",
        conventions="Holds for the parameters inside the layers (attention, MLP, LayerNorm): with "
                    "d_mlp = 4·d_model each MLP has twice the weights of its attention sublayer. Counting "
                    "the embeddings too, GPT-2 124M's MLPs are 45.5% of all its parameters."),
    Claim(
        id="unembedding.tied", source=SEED_000.at("Unembedding"),
        statement="GPT-2 ties its embedding weights: the unembedding matrix is the embedding matrix "
                  "transposed, W_U = W_Eᵀ.",
        about=ARCHITECTURE, keys=("unembedding.similarity:tied_max_diff",), published="W_U = W_Eᵀ exactly",
        predicate=_tied, criterion="Reproduced when the largest |W_U − W_Eᵀ| is exactly 0", fmt=".1e",
        conventions="Compared element by element on the loaded weights (float32)."),
    Claim(
        id="output-vectors.concatenation", source=SEED_000.at("Introduction"),
        statement="Concatenating the heads' result vectors and projecting with the whole W_O gives the same "
                  "vector as projecting each head's result vector by its own slice of W_O and adding them.",
        about=ARCHITECTURE, keys=("output-vectors.check:max_diff_concat_vs_sum",),
        published="the same vector (an identity)", predicate=_float_rounding,
        criterion="Reproduced when the largest difference over every layer and position is ≤ 1e-4 "
                  "(float32 rounding)", fmt=".1e",
        conventions="Both routes computed in float64 from the traced result vectors, every layer and position "
                    "of the site prompt."),
)



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
CLAIMS = CLAIMS + (
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
        conventions="Our own repeated sentence (the seed does not give its text), four copies; " + LENS + "."),
)



# --- seed 003: vocabulary space (the deep dive's pages, section "vocabulary") ---------------------------
VOCAB_PROMPT = ("The seed's prompt “␣The baseball player hit a home run”, starting with a space as the seed's printouts "
                "tokenize it (“<|endoftext|> The baseball player| who|”: its first word is the token “␣The”), with "
                "GPT-2's BOS token <|endoftext|> first. ")
VOCAB_READING = ("Nearest words by cosine among whole words only (a space, then letters); a list whose words' mean "
                 "prediction bias (β_final · W_U, in standard deviations over whole words) is beyond ±1 counts as "
                 "high bias. A pattern is W_Q[h] k_j (k_j with b_K, from the trace) read against the vocabulary "
                 "through the layer's input LayerNorm; the seed's own filters and threshold are not published, so "
                 "its lists and ours differ in places. ␣ marks a token's leading space. ")

# The second page (docs/deep-dives/vocabulary-stream.md): MLP neurons and token evolution.
SEED_003_PREDICTED = "␣The ␣first ␣team ␣who ␣the ␣home ␣run ␣in"  # tokens as the site shows them, space-separated
SEED_003_BOS = (666, 1825, 3034)  # layer 2
BOS_CRITERION = ("BOS-only: the neuron's activation on the BOS is at least 5 times its largest activation on any other "
                 "token of the prompt (a negative maximum counts as 0) and at least the largest activation any neuron "
                 "of its layer reaches on a token other than the BOS. ")
NEURON_CONVENTIONS = (VOCAB_PROMPT + "Activation: the GELU output (gelu_new), mlp.hook_post; TransformerLens's weight "
                      "processing does not change it (folding the LayerNorm into W_in keeps each neuron's input). ")


def _pair(a, b) -> list:
    return [a, b]


def _bos_activation(layer: int, neuron: int):
    def find(rows: list):
        return next((bos for l, n, bos, _ in rows if (l, n) == (layer, neuron)), None)
    return find


def _bos_in_layer(layer: int):
    def neurons(rows: list) -> list[int] | str:
        return sorted(n for l, n, *_ in rows if l == layer) or "none"
    return neurons


def _reads_writes(label: str, read: str, write: str):
    """[is `read` among the neuron's input words, is `write` among its output words], None if not read."""
    def found(examples: dict):
        e = examples.get(label)
        return None if e is None else [read in e["reads"], write in e["writes"]]
    return found


def _peak(p: dict) -> str:
    return f"L{p['layer']}N{p['neuron']} at position {p['position']}"


CLAIMS = CLAIMS + (
    Claim(
        id="vocabulary.predictions", source=SEED_003.at("Token Evolution: Accuracy"),
        statement="After each prefix of the prompt, from the BOS alone to the whole sentence, GPT-2 small's top "
                  "prediction is, in order: “ The”, “ first”, “ team”, “ who”, “ the”, “ home”, “ run”, “ in”.",
        about=GPT2_SMALL, keys=("vocabulary.evolution:predicted_text",), published=SEED_003_PREDICTED,
        predicate=lambda v: v == SEED_003_PREDICTED,
        criterion="Reproduced when all 8 argmax predictions are these tokens, in this order",
        conventions=VOCAB_PROMPT + "Prediction: argmax of the logits at each position (␣ shows a space)."),
    Claim(
        id="vocabulary.accuracy", source=SEED_003.at("Token Evolution: Accuracy"),
        statement="Of the 7 predictions whose next token is in the prompt, GPT-2 small gets 3 right.",
        about=GPT2_SMALL, keys=("vocabulary.evolution:n_correct",), published=3, tolerance=0,
        conventions=VOCAB_PROMPT + "Counted: the predictions after the BOS alone up to “… home”, each against the "
                    "prompt's next token; the 8th, after “run”, has no answer in the prompt."),
    Claim(
        id="vocabulary.last-layer", source=SEED_003.at("Token Evolution"),
        statement="The last layer changes the prediction more than half the time: at most positions the nearest word "
                  "at layer 11's input is not the final prediction.",
        about=GPT2_SMALL, keys=("vocabulary.evolution:last_layer_change_share",),
        published="more than half the positions", predicate=lambda v: v > 0.5, fmt=".0%",
        criterion="Reproduced when the nearest whole word to the stream entering the last layer (in its ln1 space) "
                  "differs from the model's prediction (argmax of the logits) at more than half of the 8 positions "
                  "(the value: that share)",
        conventions=VOCAB_PROMPT + "As the post's table: its “layer 11” row against its “predicted” row."),
    Claim(
        id="vocabulary.never-hit", source=SEED_003.at("Token Evolution: Accuracy"),
        statement="After “The baseball player” the stream never resembles the true next word, “ hit”: at no layer is "
                  "it among the 10 nearest words.",
        about=GPT2_SMALL, keys=("vocabulary.evolution:next_in_topk.3",),
        published="never, at any layer", predicate=lambda v: v is False,
        criterion="Reproduced when “ hit” is not among the 10 nearest whole words of the stream at position 3 "
                  "(“ player”) at any layer's input (the value: whether it is)",
        conventions=VOCAB_PROMPT + "Each layer's input read in that layer's ln1 space, as in the post's top-10 table."),
    Claim(
        id="vocabulary.bos-neuron", source=SEED_003.at("FFN Neurons: Beginning of Sequence"),
        statement="Neuron 666 of layer 2 fires on the BOS token only, with activation 61.9.",
        about=GPT2_SMALL, keys=("vocabulary.neurons:bos_only",), compute=_bos_activation(2, 666),
        published="61.9, on the BOS only", predicate=lambda v: v is not None and abs(v - 61.9) <= 0.05, fmt=".1f",
        criterion="Reproduced when L2N666 passes the BOS-only criterion and its activation on the BOS is within "
                  "± 0.05 of 61.9 (the seed prints one decimal); no value when it does not pass",
        conventions=NEURON_CONVENTIONS + BOS_CRITERION),
    Claim(
        id="vocabulary.bos-neurons-layer2", source=SEED_003.at("FFN Neurons: Beginning of Sequence"),
        statement="In layer 2, neurons 1825 and 3034 also fire on the BOS only, with similarly large activations.",
        about=GPT2_SMALL, keys=("vocabulary.neurons:bos_only",), compute=_bos_in_layer(2),
        published="666, 1825 and 3034 among layer 2's BOS-only neurons",
        predicate=lambda v: isinstance(v, list) and set(SEED_003_BOS) <= set(v),
        criterion="Reproduced when neurons 666, 1825 and 3034 of layer 2 all pass the BOS-only criterion (the value: "
                  "every neuron of layer 2 that passes it)",
        conventions=NEURON_CONVENTIONS + BOS_CRITERION),
    Claim(
        id="vocabulary.baseball-player", source=SEED_003.at("FFN Neurons"),
        statement="Neuron 2361 of layer 10 maps “ baseball” to “ player”: its input weights resemble “ baseball”, "
                  "its output weights “ player”.",
        about=GPT2_SMALL, keys=("vocabulary.neurons:seed_examples",),
        compute=_reads_writes("L10N2361", "␣baseball", "␣player"),
        published="reads “ baseball”, writes “ player”", predicate=lambda v: v is not None and all(v),
        criterion="Reproduced when “ baseball” is among the 10 whole words nearest its input weights (ln2 space of "
                  "layer 10) and “ player” among the 10 nearest its output weights (raw vocabulary); the value: "
                  "whether each is found",
        conventions="Weights only: the prompt does not matter. Whole words only; cosine similarity."),
    Claim(
        id="vocabulary.pop-balloon", source=SEED_003.at("FFN Neurons"),
        statement="Neuron 1259 of layer 0 associates “ pop” with “ balloon”: its input weights resemble “ pop”, its "
                  "output weights “ balloon”.",
        about=GPT2_SMALL, keys=("vocabulary.neurons:seed_examples",),
        compute=_reads_writes("L0N1259", "␣pop", "␣balloon"),
        published="reads “ pop”, writes “ balloon”", predicate=lambda v: v is not None and all(v),
        criterion="Reproduced when “ pop” is among the 10 whole words nearest its input weights (ln2 space of layer "
                  "0) and “ balloon” among the 10 nearest its output weights (raw vocabulary); the value: whether "
                  "each is found",
        conventions="Weights only: the prompt does not matter. Whole words only; cosine similarity."),
    Claim(
        id="vocabulary.bos-peak", source=SEED_003.at("FFN Neurons: Beginning of Sequence"),
        statement="Layer 2's neuron 666, on the BOS, has the largest activation of any neuron at any position of the "
                  "prompt.",
        about=GPT2_SMALL, keys=("vocabulary.neurons:peak",), compute=_peak,
        published="L2N666 at position 0", predicate=lambda v: v == "L2N666 at position 0",
        criterion="Reproduced when the largest GELU output over every layer, neuron and position is L2N666's at "
                  "position 0 (the BOS)",
        conventions=NEURON_CONVENTIONS),
)


CLAIMS = CLAIMS + (
    Claim(
        id="vocabulary.home-contexts", source=SEED_003.at("Disambiguating Heads"),
        statement="The heads of layer 0 leave different patterns for “␣home”: most point to other words "
                  "(baseball, stadiums, mortgages, …), a few to “␣home” itself.",
        about=GPT2_SMALL, keys=("vocabulary.home:n_elsewhere", "vocabulary.home:n_itself"), compute=_pair,
        published="7 of 12 heads without “␣home” among the 10 nearest words (L0H0, L0H2, L0H4, L0H6, L0H7, L0H8, "
                  "L0H11), 3 with “␣home” first (L0H1, L0H5, L0H10)",
        predicate=lambda v: v[0] >= 6 and v[1] >= 2,
        criterion="Reproduced when at least 6 of layer 0's 12 heads leave a pattern for “␣home” whose 10 nearest "
                  "words (not high bias) do not include “␣home”, and at least 2 have “␣home” first (the values: "
                  "those two counts)",
        conventions=VOCAB_PROMPT + VOCAB_READING),
    Claim(
        id="vocabulary.l0h0-baseball", source=SEED_003.at("Disambiguating Heads"),
        statement="Head L0H0 reads “␣home” in baseball's terms: “␣baseball” is among the nearest words of its "
                  "pattern.",
        about=GPT2_SMALL, keys=("vocabulary.home:baseball_l0h0",), published="“␣baseball” second of 10",
        predicate=lambda v: v is True,
        criterion="Reproduced when “␣baseball” is among the 10 nearest words of L0H0's pattern for “␣home” "
                  "(and the list is not high bias)",
        conventions=VOCAB_PROMPT + VOCAB_READING),
    Claim(
        id="vocabulary.l0h1-self", source=SEED_003.at("Attended Messages"),
        statement="On the seed's prompt, L0H1 is the head that attends most strongly to each query's own token.",
        about=GPT2_SMALL, keys=("vocabulary.attended:most_self",), published="L0H1",
        predicate=lambda v: v == "L0H1",
        criterion="Reproduced when L0H1 has the largest mean self-attention A[i, i] over the queries after the "
                  "BOS (position 0 can only attend to itself, so it is left out), among all 144 heads",
        conventions=VOCAB_PROMPT),
    Claim(
        id="vocabulary.bos-default", source=SEED_003.at("Attended Messages"),
        statement="Most heads put most of their attention on the first token, the BOS.",
        about=GPT2_SMALL, keys=("vocabulary.attended:bos_share",), published="most heads (a “much more common” "
                                                                           "pattern than self-attention)",
        predicate=lambda v: v > 0.5, fmt=".0%",
        criterion="Reproduced when more than half of the heads give position 0 at least half of the attention, "
                  "on average over the queries after the BOS (the value: the share of heads)",
        conventions=VOCAB_PROMPT),
)


# --- the day-of-week circuit (seed 002) -----------------------------------------------------------
DAYS_TASK = ("The 7 prompts “If today is <Day>, tomorrow is”, one per day; the correct answer is the next day's "
             "token with a leading space.")
CLAIMS = CLAIMS + (
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

BY_ID: dict[str, Claim] = {c.id: c for c in CLAIMS}


# --- evaluation -----------------------------------------------------------------------------------


def _lookup(data: Any, key: str) -> Any:
    for part in key.split("."):
        if isinstance(data, list) and part.lstrip("-").isdigit():
            data = data[int(part)]
        else:
            data = data[part]
    return data


def computed_value(claim: Claim, figures: dict[str, dict]) -> Any:
    """The claim's computed quantity from manifest figure entries (id → entry); KeyError if absent."""
    values = []
    for key in claim.keys:
        fid, path = key.split(":", 1)
        values.append(_lookup(figures[fid]["data"], path))
    return claim.compute(*values) if claim.compute else values[0]


def _is_gpt2(model_info: dict) -> bool:
    return model_info.get("source") == "hub" and model_info.get("name", "").split("@")[0] in GPT2_HUB


def status(claim: Claim, computed: Any, model_info: dict) -> str:
    if claim.about == GPT2_SMALL and not model_info.get("is_gpt2_small"):
        return "other model"
    if claim.about == GPT2_FAMILY and not (model_info.get("is_gpt2_small") or _is_gpt2(model_info)):
        return "other model"
    if claim.predicate is not None:
        ok = bool(claim.predicate(computed))
    else:
        ok = abs(computed - claim.published) <= (claim.tolerance or 0)
    return "reproduced" if ok else "not reproduced"


def evaluate(manifest: dict) -> list[dict]:
    """Every registered claim as a manifest record (plain JSON), in registry order."""
    figures = {e["id"]: e for e in manifest["figures"]}
    model = manifest["model"]
    records = []
    for claim in CLAIMS:
        try:
            computed = computed_value(claim, figures)
        except (KeyError, IndexError, TypeError):
            computed, state = None, "not computed"
        else:
            state = status(claim, computed, model)
        if isinstance(computed, float):
            computed = float(f"{computed:.6g}")
        records.append({
            "id": claim.id, "status": state, "statement": claim.statement, "about": claim.about,
            "published": claim.published, "published_text": show(claim.published, claim.fmt),
            "computed": computed, "computed_text": show(computed, claim.fmt), "test": claim.test(),
            "conventions": claim.conventions, "figures": list(claim.figures), "section": claim.section,
            "source": {"seed": claim.source.seed, "title": claim.source.title, "short": claim.source.short,
                       "url": claim.source.url, "section": claim.source.section},
            "model": f"{model.get('name', '')}@{model.get('revision', '')}",
            "prompts": sorted({p for f in claim.figures if f in figures for p in figures[f].get("prompts", [])}),
        })
    return records


def markdown_table(records: list[dict]) -> str:
    """The claims of a manifest as a Markdown table (the deploy job's summary, `figgen claims`)."""
    def cell(text) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    counts = {s: sum(r["status"] == s for r in records) for s in STATUSES}
    lines = [f"{len(records)} claims: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n) + ".", "",
             "| claim | published | this build | status |", "|---|---|---|---|"]
    lines += [f"| {cell(r['statement'])} (`{r['id']}`) | {cell(r['published_text'])} | {cell(r['computed_text'])} "
              f"| {r['status']} |" for r in records]
    return "\n".join(lines) + "\n"
