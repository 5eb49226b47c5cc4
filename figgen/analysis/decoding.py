"""From logits to a choice: temperature, top-k and top-p (nucleus) on numpy logits.

The same three steps the decoding page's interactive chart runs in the browser (Vega-Lite
transforms); this module is the reference they are tested against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """softmax(logits / T) over the last axis, computed stably in float64. T must be > 0."""
    if temperature <= 0:
        raise ValueError("temperature must be positive (T → 0 is greedy decoding: take the argmax)")
    z = np.asarray(logits, np.float64) / temperature
    z = np.exp(z - z.max(-1, keepdims=True))
    return z / z.sum(-1, keepdims=True)


def sampling_distribution(logits: np.ndarray, temperature: float = 1.0, top_k: int | None = None,
                          top_p: float = 1.0) -> np.ndarray:
    """The distribution a sampler draws from, (d_vocab,): temperature, then keep the top_k likeliest
    tokens, then keep the smallest set of those whose probability reaches top_p; renormalised.

    Ties are broken by token id (lower first), so the result is deterministic."""
    p = softmax(logits, temperature)
    order = np.lexsort((np.arange(len(p)), -p))  # likeliest first
    keep = np.zeros(len(p), bool)
    k = len(p) if top_k is None else max(1, min(int(top_k), len(p)))
    ranked = p[order[:k]] / p[order[:k]].sum()
    before = np.concatenate([[0.0], np.cumsum(ranked)[:-1]])  # mass of the likelier tokens
    n = int(np.sum(before < top_p)) if top_p < 1 else k  # the token that crosses top_p is kept
    keep[order[:max(1, n)]] = True
    out = np.where(keep, p, 0.0)
    return out / out.sum()


def entropy(p: np.ndarray) -> float:
    """Shannon entropy in nats."""
    p = np.asarray(p, np.float64)
    nz = p[p > 0]
    return float(-(nz * np.log(nz)).sum())


@dataclass(frozen=True)
class Setting:
    """One decoding setting and the distribution it gives.

    probs: (d_vocab,) float64; support: number of tokens with nonzero probability."""

    temperature: float
    top_k: int | None
    top_p: float
    probs: np.ndarray

    @property
    def support(self) -> int:
        return int((self.probs > 0).sum())

    @property
    def label(self) -> str:
        k = "all" if self.top_k is None else str(self.top_k)
        return f"T={self.temperature:g}, k={k}, p={self.top_p:g}"


def settings(logits: np.ndarray, grid: list[tuple[float, int | None, float]]) -> list[Setting]:
    return [Setting(t, k, p, sampling_distribution(logits, t, k, p)) for t, k, p in grid]


def nucleus_size(logits: np.ndarray, top_p: float, temperature: float = 1.0) -> int:
    """How many tokens top-p sampling at `top_p` (temperature T, no top-k) can draw from."""
    return int((sampling_distribution(logits, temperature, None, top_p) > 0).sum())


@dataclass(frozen=True)
class PromptChoice:
    """Which of several candidate prompts leaves the model least sure of its next token.

    prompts: (n,) the candidates; entropies: (n,) float64, entropy in nats of each next-token
    distribution at T = 1; index: the candidate with the highest entropy (ties: the first)."""

    prompts: tuple[str, ...]
    entropies: np.ndarray
    index: int

    @property
    def prompt(self) -> str:
        return self.prompts[self.index]

    @property
    def entropy(self) -> float:
        return float(self.entropies[self.index])


def most_uncertain(prompts, logits: np.ndarray) -> PromptChoice:
    """The candidate whose next-token distribution has the highest entropy.

    prompts: n strings; logits: (n, d_vocab), each prompt's next-token logits."""
    logits = np.asarray(logits, np.float64)
    if logits.ndim != 2 or len(logits) != len(prompts) or not len(prompts):
        raise ValueError("need one row of next-token logits per prompt, and at least one prompt")
    h = np.array([entropy(softmax(row)) for row in logits])
    return PromptChoice(tuple(prompts), h, int(np.argmax(h)))
