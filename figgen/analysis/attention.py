"""Attention heads one step at a time: projections, scores, pattern, result vectors, and summaries.

Conventions (row vectors, as in the trace; one layer, batch dimension dropped):
    x       (pos, d_model)              ln1.hook_normalized: what every head of the layer reads
    q, k, v (pos, head, d_head)         x @ W_Q[h] + b_Q[h], and the same for K and V
    scores  (head, query_pos, key_pos)  q·k · scale (scale = 1/√d_head in GPT-2), −inf above the diagonal
    pattern (head, query_pos, key_pos)  softmax of each row of scores: rows sum to 1
    z       (pos, head, d_head)         pattern @ v per head: the infographic's "result vector"

Everything is numpy (no plotting); each function recomputes one step so that figures can check it
against the forward pass (`max_abs_diff` from `figgen.analysis.circuits` compares them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# --- recomputing each step --------------------------------------------------------------------------


def project(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x (pos, d_model), W (head, d_model, d_head), b (head, d_head) → (pos, head, d_head), float64."""
    return np.einsum("pd,hde->phe", np.asarray(x, np.float64), np.asarray(W, np.float64)) + b


def causal_mask(n: int) -> np.ndarray:
    """(n, n) bool: True where a query (row) may attend to a key (column), i.e. key ≤ query."""
    return np.tri(n, dtype=bool)


def scores(q: np.ndarray, k: np.ndarray, scale: float) -> np.ndarray:
    """q, k (pos, head, d_head) → (head, query_pos, key_pos) = q·k · scale, −inf where masked."""
    s = np.einsum("qhe,khe->hqk", np.asarray(q, np.float64), np.asarray(k, np.float64)) * scale
    return np.where(causal_mask(s.shape[-1]), s, -np.inf)


def softmax(s: np.ndarray) -> np.ndarray:
    """Softmax over the last axis; −inf entries get weight 0 (each row needs one finite entry)."""
    s = np.asarray(s, np.float64)
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def weighted_values(pattern: np.ndarray, v: np.ndarray) -> np.ndarray:
    """pattern (head, query_pos, key_pos), v (pos, head, d_head) → z (pos, head, d_head)."""
    return np.einsum("hqk,khe->qhe", np.asarray(pattern, np.float64), np.asarray(v, np.float64))


def row_sum_deviation(pattern: np.ndarray) -> float:
    """max |Σ_key pattern − 1| over all rows of pattern (..., query_pos, key_pos)."""
    return float(np.abs(np.asarray(pattern, np.float64).sum(-1) - 1.0).max(initial=0.0))


def above_diagonal_max(pattern: np.ndarray) -> float:
    """Largest |weight| a query gives to a later key (0 under a causal mask); pattern (..., n, n)."""
    n = pattern.shape[-1]
    return float(np.abs(pattern[..., ~causal_mask(n)]).max(initial=0.0))


def inside_value_range(pattern: np.ndarray, v: np.ndarray, z: np.ndarray, tol: float = 1e-4) -> float:
    """Share of z's components lying between the smallest and largest value component the query can see.

    z is a weighted average of the values of keys ≤ query (weights ≥ 0, summing to 1), so every
    component must lie in that range: the answer is 1.0 up to `tol`. Shapes as in the module docstring."""
    v = np.asarray(v, np.float64)  # (pos, head, d_head)
    n = v.shape[0]
    inside = []
    for i in range(n):
        seen = v[: i + 1]  # (keys ≤ i, head, d_head)
        lo, hi = seen.min(0), seen.max(0)  # (head, d_head)
        inside.append((z[i] >= lo - tol) & (z[i] <= hi + tol))
    return float(np.mean(inside))


# --- summaries of where heads look --------------------------------------------------------------


def _queries(n: int) -> np.ndarray:
    """Query positions summarised: 1 … n−1 (position 0 can only attend to itself); [0] if n == 1."""
    return np.arange(1, n) if n > 1 else np.arange(n)


def bos_share(pattern: np.ndarray) -> np.ndarray:
    """pattern (..., query_pos, key_pos) → (...) mean attention on key 0 over queries ≥ 1."""
    return pattern[..., _queries(pattern.shape[-1]), 0].mean(-1)


def max_off_first(pattern: np.ndarray) -> np.ndarray:
    """pattern (..., query_pos, key_pos) → (...) largest weight any query ≥ 1 puts on a key ≥ 1
    (the query's own position included).

    Near 1: the head looks sharply at some token other than the first; near 0: it rests on the first."""
    n = pattern.shape[-1]
    if n < 2:
        return np.zeros(pattern.shape[:-2])
    return pattern[..., 1:, 1:].max(axis=(-2, -1))


def max_elsewhere(pattern: np.ndarray) -> np.ndarray:
    """pattern (..., query_pos, key_pos) → (...) largest weight any query puts on one earlier key that is
    neither the first position nor the query itself (keys 1 ≤ k < q; 0 for prompts under 3 tokens).

    Near 1: the head moves information from one particular other token to some query."""
    n = pattern.shape[-1]
    if n < 3:
        return np.zeros(pattern.shape[:-2])
    between = np.tril(np.ones((n, n), dtype=bool), -1)  # key < query
    between[:, 0] = False  # not the first position
    return np.where(between, pattern, 0.0).max(axis=(-2, -1))


