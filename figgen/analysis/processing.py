"""TransformerLens's default weight processing, where it changes what a single component says.

The posts ran `HookedTransformer.from_pretrained("gpt2")`, whose defaults are `fold_ln`,
`center_writing_weights`, `center_unembed` and `fold_value_biases`. The forward pass is unchanged by
them (every reader of the stream is a LayerNorm, which removes the centring), so the model's output,
its attention patterns and its stream through the lens are the same here and there. What changes is a
component read or removed on its own:

- a head's result. `fold_ln` folds ln1's β into the value bias (b_V + β₁·W_V[h]), `fold_value_biases`
  then moves that bias, times W_O[h], out of the head into the layer's b_O (a pattern row sums to 1,
  so it is a constant of the head's output). TransformerLens's `hook_result` is therefore

      result_TL[h] = centre(result[h] − value_bias[h]),   value_bias[h] = (b_V[h] + β₁·W_V[h])·W_O[h]

- zero-ablating a head in the processed model removes `result_TL` and keeps `value_bias` (it is in b_O
  now): here, the head's result is replaced by its value-bias term (`zero_ablation_values`);
- the unembedding: W_U' = γ_f ⊙ W_U centred over d_model and over the vocabulary, and
  b_U' = β_f·W_U centred over the vocabulary. Read through the final LayerNorm (γ and β kept) and
  W_U, a vector gets TransformerLens's logits plus one constant per vector, which changes no
  probability and no ranking.

numpy only; weights by TransformerLens name (figgen.weights), float32 in, float64 arithmetic.
"""

from __future__ import annotations

import numpy as np


def value_bias(W, layer: int) -> np.ndarray:
    """(head, d_model): what TransformerLens's processing moves out of each head of `layer` into b_O,
    (b_V[h] + β₁·W_V[h]) · W_O[h]."""
    p = f"blocks.{layer}."
    W_V, W_O = np.asarray(W[p + "attn.W_V"], np.float64), np.asarray(W[p + "attn.W_O"], np.float64)
    bias = np.asarray(W[p + "attn.b_V"], np.float64) + np.einsum("d,hde->he", np.asarray(W[p + "ln1.b"], np.float64), W_V)
    return np.einsum("he,hed->hd", bias, W_O)  # (head, d_model)


def value_biases(W, n_layers: int) -> np.ndarray:
    """(layer, head, d_model): `value_bias` of every layer."""
    return np.stack([value_bias(W, l) for l in range(n_layers)])


def processed_results(results: np.ndarray, biases: np.ndarray) -> np.ndarray:
    """TransformerLens's hook_result from this trace's: results (..., head, d_model) minus their layer's
    value-bias terms biases (head, d_model) (broadcast), centred over d_model."""
    r = np.asarray(results, np.float64) - biases
    return r - r.mean(-1, keepdims=True)


def zero_ablation_values(W, n_layers: int) -> np.ndarray:
    """(layer, head, d_model): what replaces a head's result when TransformerLens's processed model
    zero-ablates it (its hook_result set to 0, its value-bias term left in b_O)."""
    return value_biases(W, n_layers).astype(np.float32)
