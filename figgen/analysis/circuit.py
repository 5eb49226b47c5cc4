"""The day-of-week task of Gould et al. (seed 002), analysed: numpy only, on arrays the figures pass in.

The forward passes (clean runs, ablation sweeps) are `figgen.interventions`'; these functions turn
their outputs into the quantities the `day-circuit` figures draw:

- `correct_probs`: each prompt's probability of its correct next day;
- `ablation_deltas`: Δ correct probability, averaged over prompts, for every head and ablation kind;
- `top_heads`: the heads that matter most by |Δ|, with a threshold;
- `random_word_ids` / `dataset`: the mean- and random-ablation datasets, built as token ids;
- `lens_read` / `lens_logits`: vectors (a stream point, or one head's output) through the logit lens,
  with the vector's own scale or a given one, keeping only the tokens asked for;
- `successor_scores` / `day_distribution`: day logits → how often the correct day ranks first, and the
  post's normalised day table.
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

    exp(x_t − max) / Σ exp(x − max), in the logits' own precision (float32: numpy's pairwise sum keeps the
    50,257-term denominator to about 1e-7 relative), one temporary the size of the logits, returned as
    float64."""
    x = np.asarray(logits)
    t = np.asarray(targets).reshape((1,) * (x.ndim - 2) + (-1, 1))
    top = x.max(-1, keepdims=True)
    total = np.exp(x - top).sum(-1).astype(np.float64)  # (..., batch)
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
              *, scale: np.ndarray | None = None, bias: bool = True,
              chunk: int = 256) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectors read through the logit lens, keeping only what is asked for.

    x (..., d_model): stream vectors or single components (a head's result). By default each is decoded
    as the model decodes its last stream vector (figgen.analysis.lens's convention: centred, divided by
    its own scale, times the final LayerNorm's γ, plus β, then W_U); `scale` (...,) divides by given
    scales instead (the final stream's, as TransformerLens's `cache.apply_ln_to_stack` does for a
    component), and `bias=False` leaves β out (β·W_U is TransformerLens's folded b_U). Softmax over the
    whole vocabulary. ids (..., k): for each vector, the tokens whose probability and logit to keep.
    Returns probs (..., k), logits (..., k) and the top-1 token (...). Never holds more than `chunk`
    rows × d_vocab at once.
    """
    x = np.asarray(x)
    lead = x.shape[:-1]
    ids = np.broadcast_to(np.asarray(ids), (*lead, np.shape(ids)[-1]))
    flat, flat_ids = x.reshape(-1, x.shape[-1]), ids.reshape(-1, ids.shape[-1])
    scales = None if scale is None else np.broadcast_to(np.asarray(scale, np.float64), lead).reshape(-1, 1)
    probs = np.empty(flat_ids.shape)
    logits = np.empty(flat_ids.shape)
    top = np.empty(len(flat), np.int64)
    for i in range(0, len(flat), chunk):
        rows = slice(i, i + chunk)
        v = np.asarray(flat[rows], np.float64)
        v = v - v.mean(-1, keepdims=True)
        s = np.sqrt((v ** 2).mean(-1, keepdims=True) + eps) if scales is None else scales[rows]
        n = v / s * w + (b if bias else 0.0)
        z = n.astype(np.float32) @ W_U  # (c, d_vocab), float32 matmul: the model's own precision
        top[rows] = z.argmax(-1)
        peak = z.max(-1, keepdims=True)  # (c, 1)
        logits[rows] = np.take_along_axis(z, flat_ids[rows], -1)  # (c, k)
        z -= peak
        total = np.exp(z, out=z).sum(-1, keepdims=True).astype(np.float64)  # float32 exp in place, pairwise sum
        probs[rows] = np.exp(logits[rows] - peak) / total
    return probs.reshape(ids.shape), logits.reshape(ids.shape), top.reshape(lead)


def lens_logits(x: np.ndarray, w: np.ndarray, b: np.ndarray, W_U_cols: np.ndarray, eps: float) -> np.ndarray:
    """The logits of a few tokens only, as `lens_read` decodes x (..., d_model) with its own scale, γ and β:
    W_U_cols (d_model, k) their columns of W_U → (..., k). What a ranking among those tokens needs."""
    v = np.asarray(x, np.float64)
    v = v - v.mean(-1, keepdims=True)
    n = v / np.sqrt((v ** 2).mean(-1, keepdims=True) + eps) * w + b
    return n @ np.asarray(W_U_cols, np.float64)


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


def unembedding_direction(W_U: np.ndarray, gamma: np.ndarray, token: int) -> np.ndarray:
    """Token `token`'s unembedding vector as TransformerLens's processed GPT-2 has it (d_model,).

    `fold_ln` multiplies each row of W_U by the final LayerNorm's γ and `center_unembed` subtracts each
    row's mean over the vocabulary: u = γ ⊙ W_U[:, t] − mean_v(γ ⊙ W_U[:, v]). Not normalised: α
    multiplies this vector as it is (Gould et al. add "α times the unembedding vector")."""
    g = np.asarray(gamma, np.float64)
    return g * (np.asarray(W_U[:, token], np.float64) - np.asarray(W_U).mean(1, dtype=np.float64))  # no W_U copy


def mean_z(table: np.ndarray, index: Sequence[int]) -> float:
    """table (batch, n_days) of normalised day logits → the mean over rows of table[b, index[b]]."""
    t = np.asarray(table)
    return float(t[np.arange(len(t)), np.asarray(index)].mean())
