"""The day-of-week task of Gould et al. (seed 002), analysed: numpy only, on arrays the figures pass in.

The forward passes (clean runs, ablation sweeps) are `figgen.interventions`'; these functions turn
their outputs into the quantities the `day-circuit` figures draw:

- `correct_probs`: each prompt's probability of its correct next day;
- `ablation_deltas`: Δ correct probability, averaged over prompts, for every head and ablation kind;
- `top_heads`: the heads that matter most by |Δ|, with a threshold;
- `random_word_ids` / `dataset`: the mean- and random-ablation datasets, built as token ids;
- `head_day_logits` / `successor_scores` / `day_distribution`: each head's output read through the
  final LayerNorm (scale-free) and W_U, restricted to the day tokens.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, in float64."""
    x = np.asarray(logits, np.float64)
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


def correct_probs(logits: np.ndarray, targets: Sequence[int]) -> np.ndarray:
    """logits (..., batch, d_vocab), targets (batch,) → (..., batch): each row's probability of its target.

    exp(x_t − max) / Σ exp(x − max), with the exponentials in the logits' own precision and the sum in
    float64: one temporary the size of the logits (a full float64 softmax needs three of twice the size;
    at GPT-2's vocabulary that was 0.3 GB for a sweep chunk)."""
    x = np.asarray(logits)
    t = np.asarray(targets).reshape((1,) * (x.ndim - 2) + (-1, 1))
    top = x.max(-1, keepdims=True)
    total = np.exp(x - top).sum(-1, dtype=np.float64)  # (..., batch)
    own = np.take_along_axis(x, np.broadcast_to(t, x.shape[:-1] + (1,)), -1)[..., 0]
    return np.exp(own.astype(np.float64) - top[..., 0]) / total


