"""Vocabulary-space analysis: which tokens lie nearest a vector (cosine similarity).

The technique of seed 003 (McCormick, "Patterns and Messages, part 6"): read a d_model vector by the
vocabulary tokens whose embeddings point the same way. Three choices make it well defined:

- **Which vocabulary.** Rows of W_E (d_vocab, d_model), optionally passed through a LayerNorm first, so
  that they live in the same space as the vector: a vector a layer *reads* after its input LayerNorm (a
  head's pattern, an MLP neuron's input weights) is compared with that LayerNorm applied to every row
  (`Vocabulary(W_E, ln=(γ, β, ε))`); a vector *written* to the residual stream (a message, a neuron's
  output weights) with the raw rows. GPT-2 ties W_U = W_Eᵀ, so the rows are also the output directions.
- **Which tokens.** `word_mask`: only whole words — a space followed by letters (" home", " Astros").
  Everything else (word pieces without a leading space such as "ville", punctuation, digits, byte
  fragments, <|endoftext|>) is what we call a BPE fragment here and is left out of the matches.
- **High bias.** Every token has a prediction bias: the logit it gets from the final LayerNorm's β
  alone, β_final · W_U[:, t] (+ b_U[t] where a model has an unembedding bias): what TransformerLens folds
  into b_U. Frequent words have large positive bias, rare tokens negative. When the k matches' mean
  bias, in standard deviations of the kept tokens' biases (z), is beyond ±`HIGH_BIAS_Z`, the list says
  more about token frequency than about the vector, and a view shows "(high bias)" instead.

Costs at GPT-2's size (50,257 × 768): the vocabulary is scanned in chunks of CHUNK rows, each
LayerNormed and unit-normalised on the fly, so nothing vocabulary-sized is held per query set.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .circuits import layer_norm
from .lens import final_logits

CHUNK = 8192  # vocabulary rows per block: bounds the temporary at CHUNK × n_queries floats
HIGH_BIAS_Z = 1.0  # |mean bias z of the matches| above this: "(high bias)"
WORD = re.compile(r" [^\W\d_]+")  # a space, then letters only (any script)


@dataclass(frozen=True)
class Neighbours:
    """ids (n_queries, k) of the k most similar rows of the matrix, and their cosines (n_queries, k)."""

    ids: np.ndarray
    cosines: np.ndarray


def unit_rows(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float32)
    return m / np.maximum(np.linalg.norm(m, axis=-1, keepdims=True), 1e-12)


def layer_norm_rows(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    """LayerNorm of each row of x (n, d) with γ = w, β = b (d,), in float32 (vocabulary blocks are large)."""
    return layer_norm(x, w, b, eps, dtype=np.float32)


def nearest(matrix: np.ndarray, queries: np.ndarray, k: int = 5, exclude: np.ndarray | None = None,
            rows: np.ndarray | None = None, transform=None) -> Neighbours:
    """The k rows of `matrix` (n_rows, d) with the highest cosine to each query (n_queries, d).

    `rows` (n,) optionally restricts the search to those row ids (e.g. whole words); `transform` maps a
    block of rows (chunk, d) to the vectors compared (e.g. a LayerNorm). `exclude` (n_queries,)
    optionally gives one row id per query to leave out (the token itself). Ties break towards the
    lower id, so results are deterministic. Fewer than k candidates give fewer columns.
    """
    q = unit_rows(queries)  # (n_queries, d)
    ids_all = np.arange(len(matrix)) if rows is None else np.asarray(rows, dtype=np.int64)
    best_ids = np.zeros((len(q), 0), dtype=np.int64)
    best_cos = np.zeros((len(q), 0), dtype=np.float32)
    for start in range(0, len(ids_all), CHUNK):
        ids = ids_all[start:start + CHUNK]  # (chunk,)
        block = np.asarray(matrix[ids], dtype=np.float32)
        block = unit_rows(transform(block) if transform is not None else block)  # (chunk, d)
        cos = q @ block.T  # (n_queries, chunk)
        if exclude is not None:
            cos[np.asarray(exclude)[:, None] == ids[None, :]] = -np.inf
        best_ids, best_cos = _merge_best(best_ids, best_cos, ids, cos, k)
    return Neighbours(best_ids, best_cos)


def _merge_best(best_ids: np.ndarray, best_cos: np.ndarray, ids: np.ndarray, cos: np.ndarray, k: int):
    """The k best so far (n, ≤k) merged with a block's cosines cos (n, chunk) of rows ids (chunk,):
    by cosine descending, then id ascending (deterministic ties)."""
    if cos.shape[1] > k:  # each query's k best of this block first, then the exact merge
        part = np.argpartition(-cos, k - 1, axis=1)[:, :k]
        cos = np.take_along_axis(cos, part, 1)
        cand = ids[part]
    else:
        cand = np.broadcast_to(ids, cos.shape)
    all_ids = np.concatenate([best_ids, cand], axis=1)
    all_cos = np.concatenate([best_cos, cos.astype(np.float32)], axis=1)
    order = np.lexsort((all_ids, -all_cos), axis=-1)[:, :k]
    return np.take_along_axis(all_ids, order, 1), np.take_along_axis(all_cos, order, 1)


def word_mask(token_strings: Sequence[str]) -> np.ndarray:
    """(d_vocab,) bool: the token is a whole word, a space then letters only (see the module docstring)."""
    return np.array([WORD.fullmatch(s) is not None for s in token_strings], dtype=bool)


def token_bias(W_U: np.ndarray, ln_final_b: np.ndarray, b_U: np.ndarray | None = None) -> np.ndarray:
    """(d_vocab,) each token's prediction bias: β_final · W_U[:, t] (+ b_U[t])."""
    bias = np.asarray(ln_final_b, dtype=np.float64) @ np.asarray(W_U, dtype=np.float64)
    return (bias if b_U is None else bias + b_U).astype(np.float32)


