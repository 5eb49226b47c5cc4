"""Attention heads as circuits: per-head outputs, the QK and OV matrices, their ranks and eigenvalues.

Conventions (row vectors, as in the trace): a head reads x (d_model,) and computes
    q = x @ W_Q[h] + b_Q[h],  k = x @ W_K[h] + b_K[h],  v = x @ W_V[h] + b_V[h]     (d_head,)
    score(i, j) = q_i · k_j · scale,   output_i = Σ_j pattern(i, j) v_j @ W_O[h]      (d_model,)
so the QK circuit is W_QK = W_Q[h] @ W_K[h]ᵀ and the OV circuit is W_OV = W_V[h] @ W_O[h], both
(d_model, d_model) but of rank at most d_head (Elhage et al. 2021, "A Mathematical Framework for
Transformer Circuits", https://transformer-circuits.pub/2021/framework/index.html).

Everything here is numpy; no plotting. Shapes are in the docstrings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .attention import previous_share

CHUNK = 8192  # vocabulary columns per block in `top_tokens`: bounds the temporary at n × CHUNK floats


# --- output vectors: heads add, no concatenation needed ------------------------------------------


@dataclass(frozen=True)
class HeadOutputs:
    """One attention layer's output computed two ways.

    per_head: (pos, head, d_model) each head's own output vector z[:, h] @ W_O[h].
    summed: (pos, d_model) per_head summed over heads, plus b_O.
    concatenated: (pos, d_model) the usual implementation: the heads' z concatenated into one
        (pos, head·d_head) matrix, times W_O stacked into (head·d_head, d_model), plus b_O.
    """

    per_head: np.ndarray
    summed: np.ndarray
    concatenated: np.ndarray


def head_outputs(z: np.ndarray, W_O: np.ndarray, b_O: np.ndarray) -> HeadOutputs:
    """z (pos, head, d_head), W_O (head, d_head, d_model), b_O (d_model,) → `HeadOutputs`."""
    pos, n_heads, d_head = z.shape
    per_head = np.einsum("phe,hed->phd", z, W_O)  # (pos, head, d_model)
    stacked = W_O.reshape(n_heads * d_head, W_O.shape[-1])  # (head·d_head, d_model), head h = rows h·d_head…
    concatenated = z.reshape(pos, n_heads * d_head) @ stacked + b_O  # (pos, d_model)
    return HeadOutputs(per_head, per_head.sum(1) + b_O, concatenated)


# --- QK and OV matrices and their spectra ----------------------------------------------------------


def qk_matrix(W_Q: np.ndarray, W_K: np.ndarray) -> np.ndarray:
    """One head's W_QK = W_Q @ W_Kᵀ: (d_model, d_head) × 2 → (d_model, d_model), in float64.

    x_i @ W_QK @ x_jᵀ is the bilinear part of the score of query x_i for key x_j."""
    return np.asarray(W_Q, np.float64) @ np.asarray(W_K, np.float64).T


def ov_matrix(W_V: np.ndarray, W_O: np.ndarray) -> np.ndarray:
    """One head's W_OV = W_V @ W_O: (d_model, d_head), (d_head, d_model) → (d_model, d_model), float64.

    x_j @ W_OV is what the head writes to a destination for each unit of attention paid to x_j."""
    return np.asarray(W_V, np.float64) @ np.asarray(W_O, np.float64)


@dataclass(frozen=True)
class Spectrum:
    """singular: (min(m, n),) singular values, largest first; rank: how many exceed `tol`."""

    singular: np.ndarray
    rank: int
    tol: float


def spectrum(m: np.ndarray) -> Spectrum:
    """Singular values of m (float64) and its numerical rank (numpy's matrix_rank tolerance:
    σ_max · max(shape) · float64 eps, so only rounding-level values count as zero)."""
    m = np.asarray(m, np.float64)
    s = np.linalg.svd(m, compute_uv=False)
    tol = float(s.max(initial=0.0) * max(m.shape) * np.finfo(np.float64).eps)
    return Spectrum(s, int((s > tol).sum()), tol)


# --- attention scores recomputed from the normalized stream ----------------------------------------


def attention_scores(x: np.ndarray, W_Q: np.ndarray, b_Q: np.ndarray, W_K: np.ndarray, b_K: np.ndarray,
                     scale: float, causal: bool = True) -> np.ndarray:
    """One head's scores: x (pos, d_model) → (query_pos, key_pos) = (x W_Q + b_Q)(x W_K + b_K)ᵀ · scale.

    With `causal`, entries above the diagonal (keys after the query) are −inf, as in the trace."""
    x = np.asarray(x, np.float64)
    q = x @ W_Q + b_Q  # (pos, d_head)
    k = x @ W_K + b_K  # (pos, d_head)
    s = (q @ k.T) * scale  # (query_pos, key_pos)
    if causal:
        s = np.where(np.tri(len(s), dtype=bool), s, -np.inf)
    return s


@dataclass(frozen=True)
class ScalingCheck:
    """The same head's scores (query_pos, key_pos) recomputed with transformed weights.

    original: W_Q, W_K as they are.
    balanced: W_Q, b_Q × c and W_K, b_K ÷ c (c = `factor`): unchanged.
    rotated: W_Q, b_Q and W_K, b_K both times the same orthogonal d_head × d_head matrix: unchanged.
    query_only: W_Q, b_Q × c alone: every score × c.
    """

    factor: float
    original: np.ndarray
    balanced: np.ndarray
    rotated: np.ndarray
    query_only: np.ndarray


def random_rotation(n: int, seed: int = 0) -> np.ndarray:
    """A fixed orthogonal (n, n) matrix (QR of a seeded Gaussian matrix, signs made unique)."""
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def scaling_check(x, W_Q, b_Q, W_K, b_K, scale: float, factor: float = 2.0) -> ScalingCheck:
    """Recompute one head's scores from x (pos, d_model) with W_Q·c, W_K/c and friends (see ScalingCheck)."""
    W_Q, b_Q, W_K, b_K = (np.asarray(a, np.float64) for a in (W_Q, b_Q, W_K, b_K))
    R = random_rotation(W_Q.shape[1])  # (d_head, d_head), R Rᵀ = I

    def run(wq, bq, wk, bk):
        return attention_scores(x, wq, bq, wk, bk, scale)

    return ScalingCheck(
        factor=factor,
        original=run(W_Q, b_Q, W_K, b_K),
        balanced=run(W_Q * factor, b_Q * factor, W_K / factor, b_K / factor),
        rotated=run(W_Q @ R, b_Q @ R, W_K @ R, b_K @ R),
        query_only=run(W_Q * factor, b_Q * factor, W_K, b_K),
    )


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    """max |a − b| over entries finite in both (the masked −inf entries are compared for equality)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    finite = np.isfinite(a) & np.isfinite(b)
    if not np.array_equal(np.isfinite(a), np.isfinite(b)):
        return float("inf")
    return float(np.abs(a[finite] - b[finite]).max(initial=0.0))


def previous_token_scores(pattern: np.ndarray) -> np.ndarray:
    """pattern (head, query_pos, key_pos) → (head,) mean attention to the previous position.

    Queries from position 2 on (position 1's previous token is the first token, usually BOS,
    where many heads park their attention for other reasons); all queries ≥ 1 for shorter prompts.
    The same measure as `attention.previous_share`."""
    return previous_share(pattern)


def layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float = 1e-5, dtype=np.float64) -> np.ndarray:
    """GPT-2's LayerNorm on rows of x (n, d_model): centre, divide by √(var + eps), × w + b; computed in
    `dtype` (None: x's own)."""
    x = np.asarray(x, dtype)
    x = x - x.mean(-1, keepdims=True)
    return x / np.sqrt((x ** 2).mean(-1, keepdims=True) + eps) * w + b


# --- the OV circuit in token space: eigenvalues without the vocabulary-sized matrix ---------------


def centre(m: np.ndarray, axis: int) -> np.ndarray:
    """m minus its mean along `axis` (LayerNorm's centring, applied to a weight matrix)."""
    return m - m.mean(axis, keepdims=True)


def unembed_embed(W_U: np.ndarray, W_E: np.ndarray, gamma_final: np.ndarray | None = None) -> np.ndarray:
    """The (d_model, d_model) matrix between a head's output and its input in token space.

    Token circuit (vocab × vocab, never built): W_E · C·Γ_l · W_V W_O · C·Γ_f · W_U, where C centres
    a vector and Γ multiplies by a LayerNorm's γ (LayerNorm's 1/σ is a positive number per vector and
    its β a constant offset; both left out). Its nonzero eigenvalues are those of the cyclic
    permutation W_O · (C Γ_f W_U W_E C) · Γ_l W_V, whose middle part this returns:
    C Γ_f W_U W_E C with W_U (d_model, d_vocab), W_E (d_vocab, d_model). γ_f = None: no ln_final γ.
    """
    W_U = np.asarray(W_U, np.float32)
    if gamma_final is not None:
        W_U = W_U * np.asarray(gamma_final, np.float32)[:, None]
    UE = np.asarray(W_U @ np.asarray(W_E, np.float32), np.float64)  # (d_model, d_model): one pass over the vocabulary
    return centre(centre(UE, 0), 1)  # C · UE · C (C symmetric)


def token_ov_eigenvalues(W_V: np.ndarray, W_O: np.ndarray, UE: np.ndarray,
                         gamma: np.ndarray | None = None) -> np.ndarray:
    """Nonzero eigenvalues of one head's token-space OV circuit, via a (d_head, d_head) matrix.

    W_V (d_model, d_head), W_O (d_head, d_model), UE (d_model, d_model) from `unembed_embed`;
    gamma (d_model,) the head's ln1 γ (None: none). Eigenvalues of AB equal those of BA apart from
    zeros, so eig(W_E Γ W_V W_O W_U) (vocab × vocab) = eig(W_O · UE · Γ W_V) (d_head × d_head) ∪ {0}.
    Returns (d_head,) complex, sorted by decreasing real part then imaginary part.
    """
    W_V = np.asarray(W_V, np.float64)
    if gamma is not None:
        W_V = np.asarray(gamma, np.float64)[:, None] * W_V
    lam = np.linalg.eigvals(np.asarray(W_O, np.float64) @ UE @ W_V)  # (d_head,)
    return lam[np.lexsort((-lam.imag, -lam.real))]


def copying_score(eigenvalues: np.ndarray) -> float:
    """Σλ / Σ|λ| (Elhage et al.'s summary of an OV circuit's eigenvalues): +1 when all are positive
    reals (the head copies: a token raises its own logit), −1 when all are negative reals."""
    total = float(np.abs(eigenvalues).sum())
    return float(eigenvalues.sum().real) / total if total > 0 else 0.0


def top_tokens(vectors: np.ndarray, W_U: np.ndarray, k: int = 5, chunk: int = CHUNK) -> tuple[np.ndarray, np.ndarray]:
    """The k vocabulary entries each vector (n, d_model) raises most through W_U (d_model, d_vocab).

    Returns ids (n, k) and logits (n, k), highest first (ties: lower id first). Works through the
    vocabulary in blocks of `chunk` columns, so at most n × chunk logits exist at once."""
    vectors = np.asarray(vectors, np.float32)
    best_ids = np.zeros((len(vectors), 0), dtype=np.int64)
    best_val = np.zeros((len(vectors), 0), dtype=np.float32)
    for start in range(0, W_U.shape[1], chunk):
        block = vectors @ np.asarray(W_U[:, start:start + chunk], np.float32)  # (n, chunk)
        ids = np.broadcast_to(np.arange(start, start + block.shape[1]), block.shape)
        all_ids = np.concatenate([best_ids, ids], axis=1)
        all_val = np.concatenate([best_val, block], axis=1)
        order = np.lexsort((all_ids, -all_val), axis=-1)[:, :k]
        best_ids = np.take_along_axis(all_ids, order, 1)
        best_val = np.take_along_axis(all_val, order, 1)
    return best_ids, best_val


@dataclass(frozen=True)
class Copying:
    """Every head's token-space OV eigenvalues and copying score.

    eigenvalues: (n_layers, n_heads, d_head) complex; scores: (n_layers, n_heads) Σλ/Σ|λ| in [−1, 1].
    """

    eigenvalues: np.ndarray
    scores: np.ndarray

    @property
    def best(self) -> tuple[int, int]:
        """(layer, head) with the highest score (ties: the first)."""
        return tuple(int(i) for i in np.unravel_index(np.argmax(self.scores), self.scores.shape))


def copying(weights, n_layers: int, UE: np.ndarray) -> Copying:
    """Copying scores of all heads from `weights` (TransformerLens names → numpy arrays) and
    UE = `unembed_embed(W_U, W_E, ln_final γ)`; each head's ln1 γ is folded into its W_V."""
    eig = []
    for l in range(n_layers):
        p = f"blocks.{l}."
        W_V, W_O, gamma = weights[p + "attn.W_V"], weights[p + "attn.W_O"], weights[p + "ln1.w"]
        eig.append([token_ov_eigenvalues(W_V[h], W_O[h], UE, gamma) for h in range(len(W_V))])
    eigenvalues = np.asarray(eig)  # (n_layers, n_heads, d_head)
    scores = np.vectorize(copying_score, signature="(n)->()")(eigenvalues)
    return Copying(eigenvalues, scores)


def ov_logits_top(weights, layer: int, head: int, token_ids, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """What head (layer, head)'s OV circuit writes for each token, read out as logits: top-k tokens.

    For each id: W_E[id], centred and × ln1 γ (LayerNorm without its 1/σ and β), through W_V W_O,
    centred and × ln_final γ, then W_U. Returns ids (n, k) and logits (n, k) from `top_tokens`."""
    p = f"blocks.{layer}."
    x = centre(np.asarray(weights["W_E"][np.asarray(token_ids)], np.float64), -1) * weights[p + "ln1.w"]  # (n, d_model)
    out = x @ ov_matrix(weights[p + "attn.W_V"][head], weights[p + "attn.W_O"][head])  # (n, d_model)
    return top_tokens(centre(out, -1) * weights["ln_final.w"], weights["W_U"], k)