def ablation_deltas(sweep_probs: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """sweep_probs (kind, layer, head, batch): each ablated run's correct probability (`head_ablation_sweep`
    reduced by `correct_probs`), clean probs (batch,) → (kind, layer, head): ablated minus clean, batch mean."""
    return (np.asarray(sweep_probs, np.float64) - np.asarray(clean)[None, None, None]).mean(-1)


def top_heads(delta: np.ndarray, threshold: float, k: int) -> list[tuple[int, int, float]]:
    """The at most `k` heads of `delta` (layer, head) with |Δ| ≥ `threshold`, largest |Δ| first."""
    flat = np.argsort(-np.abs(delta), axis=None, kind="stable")
    out = []
    for i in flat[:k]:
        l, h = np.unravel_index(i, delta.shape)
        if abs(delta[l, h]) >= threshold:
            out.append((int(l), int(h), float(delta[l, h])))
    return out


def space_words(token_strings: Sequence[str]) -> np.ndarray:
    """The ids of tokens that are a space and one or more ASCII letters (" house"): (n,)."""
    return np.array([i for i, s in enumerate(token_strings) if re.fullmatch(r" [A-Za-z]+", s)], dtype=np.int64)


def random_word_ids(words: np.ndarray, n: int, k: int, seed: int) -> np.ndarray:
    """(n, k) ids drawn uniformly (with replacement) from `words`, with a seeded generator."""
    return np.random.default_rng(seed).choice(words, size=(n, k))


def dataset(template: np.ndarray, slots: Sequence[int], words: np.ndarray) -> np.ndarray:
    """`template` (pos,) token ids with positions `slots` replaced by each row of `words` (n, len(slots)) → (n, pos)."""
    out = np.repeat(np.asarray(template, np.int64)[None], len(words), 0)
    out[:, list(slots)] = words
    return out


def head_day_logits(results: np.ndarray, gamma: np.ndarray, W_U: np.ndarray, day_ids: Sequence[int],
                    value_bias: np.ndarray | None = None) -> np.ndarray:
    """Each head's output read as logits of the day tokens, scale-free.

    results (layer, batch, head, d_model): `hook_result` at the final position; gamma (d_model,) the final
    LayerNorm's weight; W_U (d_model, d_vocab). A result is centred (LayerNorm's mean subtraction),
    multiplied by gamma and by W_U[:, days]; no division by a scale (ranks do not depend on it) and no
    beta (not the head's). `value_bias` (layer, head, d_model), if given, is subtracted first: b_V @ W_O,
    which TransformerLens's `fold_value_biases` moves out of each head into b_O.
    Returns (layer, head, batch, n_days).
    """
    r = np.asarray(results, np.float64).transpose(0, 2, 1, 3)  # (layer, head, batch, d_model)
    if value_bias is not None:
        r = r - np.asarray(value_bias, np.float64)[:, :, None]
    r = r - r.mean(-1, keepdims=True)
    return (r * np.asarray(gamma, np.float64)) @ np.asarray(W_U, np.float64)[:, list(day_ids)]


def successor_scores(day_logits: np.ndarray, correct: Sequence[int] | None = None) -> np.ndarray:
    """day_logits (..., batch, n_days), prompt b's correct day at index `correct[b]` (default (b + 1) % n_days)
    → (...): how many prompts have the correct day ranked first among the days."""
    n = day_logits.shape[-1]
    correct = (np.arange(day_logits.shape[-2]) + 1) % n if correct is None else np.asarray(correct)
    return (day_logits.argmax(-1) == correct).sum(-1)


def successor_heads(scores: np.ndarray, n_prompts: int) -> list[tuple[int, int]]:
    """The (layer, head) pairs whose score is every prompt."""
    return [(int(l), int(h)) for l, h in zip(*np.nonzero(scores == n_prompts))]


def day_distribution(day_logits: np.ndarray) -> np.ndarray:
    """(batch, n_days) → the same, each row normalised by its own mean and standard deviation."""
    x = np.asarray(day_logits, np.float64)
    sd = x.std(-1, keepdims=True)
    return (x - x.mean(-1, keepdims=True)) / np.where(sd > 0, sd, 1.0)


# --- in vivo: the logit lens on heads, layers and MLPs; attention; steering ------------------------------


def lens_read(x: np.ndarray, w: np.ndarray, b: np.ndarray, W_U: np.ndarray, eps: float, ids: np.ndarray,
              *, chunk: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectors read through the logit lens, keeping only what is asked for.

    x (..., d_model): stream vectors or single components (a head's result), each decoded as the model
    decodes its last stream vector (figgen.analysis.lens's convention: the final LayerNorm with its own
    γ and β, the scale recomputed for this vector, then W_U), softmax over the whole vocabulary.
    ids (..., k): for each vector, the tokens whose probability and logit to keep.
    Returns probs (..., k), logits (..., k) and the top-1 token (...). Never holds more than `chunk`
    rows × d_vocab at once.
    """
    from .lens import final_logits, log_softmax

    x = np.asarray(x)
    lead = x.shape[:-1]
    ids = np.broadcast_to(np.asarray(ids), (*lead, np.shape(ids)[-1]))
    flat, flat_ids = x.reshape(-1, x.shape[-1]), ids.reshape(-1, ids.shape[-1])
    probs = np.empty(flat_ids.shape)
    logits = np.empty(flat_ids.shape)
    top = np.empty(len(flat), np.int64)
    for i in range(0, len(flat), chunk):
        rows = slice(i, i + chunk)
        z = final_logits(flat[rows], w, b, W_U, eps)  # (c, d_vocab)
        lp = log_softmax(z)
        probs[rows] = np.exp(np.take_along_axis(lp, flat_ids[rows], -1))
        logits[rows] = np.take_along_axis(z, flat_ids[rows], -1)
        top[rows] = z.argmax(-1)
    return probs.reshape(ids.shape), logits.reshape(ids.shape), top.reshape(lead)


def ranked_heads(score: np.ndarray, threshold: float) -> list[tuple[int, int, float]]:
    """The (layer, head, score) of every head of `score` (layer, head) with score ≥ `threshold`, largest first."""
    order = np.argsort(-score, axis=None, kind="stable")
    out = []
    for i in order:
        l, h = np.unravel_index(i, score.shape)
        if score[l, h] < threshold:
            break
        out.append((int(l), int(h), float(score[l, h])))
    return out


def subject_position(tokens: np.ndarray, subject_ids: Sequence[int]) -> int:
    """The position of each prompt's subject day: where row b of `tokens` (batch, pos) holds subject_ids[b]
    (the same position in every row; the last occurrence if the day appears twice)."""
    hits = [np.flatnonzero(np.asarray(row) == s) for row, s in zip(tokens, subject_ids)]
    if any(len(h) == 0 for h in hits):
        raise ValueError("a prompt does not contain its subject day's token")
    pos = {int(h[-1]) for h in hits}
    if len(pos) != 1:
        raise ValueError(f"the subject day sits at different positions: {sorted(pos)}")
    return pos.pop()


def unembedding_direction(W_U: np.ndarray, gamma: np.ndarray, token: int) -> np.ndarray:
    """Token `token`'s unembedding vector as TransformerLens's processed GPT-2 has it (d_model,).

    `fold_ln` multiplies each row of W_U by the final LayerNorm's γ and `center_unembed` subtracts each
    row's mean over the vocabulary: u = γ ⊙ W_U[:, t] − mean_v(γ ⊙ W_U[:, v]). Not normalised: α
    multiplies this vector as it is (Gould et al. add "α times the unembedding vector")."""
    W_U = np.asarray(W_U, np.float64)
    g = np.asarray(gamma, np.float64)
    return g * (W_U[:, token] - W_U.mean(1))


def mean_z(table: np.ndarray, index: Sequence[int]) -> float:
    """table (batch, n_days) of normalised day logits → the mean over rows of table[b, index[b]]."""
    t = np.asarray(table)
    return float(t[np.arange(len(t)), np.asarray(index)].mean())