def bias_z(bias: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """(d_vocab,) each token's bias in standard deviations from the mean over the kept tokens."""
    kept = bias[keep].astype(np.float64)
    return ((bias - kept.mean()) / max(kept.std(), 1e-12)).astype(np.float32)


def high_bias(ids: np.ndarray, z: np.ndarray, threshold: float = HIGH_BIAS_Z) -> tuple[np.ndarray, np.ndarray]:
    """For match lists ids (n, k): their mean bias z (n,) and whether it is beyond ±threshold (n,)."""
    mean = z[ids].mean(-1)
    return mean, np.abs(mean) > threshold


@dataclass(frozen=True)
class Vocabulary:
    """The vocabulary as a kNN target: W_E's rows (optionally LayerNormed), whole words only.

    `ln` is (γ, β, ε) of the LayerNorm to apply to every row, or None for raw rows; `keep` (d_vocab,)
    bool marks the rows searched; `z` (d_vocab,) is each token's bias z (`bias_z`).
    """

    W_E: np.ndarray
    keep: np.ndarray
    z: np.ndarray
    ln: tuple[np.ndarray, np.ndarray, float] | None = None

    def with_ln(self, w: np.ndarray, b: np.ndarray, eps: float) -> "Vocabulary":
        return Vocabulary(self.W_E, self.keep, self.z, (w, b, eps))

    def nearest(self, queries: np.ndarray, k: int = 10) -> Neighbours:
        transform = None if self.ln is None else (lambda block: layer_norm_rows(block, *self.ln))
        return nearest(self.W_E, queries, k, rows=np.flatnonzero(self.keep), transform=transform)

    def read(self, queries: np.ndarray, k: int = 10, threshold: float = HIGH_BIAS_Z) -> "Reading":
        """The k nearest kept tokens of each query (n, d), with the high-bias verdict."""
        nb = self.nearest(queries, k)
        mean_z, high = high_bias(nb.ids, self.z, threshold)
        return Reading(nb.ids, nb.cosines, mean_z, high, threshold)


@dataclass(frozen=True)
class Reading:
    """What a list of vectors reads as: ids and cosines (n, k), mean bias z and high-bias flag (n,)."""

    ids: np.ndarray
    cosines: np.ndarray
    mean_z: np.ndarray
    high: np.ndarray
    threshold: float


def decoded_vocabulary(ctx) -> list[str]:
    """Every token decoded on its own (raw text, untrusted), once per build: use via ctx.analysis."""
    return [ctx.tokenizer.decode([i]) for i in range(ctx.dims.d_vocab)]


def vocabulary(ctx) -> Vocabulary:
    """The model's vocabulary as a kNN target (raw rows; `.with_ln(...)` for a LayerNorm's space).

    Use via `ctx.analysis(vocabulary)`: built once per build and shared by every figure."""
    W = ctx.weights
    keep = word_mask(ctx.analysis(decoded_vocabulary))
    b_U = W["b_U"] if "b_U" in W else None
    z = bias_z(token_bias(W["W_U"], W["ln_final.b"], b_U), keep)
    return Vocabulary(np.asarray(W["W_E"], dtype=np.float32), keep, z)


def in_ln_space(ctx, name: str) -> Vocabulary:
    """The vocabulary as seen through LayerNorm `name` ("blocks.3.ln1", "blocks.3.ln2", "ln_final"):
    the target for vectors that the layer after that LayerNorm reads."""
    W = ctx.weights
    return ctx.analysis(vocabulary).with_ln(W[f"{name}.w"], W[f"{name}.b"], float(ctx.model.cfg.layer_norm_epsilon))


def nearest_in_ln_spaces(vocab: Vocabulary, lns: Sequence[tuple[np.ndarray, np.ndarray]], eps: float,
                         queries: np.ndarray, space: np.ndarray, k: int = 10) -> Neighbours:
    """`vocab.with_ln(*lns[space[i]], eps).nearest(queries[i:i+1], k)` for every query i, in ONE pass over the
    vocabulary whatever the number of LayerNorms: queries (n, d), space (n,) the index of each one's
    LayerNorm in `lns` ((γ, β) pairs sharing `eps`).

    A LayerNorm is γ ⊙ n(r) + β with n(r) = (r − mean r) / √(var r + ε) the same for every LayerNorm, so
    q · LN(r) = (q ⊙ γ) · n(r) + q · β and |LN(r)|² = n(r)² · γ² + 2 n(r) · (γ ⊙ β) + |β|²: one
    normalisation of each block of rows serves every LayerNorm (12 at GPT-2's size, one per layer)."""
    G = np.stack([np.asarray(g, np.float32) for g, _ in lns])  # (n_ln, d)
    B = np.stack([np.asarray(b, np.float32) for _, b in lns])  # (n_ln, d)
    space = np.asarray(space)
    q = unit_rows(queries)  # (n, d)
    qg = q * G[space]  # (n, d)
    offset = (q * B[space]).sum(-1)  # (n,)
    ids_all = np.flatnonzero(vocab.keep)
    best_ids = np.zeros((len(q), 0), dtype=np.int64)
    best_cos = np.zeros((len(q), 0), dtype=np.float32)
    for start in range(0, len(ids_all), CHUNK):
        ids = ids_all[start:start + CHUNK]  # (chunk,)
        n = layer_norm_rows(np.asarray(vocab.W_E[ids], dtype=np.float32), 1.0, 0.0, eps)  # (chunk, d)
        sq = (n * n) @ (G * G).T + 2 * n @ (G * B).T + (B * B).sum(-1)  # (chunk, n_ln): |LN(r)|²
        cos = (qg @ n.T + offset[:, None]) / np.sqrt(np.maximum(sq.T[space], 1e-24))  # (n, chunk)
        best_ids, best_cos = _merge_best(best_ids, best_cos, ids, cos, k)
    return Neighbours(best_ids, best_cos)


def read_in(ctx, names: str | Sequence[str], queries: np.ndarray, space: np.ndarray | None = None, k: int = 10,
            threshold: float = HIGH_BIAS_Z) -> Reading:
    """Queries (n, d) read in LayerNorm spaces: query i against the vocabulary through LayerNorm
    `names[space[i]]` ("blocks.3.ln1", "ln_final", …; one name: every query in it), with the high-bias
    verdict. Equal to `in_ln_space(ctx, name).read(...)` per query, in one pass over the vocabulary."""
    names = [names] if isinstance(names, str) else list(names)
    space = np.zeros(len(queries), np.int64) if space is None else np.asarray(space, np.int64)
    W, voc = ctx.weights, ctx.analysis(vocabulary)
    lns = [(W[f"{name}.w"], W[f"{name}.b"]) for name in names]
    nb = nearest_in_ln_spaces(voc, lns, float(ctx.model.cfg.layer_norm_epsilon), queries, space, k)
    mean_z, high = high_bias(nb.ids, voc.z, threshold)
    return Reading(nb.ids, nb.cosines, mean_z, high, threshold)


# The seed's prompt, with the leading space its printouts show (“<|endoftext|> The baseball player| who|”):
# its first word is the token " The". Both vocabulary pages read it (the trace puts the BOS first).
PROMPT = " The baseball player hit a home run"


# --- heads: pattern and message vectors (the vocabulary page's views 1 and 2) ---------------------------
# A head's attention score between query i and key j splits into a part that depends on the query's
# input x_i (its ln1 output) and one that does not:
#     q_i · k_j = (x_i W_Q[h] + b_Q[h]) · k_j = x_i · (W_Q[h] k_j) + b_Q[h] · k_j
# so p_j = W_Q[h] k_j (d_model) is what key j leaves for later queries to resemble: its *pattern*.
# A head's output at query i is Σ_j A[i, j] v_j W_O[h] (the weights A sum to 1, b_V is inside v_j), so
# m_j = v_j W_O[h] (d_model) is what the head writes when it attends to j: j's *message*.


def head_patterns(trace, weights, layer: int) -> np.ndarray:
    """(head, pos, d_model): each key position's pattern p_j = W_Q[h] @ k_j at every head of `layer`
    (k_j from the trace, b_K included). Read it against `in_ln_space(ctx, f"blocks.{layer}.ln1")`."""
    k = np.asarray(trace[f"blocks.{layer}.attn.hook_k"], dtype=np.float32)  # (pos, head, d_head)
    W_Q = np.asarray(weights[f"blocks.{layer}.attn.W_Q"], dtype=np.float32)  # (head, d_model, d_head)
    return np.einsum("hde,phe->hpd", W_Q, k)


def head_messages(trace, weights, layer: int) -> np.ndarray:
    """(head, pos, d_model): each position's message m_j = v_j @ W_O[h] at every head of `layer` (v_j from
    the trace, b_V included). Written to the stream: read it against the raw vocabulary."""
    v = np.asarray(trace[f"blocks.{layer}.attn.hook_v"], dtype=np.float32)  # (pos, head, d_head)
    W_O = np.asarray(weights[f"blocks.{layer}.attn.W_O"], dtype=np.float32)  # (head, d_head, d_model)
    return np.einsum("phe,hed->hpd", v, W_O)


@dataclass(frozen=True)
class HeadReadings:
    """Every head's pattern and message at every position of one prompt, read against the vocabulary.

    patterns, messages: `Reading`s whose ids and cosines are (layer, head, pos, k) and whose mean_z
    and high are (layer, head, pos). tokens (pos,): the prompt's token ids.
    """

    patterns: Reading
    messages: Reading
    tokens: np.ndarray


def _shaped(r: Reading, shape: tuple[int, ...]) -> Reading:
    k = r.ids.shape[-1]
    return Reading(r.ids.reshape(*shape, k), r.cosines.reshape(*shape, k), r.mean_z.reshape(shape),
                   r.high.reshape(shape), r.threshold)


def head_readings(ctx, prompt: str, k: int = 10) -> HeadReadings:
    """Every layer's patterns on `ctx.trace_of(prompt)` read in that layer's ln1 space, every message against
    the raw vocabulary: two passes over the vocabulary in all. Use via `ctx.analysis`."""
    t, W, L = ctx.trace_of(prompt), ctx.weights, ctx.dims.n_layers
    pats = [head_patterns(t, W, l) for l in range(L)]  # (head, pos, d_model) each
    H, P, d = pats[0].shape
    patterns = read_in(ctx, [f"blocks.{l}.ln1" for l in range(L)], np.concatenate([p.reshape(-1, d) for p in pats]),
                       np.repeat(np.arange(L), H * P), k)
    msgs = np.concatenate([head_messages(t, W, l).reshape(-1, d) for l in range(L)])
    messages = ctx.analysis(vocabulary).read(msgs, k)
    return HeadReadings(_shaped(patterns, (L, H, P)), _shaped(messages, (L, H, P)), np.asarray(t.tokens))


def self_attention(pattern: np.ndarray) -> np.ndarray:
    """(head,) each head's mean attention of a query to itself, A[i, i], over the queries i ≥ 1 (position 0
    can attend only to itself, so it is left out). `pattern`: (head, query_pos, key_pos)."""
    diag = np.diagonal(np.asarray(pattern), axis1=1, axis2=2)  # (head, pos)
    return diag[:, 1:].mean(-1) if diag.shape[1] > 1 else diag.mean(-1)


# --- scores for what the post says about single heads (one head's lists across the prompt) -------------
# Each takes a Reading whose ids are (layer, head, pos, k) and scores one head's lists at the positions after
# the BOS (position 0 is the same in every prompt). A high-bias list counts as matching nothing.


def _lists(r: Reading, layer: int, head: int) -> list[np.ndarray | None]:
    """The head's k ids at each position after the BOS (None where the list is high bias)."""
    return [None if r.high[layer, head, p] else r.ids[layer, head, p] for p in range(1, r.ids.shape[2])]


def self_match_share(r: Reading, tokens: np.ndarray, layer: int, head: int) -> float:
    """Share of the positions after the BOS whose list contains that position's own token (an identity head)."""
    lists = _lists(r, layer, head)
    return float(np.mean([ids is not None and int(tokens[p]) in ids for p, ids in enumerate(lists, 1)]))


def context_share(r: Reading, layer: int, head: int, words: np.ndarray, min_words: int) -> float:
    """Share of the positions after the BOS whose list holds at least `min_words` of the ids `words`."""
    words = set(np.asarray(words).tolist())
    return float(np.mean([ids is not None and len(words & set(ids.tolist())) >= min_words
                          for ids in _lists(r, layer, head)]))


def positions_with(r: Reading, layer: int, head: int, word_ids) -> list[int]:
    """For each id of `word_ids`: at how many positions after the BOS the head's list contains it."""
    lists = [set(ids.tolist()) for ids in _lists(r, layer, head) if ids is not None]
    return [sum(int(w) in s for s in lists) for w in word_ids]


def recurring(r: Reading, layer: int, head: int, min_positions: int) -> list[int]:
    """The ids in the head's lists at `min_positions` or more positions after the BOS: most positions first,
    then by id."""
    counts: dict[int, int] = {}
    for ids in _lists(r, layer, head):
        for i in [] if ids is None else set(ids.tolist()):
            counts[i] = counts.get(i, 0) + 1
    return sorted((i for i, n in counts.items() if n >= min_positions), key=lambda i: (-counts[i], i))


def alliterates(word: str, source: str) -> bool:
    """A name-like word sharing `source`'s first letter: capitalised, its initial `source`'s initial upper-cased,
    and neither `source` itself in another case nor a word extending it (" Buck" and " PA" for " baseball" and
    " player"; not " Baseball", " Players" or " HIT" for " hit"). Leading spaces are ignored."""
    w, s = word.lstrip(" "), source.lstrip(" ")
    return bool(w and s) and w[0].isupper() and w[0] == s[0].upper() and not w.lower().startswith(s.lower())


@dataclass(frozen=True)
class Alliteration:
    """One head's lists at some positions against their input words (see `alliterates`).

    counts (n,): alliterating words in each position's list (0 for a high-bias list); chance (n,): the share of
    all candidate words that alliterate with that position's word; ratio: Σ counts / (k Σ chance), how many
    times more often than a list drawn at random (None when chance is 0)."""

    counts: list[int]
    chance: list[float]
    ratio: float | None


def alliteration(r: Reading, layer: int, head: int, positions: Sequence[int], sources: Sequence[str],
                 words: Sequence[str], keep: np.ndarray) -> Alliteration:
    """`sources[i]` is the input word at `positions[i]`; `words` every token's text (d_vocab,); `keep` the
    candidates (whole words)."""
    kept = [words[i] for i in np.flatnonzero(keep)]
    k = r.ids.shape[-1]
    counts, chance = [], []
    for p, src in zip(positions, sources):
        ids = None if r.high[layer, head, p] else r.ids[layer, head, p]
        counts.append(0 if ids is None else sum(alliterates(words[int(i)], src) for i in ids))
        chance.append(sum(alliterates(w, src) for w in kept) / max(len(kept), 1))
    expected = k * sum(chance)
    return Alliteration(counts, chance, sum(counts) / expected if expected > 0 else None)


# --- the stream: FFN neurons and token evolution (the vocabulary-stream page's views 3 and 4) ---------

# Which neurons are read. A neuron's activation is its GELU output (`blocks.{l}.mlp.hook_post`); its input
# weights W_in[:, n] are read against the vocabulary in its layer's ln2 space (the MLP reads the stream after
# ln2), its output weights W_out[n, :] against the raw vocabulary (they are written to the stream).
N_FIRING = 3  # per layer: the neurons with the largest activation on a token other than the BOS
BOS_RATIO = 5.0  # BOS-only: activation on the BOS ≥ BOS_RATIO × its largest on any other token (see choose_neurons)
N_BOS_SHOWN = 6  # the BOS-only neurons with the largest BOS activation are read and shown
N_BOS_LISTED = 100  # at most this many BOS-only neurons are listed in the data (every one is counted)


@dataclass(frozen=True)
class NeuronChoice:
    """Neurons chosen by their activations on a prompt, as (layer, neuron) rows.

    firing: (n_layers × N_FIRING, 2) per layer, the neurons with the largest activation on a non-BOS token,
        largest first; firing_value: (same n,) that activation.
    bos_only: (n_bos, 2) every neuron passing the BOS criterion, by BOS activation, largest first;
        bos_value (n_bos,) its BOS activation; bos_other (n_bos,) its largest activation on any other token.
    peak: (layer, neuron, position) of the largest activation of any neuron anywhere on the prompt.
    """

    firing: np.ndarray
    firing_value: np.ndarray
    bos_only: np.ndarray
    bos_value: np.ndarray
    bos_other: np.ndarray
    peak: tuple[int, int, int]
    peak_value: float


def choose_neurons(post: np.ndarray, n_firing: int = N_FIRING, ratio: float = BOS_RATIO) -> NeuronChoice:
    """Choose neurons from the activations `post` (n_layers, pos, d_mlp), position 0 the BOS.

    BOS criterion, both of:
    - silent elsewhere: act[0] ≥ ratio × max(act[1:], 0) (GELU dips below 0; a negative maximum counts as 0);
    - strong: act[0] > 0 and act[0] ≥ the largest activation of any neuron of the same layer on any token
      other than the BOS (it fires on the BOS harder than its layer fires on any word of the prompt)."""
    post = np.asarray(post, dtype=np.float32)
    n_layers, n_pos, d_mlp = post.shape
    other = post[:, 1:].max(1) if n_pos > 1 else np.full((n_layers, d_mlp), -np.inf, np.float32)  # (L, d_mlp)
    firing, firing_value = [], []
    for l in range(n_layers):
        order = np.lexsort((np.arange(d_mlp), -other[l]))[:n_firing]  # largest first, ties by index
        firing += [(l, int(n)) for n in order]
        firing_value += [float(other[l, n]) for n in order]
    bos = post[:, 0]  # (L, d_mlp)
    layer_max = other.max(1, keepdims=True)  # (L, 1) the layer's largest activation on a non-BOS token
    passes = (bos > 0) & (bos >= ratio * np.maximum(other, 0)) & (bos >= layer_max)
    ls, ns = np.nonzero(passes)
    order = np.lexsort((ns, ls, -bos[ls, ns]))
    ls, ns = ls[order], ns[order]
    peak = np.unravel_index(int(np.argmax(post)), post.shape)  # (layer, position, neuron)
    return NeuronChoice(np.array(firing, dtype=np.int64).reshape(-1, 2), np.array(firing_value, np.float32),
                        np.stack([ls, ns], 1).astype(np.int64), bos[ls, ns], other[ls, ns],
                        (int(peak[0]), int(peak[2]), int(peak[1])), float(post[peak]))


@dataclass(frozen=True)
class NeuronReading:
    """The chosen neurons (n, 2) as (layer, neuron): their input weights read in their layer's ln2 space,
    their output weights against the raw vocabulary, and their activation at each position (n, pos)."""

    neurons: np.ndarray
    inputs: Reading
    outputs: Reading
    acts: np.ndarray


def read_neurons(ctx, neurons: np.ndarray, post: np.ndarray, k: int = 10) -> NeuronReading:
    """Read only these neurons (n, 2): their input weights, each in its layer's ln2 space, in one pass over the
    vocabulary; their output weights against the raw vocabulary in another. post: (n_layers, pos, d_mlp)."""
    W, d = ctx.weights, ctx.dims.d_model
    neurons = np.asarray(neurons, dtype=np.int64).reshape(-1, 2)
    def columns(name: str, take) -> np.ndarray:  # (n, d_model)
        return (np.stack([take(np.asarray(W[f"blocks.{l}.mlp.{name}"]), m) for l, m in neurons]) if len(neurons)
                else np.zeros((0, d), np.float32))
    ln2 = [f"blocks.{l}.ln2" for l in range(ctx.dims.n_layers)]
    inputs = read_in(ctx, ln2, columns("W_in", lambda w, m: w[:, m]), neurons[:, 0], k)
    outputs = ctx.analysis(vocabulary).read(columns("W_out", lambda w, m: w[m]), k)
    acts = np.stack([post[l, :, m] for l, m in neurons]) if len(neurons) else np.zeros((0, post.shape[1]), np.float32)
    return NeuronReading(neurons, inputs, outputs, acts)


def mlp_post(trace, n_layers: int) -> np.ndarray:
    """(n_layers, pos, d_mlp) every layer's neuron activations (GELU outputs) on a trace."""
    return np.stack([trace[f"blocks.{l}.mlp.hook_post"] for l in range(n_layers)])


@dataclass(frozen=True)
class Evolution:
    """The residual stream at each layer's input, as that layer reads it, read as words; and the lens.

    reading: ids, cosines (n_layers, pos, k), mean_z, high (n_layers, pos): the nearest whole words of
        LN1_l(resid_pre_l) among LN1_l(every W_E row) (cosine).
    predicted: (pos,) the model's own next-token guess, argmax of the logits.
    lens_top: (n_layers, pos) the logit lens at the same points: argmax over every token of
        LN_final(resid_pre_l) · W_U (+ b_U); lens_word_top: the same argmax over whole words only.
    """

    ids: np.ndarray
    cosines: np.ndarray
    mean_z: np.ndarray
    high: np.ndarray
    threshold: float
    predicted: np.ndarray
    lens_top: np.ndarray
    lens_word_top: np.ndarray


def stream_as_read(trace, weights, layer: int, eps: float) -> np.ndarray:
    """(pos, d_model) LN1_layer(resid_pre_layer): the stream at layer `layer`'s input as its attention reads it."""
    return layer_norm_rows(trace[f"blocks.{layer}.hook_resid_pre"], weights[f"blocks.{layer}.ln1.w"],
                           weights[f"blocks.{layer}.ln1.b"], eps)


def lens_logits(x: np.ndarray, weights, eps: float) -> np.ndarray:
    """(n, d_vocab) the logit lens's logits of stream vectors x (n, d_model): LN_final(x) · W_U (+ b_U)."""
    logits = final_logits(x, weights["ln_final.w"], weights["ln_final.b"], np.asarray(weights["W_U"], np.float32), eps)
    return logits + weights["b_U"] if "b_U" in weights else logits


def evolution(ctx, prompt: str, k: int = 10) -> Evolution:
    """Token evolution on `prompt` (traced with `ctx.trace_of`): every layer's input read in that layer's ln1
    space (one pass over the vocabulary), and the lens at the same points, one layer at a time (pos × d_vocab)."""
    t = ctx.trace_of(prompt)
    W, L = ctx.weights, ctx.dims.n_layers
    eps = float(ctx.model.cfg.layer_norm_epsilon)
    keep = ctx.analysis(vocabulary).keep
    n = len(t.tokens)
    lens_top, lens_word_top = np.zeros((L, n), np.int64), np.zeros((L, n), np.int64)
    ln1 = [f"blocks.{l}.ln1" for l in range(L)]
    streams = np.concatenate([stream_as_read(t, W, l, eps) for l in range(L)])  # (L · pos, d_model)
    r = read_in(ctx, ln1, streams, np.repeat(np.arange(L), n), k)
    ids, cos = r.ids.reshape(L, n, -1), r.cosines.reshape(L, n, -1)
    mean_z, high, threshold = r.mean_z.reshape(L, n), r.high.reshape(L, n), r.threshold
    for l in range(L):
        logits = lens_logits(t[f"blocks.{l}.hook_resid_pre"], W, eps)  # (pos, d_vocab)
        lens_top[l] = logits.argmax(-1)
        lens_word_top[l] = np.where(keep, logits, -np.inf).argmax(-1)
    return Evolution(ids, cos, mean_z, high, threshold, t["logits"].argmax(-1), lens_top, lens_word_top)
