"""The day-of-week circuit in vitro (seed 002, Gould et al.): numpy only, on arrays the figures pass in.

Gould et al.'s final in-vitro setup for GPT-2 124M: the stream after MLP 0 (embedding + MLP 0's output,
every head before the successor head removed) is read by two heads, (9, 1) and (10, 3), whose attention
from the final position is fixed on the subject token; the two heads' outputs alone are summed (the
stream they read is *not* added back: the residual connection is suppressed), MLP 9 is applied to that
sum, and the result is unembedded. This module holds the arithmetic of that form, for any model:

- `Setup`: one candidate — heads, a feeding MLP (before the heads' layer) and a read-out MLP (after);
- `candidate_setups`: every setup of the seed's form built from a pool of heads and all MLPs, smallest
  first;
- `fixed_head_outputs`: a head's output at the final position when its attention is one-hot on the
  subject: (LN1(x_subject) W_V + b_V) W_O;
- `readout`: the summed outputs through the read-out MLP (s + MLP(LN2(s))), the final LayerNorm and W_U;
- `search`: the smallest setup whose top-1 token is correct on every prompt (or the best, if none);
- `lens_probs`: a head's output read alone through the final LayerNorm and W_U (the seed's per-head logit
  lens), as probabilities of given tokens;
- `offset_profile`: a square table's mean along each cyclic diagonal (offset 0 = copying, +1 = successor).

The forward passes (`figgen.interventions.InVitro` with `SetPattern`) are the figures'; `fixed_head_outputs`
and `readout` compute the same thing from the weights so that hundreds of candidate setups cost a few
matrix products (the chosen setup is then run through the engine, and the two agree: a test).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .circuit import softmax
from .circuits import layer_norm


@dataclass(frozen=True)
class Setup:
    """An in-vitro setup in Gould et al.'s form.

    heads: (layer, head) pairs, each attending only to the subject token from the final position;
    feed: an MLP before the heads' first layer whose output joins the stream the heads read (or None);
    after: an MLP applied to the heads' summed outputs before unembedding (or None).
    """

    heads: tuple[tuple[int, int], ...]
    feed: int | None = None
    after: int | None = None

    @property
    def cut(self) -> int:
        """The layer where the residual connection is cut: the first kept head's."""
        return min(l for l, _ in self.heads)

    @property
    def size(self) -> int:
        return len(self.heads) + (self.feed is not None) + (self.after is not None)

    def components(self) -> list[str]:
        """Names in forward order: 'mlp0', 'L9H1', 'L10H3', 'mlp9'."""
        out = [] if self.feed is None else [f"mlp{self.feed}"]
        out += [f"L{l}H{h}" for l, h in sorted(self.heads)]
        return out + ([] if self.after is None else [f"mlp{self.after}"])

    def text(self) -> str:
        """'MLP 0 → L9H1 + L10H3 → MLP 9 → W_U' (the heads with attention fixed on the subject)."""
        parts = [] if self.feed is None else [f"MLP {self.feed}"]
        parts.append(" + ".join(f"L{l}H{h}" for l, h in sorted(self.heads)))
        if self.after is not None:
            parts.append(f"MLP {self.after}")
        return " → ".join(["embedding", *parts, "unembedding"])


def candidate_setups(successor: tuple[int, int], others: Sequence[tuple[int, int]], n_layers: int,
                     max_others: int = 1) -> list[Setup]:
    """Every setup of the seed's form: the successor head, at most `max_others` of `others` (copying heads),
    at most one feeding MLP (a layer before the cut) and at most one read-out MLP (a layer at or after the
    cut). Sorted by size, then in a fixed order (heads as given, MLPs by layer; 'none' first)."""
    out = []
    for k in range(max_others + 1):
        for extra in itertools.combinations([o for o in others if o != successor], k):
            heads = (successor, *extra)
            cut = min(l for l, _ in heads)
            for feed in [None, *range(cut)]:
                for after in [None, *range(cut, n_layers)]:
                    out.append(Setup(heads, feed, after))
    return sorted(out, key=lambda s: s.size)  # stable: the order above within a size


def gelu(x: np.ndarray, kind: str = "gelu_new") -> np.ndarray:
    """GPT-2's activations, in numpy (`figgen.trace.ACTIVATIONS`' formulas)."""
    if kind in ("gelu_new", "gelu_pytorch_tanh"):
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
    if kind == "gelu":
        from math import erf

        return 0.5 * x * (1.0 + np.vectorize(erf)(x / math.sqrt(2.0)))
    if kind == "relu":
        return np.maximum(x, 0.0)
    raise ValueError(f"activation {kind!r} is not supported")


def fixed_head_outputs(x_subject: np.ndarray, W, heads: Iterable[tuple[int, int]], eps: float) -> dict:
    """x_subject (batch, d_model): the stream the heads read at the subject position. W: numpy weights by
    TransformerLens name. → {(l, h): (batch, d_model)}, each head's output at the final position with its
    attention one-hot on the subject: (LN1_l(x) W_V[h] + b_V[h]) W_O[h] (no b_O: the layer's bias)."""
    x = np.asarray(x_subject, np.float64)
    out = {}
    for l, h in heads:
        p = f"blocks.{l}."
        n = layer_norm(x, W[p + "ln1.w"], W[p + "ln1.b"], eps, dtype=None)  # (batch, d_model)
        v = n @ np.asarray(W[p + "attn.W_V"][h], np.float64) + W[p + "attn.b_V"][h]  # (batch, d_head)
        out[(l, h)] = v @ np.asarray(W[p + "attn.W_O"][h], np.float64)  # (batch, d_model)
    return out


