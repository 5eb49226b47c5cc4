"""Vocabulary-space claims (seed 003, McCormick 2025): patterns, messages, neurons and token evolution."""

from __future__ import annotations

from .core import GPT2_SMALL, SEED_003, Claim, _pair


# --- seed 003: vocabulary space (the deep dive's pages, section "vocabulary") ---------------------------
VOCAB_PROMPT = ("The post's prompt “␣The baseball player hit a home run”, starting with a space as the post's printouts "
                "tokenize it (“<|endoftext|> The baseball player| who|”: its first word is the token “␣The”), with "
                "GPT-2's BOS token <|endoftext|> first. ")
VOCAB_READING = ("Nearest words by cosine among whole words only (a space, then letters); a list whose words' mean "
                 "prediction bias (β_final · W_U, in standard deviations over whole words) is beyond ±1 counts as "
                 "high bias. A pattern is W_Q[h] k_j (k_j with b_K, from the trace) read against the vocabulary "
                 "through the layer's input LayerNorm; the post's own filters and threshold are not published, so "
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
                  "prediction is, in order: “␣The”, “␣first”, “␣team”, “␣who”, “␣the”, “␣home”, “␣run”, “␣in”.",
        about=GPT2_SMALL, keys=("vocabulary.evolution:predicted_text",), published=SEED_003_PREDICTED,
        predicate=lambda v: v == SEED_003_PREDICTED,
        criterion="Reproduced when all 8 argmax predictions are these tokens, in this order",
        conventions=VOCAB_PROMPT + "Prediction: argmax of the logits at each position (␣ marks a leading space)."),
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
        statement="After “The baseball player” the stream never resembles the true next word, “␣hit”: at no layer is "
                  "it among the 10 nearest words.",
        about=GPT2_SMALL, keys=("vocabulary.evolution:next_in_topk.3",),
        published="never, at any layer", predicate=lambda v: v is False,
        criterion="Reproduced when “␣hit” is not among the 10 nearest whole words of the stream at position 3 "
                  "(“␣player”) at any layer's input (the value: whether it is)",
        conventions=VOCAB_PROMPT + "Each layer's input read in that layer's ln1 space, as in the post's top-10 table."),
    Claim(
        id="vocabulary.bos-neuron", source=SEED_003.at("FFN Neurons: Beginning of Sequence"),
        statement="Neuron 666 of layer 2 fires on the BOS token only, with activation 61.9.",
        about=GPT2_SMALL, keys=("vocabulary.neurons:bos_only",), compute=_bos_activation(2, 666),
        published="61.9, on the BOS only", predicate=lambda v: v is not None and abs(v - 61.9) <= 0.05, fmt=".1f",
        criterion="Reproduced when L2N666 passes the BOS-only criterion and its activation on the BOS is within "
                  "± 0.05 of 61.9 (the post prints one decimal); no value when it does not pass",
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
        statement="Neuron 2361 of layer 10 maps “␣baseball” to “␣player”: its input weights resemble “␣baseball”, "
                  "its output weights “␣player”.",
        about=GPT2_SMALL, keys=("vocabulary.neurons:seed_examples",),
        compute=_reads_writes("L10N2361", "␣baseball", "␣player"),
        published="reads “␣baseball”, writes “␣player”", predicate=lambda v: v is not None and all(v),
        criterion="Reproduced when “␣baseball” is among the 10 whole words nearest its input weights (ln2 space of "
                  "layer 10) and “␣player” among the 10 nearest its output weights (raw vocabulary); the value: "
                  "whether each is found",
        conventions="Weights only: the prompt does not matter. Whole words only; cosine similarity."),
    Claim(
        id="vocabulary.pop-balloon", source=SEED_003.at("FFN Neurons"),
        statement="Neuron 1259 of layer 0 associates “␣pop” with “␣balloon”: its input weights resemble “␣pop”, its "
                  "output weights “␣balloon”.",
        about=GPT2_SMALL, keys=("vocabulary.neurons:seed_examples",),
        compute=_reads_writes("L0N1259", "␣pop", "␣balloon"),
        published="reads “␣pop”, writes “␣balloon”", predicate=lambda v: v is not None and all(v),
        criterion="Reproduced when “␣pop” is among the 10 whole words nearest its input weights (ln2 space of layer "
                  "0) and “␣balloon” among the 10 nearest its output weights (raw vocabulary); the value: whether "
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
        statement="On the post's prompt, L0H1 is the head that attends most strongly to each query's own token.",
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


# --- the post's named heads (seed 003, "Patterns" and "Messages"): each measured on the head the post names ----
# Thresholds here and in figgen/figures/vocabulary.py (OVERLAP, N_CONTEXT, CONTEXT_MIN, RECUR_MIN, ATTEND_MIN)
# agree; tests/test_figures_vocabulary.py pins them.
HEAD_LISTS = ("Every list: the 10 nearest whole words of one head's vector at one position after the BOS (the BOS's "
              "vectors are the same in every prompt); a high-bias list counts as matching nothing. ")
OVERLAP_DEF = ("Repetition: the share of words two positions' message lists have in common, averaged over every pair "
               "of positions after the BOS. ")
PM = "vocabulary.patterns-messages:post."


def _values(*values) -> list:
    return list(values)


def _all_at_least(threshold: float):
    def ok(values: list) -> bool:
        return all(v is not None and v >= threshold for v in values)
    return ok


def _l11h3(v: list) -> bool:
    return v[0] is not None and v[1] is not None and v[0] >= 0.5 and v[1] >= 0.5


def _alliteration(v: list) -> bool:
    return v[0] is not None and v[1] is not None and v[0] >= 3 and v[1] == 4


def _trifecta(v: list) -> bool:
    return v[0] is not None and v[0] >= 2 and v[1] is True and v[2] is True


def _all_high(zs: list) -> bool:
    return all(z is not None and abs(z) > 1.0 for z in zs)


CLAIMS = CLAIMS + (
    Claim(
        id="vocabulary.l11h3-baseball", source=SEED_003.at("Messages: Repeating Messages"),
        statement="Head L11H3, in the last layer, writes nearly the same baseball-flavoured message at every position "
                  "of the prompt.",
        about=GPT2_SMALL, keys=(PM + "repeating.L11H3.overlap", PM + "repeating.L11H3.baseball_share"),
        compute=_values, published="a very similar baseball-context message over the whole sequence",
        predicate=_l11h3, fmt=".0%",
        criterion="Reproduced when L11H3's message lists repeat (on average two positions share at least 50% of "
                  "their words) and at least half of them are in baseball's context (at least 3 of their 10 words "
                  "among the 100 whole words nearest the embedding of “␣baseball”, itself included); the values: "
                  "that repetition and that share",
        conventions=VOCAB_PROMPT + VOCAB_READING + HEAD_LISTS + OVERLAP_DEF +
                    "A message m_j = v_j W_O (b_V inside v_j) is read against the raw vocabulary; “baseball's "
                    "context” is our operational stand-in for the post's reading of its table."),
    Claim(
        id="vocabulary.repeating-heads", source=SEED_003.at("Messages: Repeating Messages"),
        statement="The same repeating messages appear at heads L4H8, L7H1, L9H8 and L10H0.",
        about=GPT2_SMALL, keys=tuple(PM + f"repeating.{h}.overlap" for h in ("L4H8", "L7H1", "L9H8", "L10H0")),
        compute=_values, published="seen in heads L4H8, L7H1, L9H8 and L10H0", predicate=_all_at_least(0.5), fmt=".0%",
        criterion="Reproduced when the message lists of each of the four heads repeat: on average two positions share "
                  "at least 50% of their words (the values: that share, per head in this order)",
        conventions=VOCAB_PROMPT + VOCAB_READING + HEAD_LISTS + OVERLAP_DEF +
                    "Tested on repetition only (the behaviour the post names); whether the words are baseball's is "
                    "shown beside it, not judged."),
    Claim(
        id="vocabulary.l8h11-alliteration", source=SEED_003.at("Messages: Aliteration / Shared First Letter Names"),
        statement="Head L8H11's messages hold names that begin with the input word's letter: B… for “baseball”, "
                  "P… for “player”, H… for “hit”, R… for “run”.",
        about=GPT2_SMALL, keys=(PM + "alliteration.ratio", PM + "alliteration.n_words_with"), compute=_pair,
        published="Buck, Buff, Bryce; PA; Hernandez, Hoffman; Robinson, Rodriguez, Rod", predicate=_alliteration,
        fmt=".3g",
        criterion="Reproduced when the message lists of L8H11 at “␣baseball”, “␣player”, “␣hit” and “␣run” all "
                  "hold at least one alliterating word (capitalised, starting with the input word's initial, neither "
                  "the word itself in another case nor a word extending it), and the four lists hold at least 3 "
                  "times as many as lists of 10 whole words drawn at random would (the values: that ratio, and at "
                  "how many of the four words one is found)",
        conventions=VOCAB_PROMPT + VOCAB_READING + HEAD_LISTS +
                    "A capital letter stands in for “a name”; the chance rate of each initial is counted over every "
                    "whole word of the vocabulary. The post's “a” (names containing an a) is not scored."),
    Claim(
        id="vocabulary.identity-heads", source=SEED_003.at("Messages: Identity of Past Input Tokens"),
        statement="The messages of heads L6H9, L7H10 and L9H9, and of L8H11, match the input word itself.",
        about=GPT2_SMALL, keys=tuple(PM + f"identity.{h}" for h in ("L6H9", "L7H10", "L9H9", "L8H11")),
        compute=_values, published="strong examples of messages matching the input word (L8H11: “baseball”, "
                                   "“player”, “hit”, “home”)",
        predicate=_all_at_least(0.5), fmt=".0%",
        criterion="Reproduced when, at each of the four heads, the position's own token is among the 10 nearest whole "
                  "words of its message at at least half of the 7 positions after the BOS (the values: that share, "
                  "per head in this order)",
        conventions=VOCAB_PROMPT + VOCAB_READING + HEAD_LISTS + "The exact token only (“␣Baseball” does not count "
                    "for “␣baseball”)."),
    Claim(
        id="vocabulary.l6h6-recurring", source=SEED_003.at("Patterns: Repeating Heads"),
        statement="Head L6H6 leaves patterns that repeat some of the same words over several tokens, among them "
                  "“hit”, “March” and “flight”.",
        about=GPT2_SMALL, keys=(PM + "recurring.named_positions",),
        published="“hit”, “March”, “flight” over multiple later tokens",
        predicate=lambda v: v is not None and all(n is not None and n >= 2 for n in v),
        criterion="Reproduced when each of “␣hit”, “␣March” and “␣flight” is among the 10 nearest whole words of "
                  "L6H6's pattern at 2 or more positions after the BOS (the values: at how many positions each is)",
        conventions=VOCAB_PROMPT + VOCAB_READING + HEAD_LISTS +
                    "Patterns p_j = W_Q k_j read in layer 6's ln1 space. Our whole-word filter only removes "
                    "candidates, so a whole word in the post's list of 10 stays in ours if the pattern is the same."),
    Claim(
        id="vocabulary.l5h10-trifecta", source=SEED_003.at("Attended Messages: The Missing Trifecta"),
        statement="At head L5H10 several later tokens attend to “player”, whose pattern there resembles “teammates” "
                  "and “scored” and whose message resembles “athlete” and “injury”.",
        about=GPT2_SMALL, keys=("vocabulary.attended:trifecta.n_queries", "vocabulary.attended:trifecta.pattern",
                                "vocabulary.attended:trifecta.message"),
        compute=_values, published="several tokens attend to “player”; pattern “teammates”, “scored”; message "
                                   "“athlete”, “injury”",
        predicate=_trifecta,
        criterion="Reproduced when at least 2 of the 4 later queries attend to “␣player” at L5H10 (at least 10% of "
                  "their attention, and more than to any other key but the BOS), “␣teammates” and “␣scored” are "
                  "both among the 10 nearest whole words of its pattern (layer 5's ln1 space) and “␣athlete” and "
                  "“␣injury” among those of its message (the values: that number of queries, then whether each list "
                  "holds both words)",
        conventions=VOCAB_PROMPT + VOCAB_READING + "Attention: hook_pattern of the trace (softmax of the scaled "
                    "scores, causal mask)."),
    Claim(
        id="vocabulary.bos-neurons-high-bias", source=SEED_003.at("FFN Neurons: Beginning of Sequence"),
        statement="The output weights of the BOS neurons L2N666, L2N1825 and L2N3034 read as high-bias words.",
        about=GPT2_SMALL, keys=("vocabulary.neurons:seed_bos.writes_z",),
        published="the output neurons match high bias tokens", predicate=_all_high, fmt="+.2f",
        criterion="Reproduced when, for each of the three neurons, the 10 whole words nearest its output weights "
                  "(raw vocabulary) have a mean prediction bias beyond ±1 standard deviation (this site's high-bias "
                  "threshold; the values: each list's mean bias z)",
        conventions="Weights only: the prompt does not matter. " + VOCAB_READING),
)
