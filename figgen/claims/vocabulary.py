"""Vocabulary-space claims (seed 003, McCormick 2025): patterns, messages, neurons and token evolution."""

from __future__ import annotations

from .core import GPT2_SMALL, SEED_003, Claim, _pair


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


CLAIMS: tuple[Claim, ...] = (
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