def mlp(s: np.ndarray, W, layer: int, eps: float, act: str) -> np.ndarray:
    """MLP `layer` on s (batch, d_model) through its own LayerNorm (ln2): (batch, d_model), b_out included."""
    p = f"blocks.{layer}."
    n = layer_norm(s, W[p + "ln2.w"], W[p + "ln2.b"], eps).astype(np.float32)
    hidden = gelu(n @ np.asarray(W[p + "mlp.W_in"], np.float32) + W[p + "mlp.b_in"], act)  # float32: no weight copies
    return (hidden @ np.asarray(W[p + "mlp.W_out"], np.float32) + W[p + "mlp.b_out"]).astype(np.float64)


def readout(s: np.ndarray, W, after: int | None, eps: float, act: str) -> np.ndarray:
    """The summed outputs s (batch, d_model) → logits (batch, d_vocab): s + MLP_after(LN2(s)) when `after`
    is set, then the final LayerNorm and W_U."""
    s = np.asarray(s, np.float64)
    if after is not None:
        s = s + mlp(s, W, after, eps, act)
    x = layer_norm(s, W["ln_final.w"], W["ln_final.b"], eps, dtype=None).astype(np.float32)
    return (x @ np.asarray(W["W_U"], np.float32)).astype(np.float64)  # float32 product: no d_vocab-wide float64 copy


def summed_outputs(setup: Setup, outputs: dict, W, n_layers: int) -> np.ndarray:
    """What the setup unembeds before its read-out MLP: Σ_{l ≥ cut} b_O[l] + the kept heads' outputs (as the
    engine's InVitro(cut) sums them; the stream at the cut is not added back). outputs: from
    `fixed_head_outputs` → (batch, d_model)."""
    s = sum(np.asarray(W[f"blocks.{l}.attn.b_O"], np.float64) for l in range(setup.cut, n_layers))
    return s + sum(outputs[h] for h in setup.heads)


@dataclass
class SearchResult:
    """chosen: the smallest setup correct on every prompt, or the best one (`solved` False).
    tried: every setup evaluated, in order, with its top-1 count and mean correct probability.
    best_by_size: size → (best setup of that size, its top-1 count, its mean correct probability)."""

    chosen: Setup
    solved: bool
    tried: list[tuple[Setup, int, float]]
    best_by_size: dict[int, tuple[Setup, int, float]]


def search(setups: Sequence[Setup], evaluate: Callable[[Setup], np.ndarray], targets: Sequence[int]) -> SearchResult:
    """Try `setups` (sorted by size) in order; `evaluate(setup)` → logits (batch, d_vocab).

    Stops after the first size at which some setup has the correct top-1 token on every prompt, and keeps the
    one of that size with the highest mean correct probability (earlier in the order on a tie). If no setup
    gets every prompt, keeps the best overall: most prompts right, then highest mean correct probability,
    then smallest."""
    t = np.asarray(targets)
    tried, best_by_size = [], {}
    solved_size = None
    for s in setups:
        if solved_size is not None and s.size > solved_size:
            break
        logits = evaluate(s)
        n = int((logits.argmax(-1) == t).sum())
        p = float(np.take_along_axis(softmax(logits), t[:, None], -1).mean())
        tried.append((s, n, p))
        b = best_by_size.get(s.size)
        if b is None or (n, p) > (b[1], b[2]):
            best_by_size[s.size] = (s, n, p)
        if n == len(t):
            solved_size = s.size
    if solved_size is not None:
        chosen = best_by_size[solved_size][0]
    else:
        chosen = max(tried, key=lambda r: (r[1], r[2], -r[0].size))[0]
    return SearchResult(chosen, solved_size is not None, tried, best_by_size)


def lens_probs(vectors: np.ndarray, gamma: np.ndarray, beta: np.ndarray, W_U: np.ndarray, token_ids, eps: float,
               chunk: int = 64) -> np.ndarray:
    """vectors (n, d_model) read alone through the final LayerNorm (its own scale, γ and β) and W_U, as the
    logit lens reads a head's output → (n, len(token_ids)): probabilities of those tokens. Runs `chunk`
    vectors at a time (n × d_vocab logits are never all held)."""
    v = np.asarray(vectors, np.float64)
    ids = np.asarray(token_ids)
    W_U = np.asarray(W_U, np.float32)
    out = np.empty((len(v), len(ids)))
    for i in range(0, len(v), chunk):
        logits = layer_norm(v[i:i + chunk], gamma, beta, eps, dtype=None).astype(np.float32) @ W_U  # (chunk, d_vocab)
        out[i:i + chunk] = softmax(logits)[:, ids]
    return out


def scale_free_logits(vectors: np.ndarray, gamma: np.ndarray, W_U_cols: np.ndarray) -> np.ndarray:
    """vectors (..., d_model) centred, times γ, times W_U's columns (d_model, k) → (..., k): the day-circuit
    page's scale-free reading of a head's output (`analysis.circuit.head_day_logits`' convention)."""
    v = np.asarray(vectors, np.float64)
    return ((v - v.mean(-1, keepdims=True)) * gamma) @ np.asarray(W_U_cols, np.float64)


def offset_profile(table: np.ndarray) -> np.ndarray:
    """table (n, n), row i = source item i, column j = item j → (n,): mean of table[i, (i + k) % n] over i for
    each offset k (k = 0: the source itself, k = 1: its successor, k = n − 1: its predecessor)."""
    t = np.asarray(table, np.float64)
    n = t.shape[0]
    return np.array([np.mean([t[i, (i + k) % n] for i in range(n)]) for k in range(n)])
