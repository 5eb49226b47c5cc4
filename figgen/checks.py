"""The trace checked against an independent implementation: transformers' own GPT2LMHeadModel.

`figgen.trace` is our re-implementation of GPT-2's forward pass, written to be read. Its invariants
(resid_mid = resid_pre + attn_out, …) only show it is consistent with itself; this module compares
it with transformers' forward pass on the same tokens, which shares none of its code:

    HF hidden_states[0]        vs  blocks.0.hook_resid_pre        (embeddings)
    HF hidden_states[l], l ≥ 1 vs  blocks.{l-1}.hook_resid_post   (after each layer)
    HF hidden_states[-1]       vs  ln_final.hook_normalized       (HF applies ln_f to the last one)
    HF logits                  vs  logits
    HF attention sublayer out  vs  blocks.{l}.attn.hook_result summed over heads + b_O

The last line checks the per-head output vectors: HF computes the attention output by
concatenating the heads and projecting once (c_proj); the trace keeps each head's z @ W_O[h]
separate. Runs torch; figures read only the returned numpy dataclass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ForwardCheck:
    """Largest absolute differences between the trace and transformers' forward pass.

    stages: names of the compared vectors, in forward order ("embeddings", "after layer 0", …,
        "final LayerNorm", "logits"); diffs (n_stages,) the largest |trace − HF| over every position
        and component; scales (n_stages,) the largest |HF value|, for scale.
    attn_diffs (n_layers,): largest |Σ_h result[h] + b_O − HF attention output| per layer;
        attn_scales (n_layers,) the largest |HF attention output|.
    same_prediction: the two agree on the top next token at every position.
    """

    stages: list[str]
    diffs: np.ndarray
    scales: np.ndarray
    attn_diffs: np.ndarray
    attn_scales: np.ndarray
    same_prediction: bool


def against_transformers(model, trace) -> ForwardCheck:
    """Run `model.hf` on `trace.tokens` and compare it with `trace` (see the module docstring)."""
    import torch

    hf = model.hf
    blocks = hf.transformer.h
    attn_out: dict[int, torch.Tensor] = {}

    def keep(layer: int):
        def hook(module, args, output):  # GPT2Attention returns (attn_output, attn_weights, …)
            attn_out[layer] = (output[0] if isinstance(output, tuple) else output)[0].detach()
        return hook

    handles = [block.attn.register_forward_hook(keep(l)) for l, block in enumerate(blocks)]
    try:
        with torch.no_grad():
            out = hf(torch.tensor(trace.tokens)[None], output_hidden_states=True)
    finally:
        for h in handles:
            h.remove()
    hidden = [h[0].float().numpy() for h in out.hidden_states]  # n_layers + 1 × (pos, d_model)
    n = len(blocks)
    ours = [trace["blocks.0.hook_resid_pre"]]
    ours += [trace[f"blocks.{l}.hook_resid_post"] for l in range(n - 1)]
    ours += [trace["ln_final.hook_normalized"]]
    theirs = hidden + [out.logits[0].float().numpy()]
    ours += [trace["logits"]]
    stages = ["embeddings", *(f"after layer {l}" for l in range(n - 1)), "final LayerNorm", "logits"]

    attn_diffs, attn_scales = [], []
    for l in range(n):
        b_O = model.weights[f"blocks.{l}.attn.b_O"].detach().float().numpy()
        summed = trace[f"blocks.{l}.attn.hook_result"].astype(np.float64).sum(1) + b_O  # (pos, d_model)
        ref = attn_out[l].float().numpy()
        attn_diffs.append(float(np.abs(summed - ref).max()))
        attn_scales.append(float(np.abs(ref).max()))
    return ForwardCheck(
        stages=stages,
        diffs=np.array([float(np.abs(a - b).max()) for a, b in zip(ours, theirs)]),
        scales=np.array([float(np.abs(b).max()) for b in theirs]),
        attn_diffs=np.array(attn_diffs),
        attn_scales=np.array(attn_scales),
        same_prediction=bool((trace["logits"].argmax(-1) == theirs[-1].argmax(-1)).all()),
    )
