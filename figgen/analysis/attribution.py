"""Direct logit attribution: how much each writer into the residual stream adds to one logit.

The final residual vector at a position is a sum of what every component wrote there:

    x = embed + Σ_l ( Σ_h result[l, h] + b_O[l] + mlp_out[l] )                       (d_model,)

and a logit reads it through the final LayerNorm and the unembedding:

    logit_t = ((x − mean(x)) / s · γ + β) · W_U[:, t]

where s is ln_final's scale at that position, √(var(x) + ε). Holding s fixed (it is one number per
position, computed from the whole x), everything else is linear in x, and centring distributes over
the sum. So each writer w gets its own *direct* contribution

    c(w) = ((w − mean(w)) / s · γ) · W_U[:, t]

and the contributions plus one constant term, β · W_U[:, t] (the "LN bias"), add up to the logit
exactly. "Direct" means the path writer → unembedding only: what a writer does to the logit through
later layers that read it is not counted here (Elhage et al. 2021, "A Mathematical Framework for
Transformer Circuits", https://transformer-circuits.pub/2021/framework/index.html#residual-comms).

numpy only; no plotting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

KINDS = ("embed", "head", "b_O", "mlp")


@dataclass(frozen=True)
class Writers:
    """Everything written into the residual stream at one position, one row per writer.

    labels: (n_writers,) "embed", "L{l}H{h}", "L{l} b_O", "L{l} MLP", in the order they write.
    kinds: (n_writers,) one of KINDS.
    layers: (n_writers,) int, the writer's layer (-1 for the embeddings).
    heads: (n_writers,) int, the head index for heads and -1 otherwise.
    vectors: (n_writers, d_model) float64, what each writer added; they sum to the final residual.
    """

    labels: list[str]
    kinds: list[str]
    layers: np.ndarray
    heads: np.ndarray
    vectors: np.ndarray


@dataclass(frozen=True)
class Attribution:
    """Direct contributions of writers to one logit, through a frozen final LayerNorm.

    contributions: (n_writers,) c(w) for each writer (module docstring), float64.
    ln_bias: β · W_U[:, t], the one term no writer owns.
    total: contributions.sum() + ln_bias, equal to the logit up to float rounding.
    scale: the frozen LayerNorm scale s used.
    """

    contributions: np.ndarray
    ln_bias: float
    total: float
    scale: float


def collect_writers(trace: Mapping[str, np.ndarray], b_O: list[np.ndarray], pos: int) -> Writers:
    """The writers at `pos` from a trace (TransformerLens names) and each layer's b_O (d_model,).

    The embeddings count as one writer (hook_embed + hook_pos_embed); every head of every layer
    (hook_result) is its own writer, then that layer's b_O, then its MLP (hook_mlp_out)."""
    labels, kinds, layers, heads, rows = [], [], [], [], []

    def add(label: str, kind: str, layer: int, head: int, vec) -> None:
        labels.append(label)
        kinds.append(kind)
        layers.append(layer)
        heads.append(head)
        rows.append(np.asarray(vec, np.float64))

    add("embed", "embed", -1, -1, np.asarray(trace["hook_embed"][pos], np.float64) + trace["hook_pos_embed"][pos])
    for l, bias in enumerate(b_O):
        for h, vec in enumerate(trace[f"blocks.{l}.attn.hook_result"][pos]):  # (head, d_model)
            add(f"L{l}H{h}", "head", l, h, vec)
        add(f"L{l} b_O", "b_O", l, -1, bias)
        add(f"L{l} MLP", "mlp", l, -1, trace[f"blocks.{l}.hook_mlp_out"][pos])
    return Writers(labels, kinds, np.asarray(layers), np.asarray(heads), np.stack(rows))


def direct_logit_attribution(vectors: np.ndarray, scale: float, gamma: np.ndarray, beta: np.ndarray,
                             unembed: np.ndarray) -> Attribution:
    """Each writer's direct contribution to one logit.

    vectors: (n_writers, d_model) the writers; scale: the final LayerNorm's scale at this position
    (frozen); gamma, beta: (d_model,) its weight and bias; unembed: (d_model,) W_U[:, token]."""
    v = np.asarray(vectors, np.float64)
    centred = v - v.mean(-1, keepdims=True)  # (n_writers, d_model)
    direction = np.asarray(gamma, np.float64) * np.asarray(unembed, np.float64) / float(scale)  # (d_model,)
    contributions = centred @ direction  # (n_writers,)
    ln_bias = float(np.asarray(beta, np.float64) @ np.asarray(unembed, np.float64))
    return Attribution(contributions, ln_bias, float(contributions.sum() + ln_bias), float(scale))
