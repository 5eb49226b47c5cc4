"""The logit lens (nostalgebraist, 2020): read the residual stream at any depth as a next-token guess.

Each stream vector x (a point of the residual stream: the input embeddings, the stream after a
layer's attention or after its MLP) is decoded exactly as the model decodes its last one:

    lens(x) = softmax( LN_final(x) · W_U )        LN_final with its own γ and β, recomputed per vector

so the last point, the stream after the last layer, gives the model's own output. Everything here is
numpy over a `Trace` and the weights; nothing is kept at vocabulary size except one chunk at a time:
a full-context GPT-2 prompt would be 13 points × 1,024 positions × 50,257 logits (5 GB in float64),
so distributions are computed `chunk` positions at a time and only what is drawn is kept
(top-k tokens, ranks, KL divergences).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .circuits import layer_norm

TOP_K = 5


@dataclass(frozen=True)
class StreamPoints:
    """Where the lens looks. labels: one per point ("input", "after attn 0", "after layer 0", …);
    vectors: (n_points, pos, d_model) float32, the residual stream at each point;
    layer: (n_points,) the layer a point ends (−1 for the input)."""

    labels: list[str]
    vectors: np.ndarray
    layer: np.ndarray


def stream_points(trace, n_layers: int, *, sublayers: bool = False) -> StreamPoints:
    """The input embeddings, then the stream after each layer (and after each attention sublayer
    when `sublayers`: resid_mid then resid_post, interleaved)."""
    labels, vectors, layer = ["input"], [trace["blocks.0.hook_resid_pre"]], [-1]
    for l in range(n_layers):
        if sublayers:
            labels.append(f"after attn {l}")
            vectors.append(trace[f"blocks.{l}.hook_resid_mid"])
            layer.append(l)
        labels.append(f"after MLP {l}" if sublayers else f"after layer {l}")
        vectors.append(trace[f"blocks.{l}.hook_resid_post"])
        layer.append(l)
    return StreamPoints(labels, np.stack(vectors), np.array(layer))


@dataclass(frozen=True)
class Lens:
    """The lens at every point × chosen position. Shapes: (n_points, n_positions[, TOP_K]).

    labels, layers: the points read (see StreamPoints).
    positions: (n_positions,) the prompt positions read (indices into the trace).
    top_ids, top_probs: the TOP_K likeliest next tokens at each point, likeliest first.
    top_logits: the top-1 token's logit.
    final_rank: rank (1 = top) of the model's final top-1 token, at each point.
    input_rank: rank of the position's own input token.
    kl_final: KL(final ‖ point) in nats: how far the point's guess is from the model's output.
    kl_input: KL(input ‖ point) in nats: how far it is from the input row's distribution (the
        input embedding read through the lens), the seed's addendum.
    tracked: {token id: (n_points, n_positions) rank} for any extra tokens asked for.
    """

    labels: list[str]
    layers: np.ndarray
    positions: np.ndarray
    top_ids: np.ndarray
    top_probs: np.ndarray
    top_logits: np.ndarray
    final_rank: np.ndarray
    input_rank: np.ndarray
    kl_final: np.ndarray
    kl_input: np.ndarray
    tracked: dict[int, np.ndarray]

    @property
    def final_top(self) -> np.ndarray:
        """(n_positions,) the model's own top-1 token at each position (the last point's)."""
        return self.top_ids[-1, :, 0]


def log_softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, np.float64)
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def ranks_of(logits: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """(n,) rank (1 = largest) of logits[i, ids[i]] in each row of (n, d_vocab) `logits`; ties share
    the better rank."""
    target = logits[np.arange(len(ids)), ids][:, None]
    return (logits > target).sum(-1) + 1


def lens(points: StreamPoints, tokens: np.ndarray, weights, eps: float, *, positions=None,
         track: tuple[int, ...] = (), chunk: int = 64) -> Lens:
    """Read `points` through the final LayerNorm and W_U at `positions` (default all).

    weights: numpy weights by TransformerLens name (ln_final.w, ln_final.b, W_U)."""
    w, b, W_U = weights["ln_final.w"], weights["ln_final.b"], weights["W_U"]
    P = len(points.labels)
    positions = np.arange(points.vectors.shape[1]) if positions is None else np.asarray(positions)
    n = len(positions)
    shape = (P, n)
    top_ids = np.zeros((*shape, TOP_K), np.int64)
    top_probs = np.zeros((*shape, TOP_K))
    top_logits, final_rank, input_rank = np.zeros(shape), np.zeros(shape, np.int64), np.zeros(shape, np.int64)
    kl_final, kl_input = np.zeros(shape), np.zeros(shape)
    tracked = {int(t): np.zeros(shape, np.int64) for t in track}
    for start in range(0, n, chunk):
        cols = slice(start, start + chunk)
        pos = positions[cols]
        # (P, c, d_vocab) would be large at GPT-2's size: one point at a time, the final and the
        # input point's log-probabilities kept for the KL divergences.
        logp = {}
        for i in (P - 1, 0):
            logp[i] = log_softmax(final_logits(points.vectors[i, pos], w, b, W_U, eps))
        final_top = logp[P - 1].argmax(-1)
        for i in range(P):
            logits = final_logits(points.vectors[i, pos], w, b, W_U, eps)  # (c, d_vocab)
            lp = logp[i] if i in logp else log_softmax(logits)
            order = np.argsort(-logits, axis=-1, kind="stable")[:, :TOP_K]  # (c, TOP_K)
            top_ids[i, cols] = order
            top_probs[i, cols] = np.exp(np.take_along_axis(lp, order, -1))
            top_logits[i, cols] = np.take_along_axis(logits, order[:, :1], -1)[:, 0]
            final_rank[i, cols] = ranks_of(logits, final_top)
            input_rank[i, cols] = ranks_of(logits, tokens[pos])
            kl_final[i, cols] = _kl(logp[P - 1], lp)
            kl_input[i, cols] = _kl(logp[0], lp)
            for t, r in tracked.items():
                r[i, cols] = ranks_of(logits, np.full(len(pos), t))
    return Lens(points.labels, points.layer, positions, top_ids, top_probs, top_logits, final_rank, input_rank,
                kl_final, kl_input, tracked)


def final_logits(x: np.ndarray, w, b, W_U, eps: float) -> np.ndarray:
    """(c, d_model) stream vectors → (c, d_vocab) logits through the final LayerNorm and W_U."""
    return layer_norm(x, w, b, eps).astype(np.float32) @ W_U  # float32 matmul: the model's own precision


def _kl(logp: np.ndarray, logq: np.ndarray) -> np.ndarray:
    """KL(p ‖ q) in nats per row, from log-probabilities."""
    return np.maximum((np.exp(logp) * (logp - logq)).sum(-1), 0.0)


def first_point_at(ranks: np.ndarray, *, below: int = 1) -> int | None:
    """The index of the first point from which `ranks` (n_points,) stay ≤ `below` to the end (None: never)."""
    good = np.asarray(ranks) <= below
    for i in range(len(good)):
        if good[i:].all():
            return i
    return None
