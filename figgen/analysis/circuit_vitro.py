"""The day-of-week circuit in vitro (seed 002, Gould et al.): numpy only, on arrays the figures pass in.

Gould et al.'s final in-vitro setup for GPT-2 124M: the output of layer 0 alone (the embeddings, layer 0's
heads zero-ablated, MLP 0's output) is read by two heads, (9, 1) and (10, 3), whose attention from the
final position is fixed on the subject token; the two heads' outputs alone are summed (the stream they
read is *not* added back: the residual connection is suppressed), MLP 9 is applied to that sum, and the
result is unembedded. The bookkeeping is TransformerLens's processed model's, the post's
(figgen.analysis.processing): a zero-ablated head leaves its value-bias term in b_O, and a head's output is
its result without that term. This module holds the arithmetic of that form, for any model:

- `Setup`: heads, a feeding MLP (before the heads' layer) and a read-out MLP (after);
- `fixed_head_outputs`: a head's output at the final position when its attention is one-hot on the
  subject: LN1(x_subject) without β, times W_V and W_O (TransformerLens's result: no b_V, no β·W_V);
- `summed_outputs`: what the setup unembeds before its read-out MLP: the heads' outputs alone, no b_O;
- `readout`: the summed outputs through the read-out MLP (s + MLP(LN2(s))), the final LayerNorm and W_U;
- `offset_profile`: a square table's mean along each cyclic diagonal (offset 0 = copying, +1 = successor).

The forward passes (`figgen.interventions.InVitro` with `SetPattern`) are the figures'; `fixed_head_outputs`
and `readout` compute the same thing from the weights, so that the month and number prompts (112) cost a
few matrix products (the two routes agree: a test; both agree with TransformerLens: another).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

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
        """'embedding → MLP 0 → L9H1 + L10H3 → MLP 9 → unembedding' (the heads' attention fixed on the subject)."""
        parts = [] if self.feed is None else [f"MLP {self.feed}"]
        parts.append(" + ".join(f"L{l}H{h}" for l, h in sorted(self.heads)))
        if self.after is not None:
            parts.append(f"MLP {self.after}")
        return " → ".join(["embedding", *parts, "unembedding"])


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
    attention one-hot on the subject, as TransformerLens's processed model has it: the LayerNorm without β
    (folded into b_V), times W_V[h] (b_V moved into b_O) and W_O[h]. It is this model's result minus the
    head's value-bias term (figgen.analysis.processing)."""
    x = np.asarray(x_subject, np.float64)
    out = {}
    for l, h in heads:
        p = f"blocks.{l}."
        n = layer_norm(x, W[p + "ln1.w"], 0.0, eps, dtype=None)  # (batch, d_model): centred, scaled, × γ
        v = n @ np.asarray(W[p + "attn.W_V"][h], np.float64)  # (batch, d_head)
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


def summed_outputs(setup: Setup, outputs: dict) -> np.ndarray:
    """What the setup unembeds before its read-out MLP: the kept heads' outputs alone, summed (no b_O, and
    the stream at the cut not added back: the engine's InVitro(cut)). outputs: from `fixed_head_outputs`
    → (batch, d_model)."""
    return sum(outputs[h] for h in setup.heads)


def scale_free_logits(vectors: np.ndarray, gamma: np.ndarray, W_U_cols: np.ndarray) -> np.ndarray:
    """vectors (..., d_model) centred, times γ, times W_U's columns (d_model, k) → (..., k): the day-circuit
    scale-free reading of the successor head's OV output (centred and times γ; its scale cannot change a row's ranking)."""
    v = np.asarray(vectors, np.float64)
    return ((v - v.mean(-1, keepdims=True)) * gamma) @ np.asarray(W_U_cols, np.float64)


def offset_profile(table: np.ndarray) -> np.ndarray:
    """table (n, n), row i = source item i, column j = item j → (n,): mean of table[i, (i + k) % n] over i for
    each offset k (k = 0: the source itself, k = 1: its successor, k = n − 1: its predecessor)."""
    t = np.asarray(table, np.float64)
    n = t.shape[0]
    return np.array([np.mean([t[i, (i + k) % n] for i in range(n)]) for k in range(n)])