def max_self(pattern: np.ndarray) -> np.ndarray:
    """pattern (..., query_pos, key_pos) → (...) largest weight any query ≥ 1 puts on its own position."""
    n = pattern.shape[-1]
    if n < 2:
        return np.zeros(pattern.shape[:-2])
    q = np.arange(1, n)
    return pattern[..., q, q].max(-1)


def self_share(pattern: np.ndarray) -> np.ndarray:
    """pattern (..., query_pos, key_pos) → (...) mean attention a query puts on its own position, queries ≥ 1."""
    q = _queries(pattern.shape[-1])
    return pattern[..., q, q].mean(-1)


def previous_share(pattern: np.ndarray) -> np.ndarray:
    """pattern (..., query_pos, key_pos) → (...) mean attention a query puts on the position just before it.

    Over the queries from position 2 on: position 1's previous position is the first token, where many
    heads rest their attention for other reasons (`bos_share`), so it would count resting as looking back.
    Prompts of 2 tokens use query 1; a 1-token prompt gives 0."""
    n = pattern.shape[-1]
    q = np.arange(2 if n > 2 else 1, n)
    if len(q) == 0:
        return np.zeros(pattern.shape[:-2])
    return pattern[..., q, q - 1].mean(-1)


def mean_on_keys(pattern: np.ndarray, start: int = 2) -> np.ndarray:
    """pattern (..., query_pos, key_pos) → (..., key_pos) mean attention each key gets from the queries
    from position `start` on (masked weights count as 0); all queries if the prompt is shorter."""
    n = pattern.shape[-1]
    q = np.arange(start if n > start else 0, n)
    return pattern[..., q, :].mean(-2)


# Thresholds that name a head's behaviour in the prose (DESIGN.md: qualitative words follow the data).
PREVIOUS_TOKEN_THRESHOLD = 0.5  # previous_share above it: a previous-token head
SINK_THRESHOLD = 0.5  # bos_share above it: the head rests on the first token (an attention sink)
SHARP_THRESHOLD = 0.5  # max_elsewhere above it: some query reads mostly one other earlier token


@dataclass(frozen=True)
class Best:
    """The head with the highest score (ties: lowest layer, then head) and whether it passes `threshold`.

    layer, head: the head; score: its score; threshold: the bar; passes: score > threshold;
    n_passing: how many heads pass."""

    layer: int
    head: int
    score: float
    threshold: float
    passes: bool
    n_passing: int


def best_head(scores: np.ndarray, threshold: float) -> Best:
    """scores (n_layers, n_heads) → the `Best` head and how many heads score above `threshold`."""
    scores = np.asarray(scores, np.float64)
    layer, head = (int(i) for i in np.unravel_index(np.argmax(scores), scores.shape))
    s = float(scores[layer, head])
    return Best(layer, head, s, threshold, s > threshold, int((scores > threshold).sum()))


@dataclass(frozen=True)
class Focus:
    """The head whose last query looks hardest at one earlier token (not the first, not itself).

    layer, head: the head; key: the key position it looks at; weight: the attention it puts there."""

    layer: int
    head: int
    key: int
    weight: float


def focus_head(patterns: np.ndarray) -> Focus:
    """patterns (layer, head, query_pos, key_pos) → the `Focus` head (ties: lowest layer, then head).

    Keys 1 … n−2 are candidates (information moved from another token to the last position); for
    prompts shorter than 3 tokens every key is."""
    n = patterns.shape[-1]
    keys = np.arange(1, n - 1) if n > 2 else np.arange(n)
    last = patterns[:, :, n - 1][..., keys]  # (layer, head, candidate keys)
    best = last.max(-1)  # (layer, head)
    layer, head = (int(i) for i in np.unravel_index(np.argmax(best), best.shape))
    k = int(keys[np.argmax(last[layer, head])])
    return Focus(layer, head, k, float(patterns[layer, head, n - 1, k]))


@dataclass(frozen=True)
class HeadSummary:
    """Per layer and head (all arrays (n_layers, n_heads)).

    bos_share: mean attention on the first position, queries ≥ 1.
    max_off_first: largest weight on any other key, the query's own position included (queries ≥ 1).
    max_elsewhere: largest weight on one earlier key other than the first and the query itself.
    max_self: largest weight a query ≥ 1 puts on itself.
    previous_share: mean attention on the previous position, queries ≥ 2.
    self_share: mean attention on the query's own position, queries ≥ 1.
    mean_z_norm: mean length of the head's result vectors z over positions.
    """

    bos_share: np.ndarray
    max_off_first: np.ndarray
    max_elsewhere: np.ndarray
    max_self: np.ndarray
    previous_share: np.ndarray
    self_share: np.ndarray
    mean_z_norm: np.ndarray


def summarize(patterns: np.ndarray, z: np.ndarray) -> HeadSummary:
    """patterns (layer, head, query_pos, key_pos), z (layer, pos, head, d_head) → `HeadSummary`."""
    return HeadSummary(bos_share(patterns), max_off_first(patterns), max_elsewhere(patterns), max_self(patterns),
                       previous_share(patterns), self_share(patterns),
                       np.linalg.norm(np.asarray(z, np.float64), axis=-1).mean(1))
