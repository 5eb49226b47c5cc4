"""GPT-2's parameters under TransformerLens names and shapes — the one place HF's layout is undone.

HF stores attention and MLP projections as `Conv1D`, whose weight is (in_features, out_features)
(transposed relative to `nn.Linear`), with Q, K and V fused into one `c_attn` matrix. Here they are
split per head so that every later step reads like the diagram: x @ W_Q[h] is head h's query.

| name                      | shape                     |
|---------------------------|---------------------------|
| `W_E`                     | (d_vocab, d_model)        |
| `W_pos`                   | (n_ctx, d_model)          |
| `W_U`                     | (d_model, d_vocab) = W_Eᵀ (tied) |
| `blocks.{l}.ln1.w`, `.b`  | (d_model,)  (γ and β; same for `ln2`, `ln_final`) |
| `blocks.{l}.attn.W_Q`, `W_K`, `W_V` | (head, d_model, d_head) |
| `blocks.{l}.attn.b_Q`, `b_K`, `b_V` | (head, d_head)          |
| `blocks.{l}.attn.W_O`     | (head, d_head, d_model)   |
| `blocks.{l}.attn.b_O`     | (d_model,)                |
| `blocks.{l}.mlp.W_in`     | (d_model, d_mlp)          |
| `blocks.{l}.mlp.b_in`     | (d_mlp,)                  |
| `blocks.{l}.mlp.W_out`    | (d_mlp, d_model)          |
| `blocks.{l}.mlp.b_out`    | (d_model,)                |

All are views of the HF parameters (no copies), so even GPT-2 XL costs no extra memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Dims:
    """The sizes every shape above is made of."""

    n_layers: int
    n_heads: int
    d_model: int
    d_head: int
    d_mlp: int
    d_vocab: int
    n_ctx: int


class Weights(Mapping[str, torch.Tensor]):
    """Read-only mapping from TransformerLens weight names to tensors (see module docstring)."""

    def __init__(self, tensors: dict[str, torch.Tensor], dims: Dims):
        self._tensors = tensors
        self.dims = dims
        self._derived: dict[str, torch.Tensor] = {}

    def derived(self, key: str, make) -> torch.Tensor:
        """A tensor computed once from these weights, `make()`, kept under `key` (e.g. a layer's Q, K and V
        projections as one matrix, which one product applies faster than three)."""
        if key not in self._derived:
            self._derived[key] = make()
        return self._derived[key]

    @classmethod
    def from_hf(cls, hf) -> "Weights":
        cfg = hf.config
        n_heads, d_model = cfg.n_head, cfg.n_embd
        d_head = d_model // n_heads
        dims = Dims(
            n_layers=cfg.n_layer,
            n_heads=n_heads,
            d_model=d_model,
            d_head=d_head,
            d_mlp=cfg.n_inner or 4 * d_model,
            d_vocab=cfg.vocab_size,
            n_ctx=cfg.n_positions,
        )
        tr = hf.transformer
        t: dict[str, torch.Tensor] = {
            "W_E": tr.wte.weight.detach(),  # (d_vocab, d_model)
            "W_pos": tr.wpe.weight.detach(),  # (n_ctx, d_model)
            "W_U": hf.lm_head.weight.detach().T,  # (d_model, d_vocab)
            "ln_final.w": tr.ln_f.weight.detach(),
            "ln_final.b": tr.ln_f.bias.detach(),
        }
        for l, block in enumerate(tr.h):
            p = f"blocks.{l}."
            t[p + "ln1.w"], t[p + "ln1.b"] = block.ln_1.weight.detach(), block.ln_1.bias.detach()
            t[p + "ln2.w"], t[p + "ln2.b"] = block.ln_2.weight.detach(), block.ln_2.bias.detach()
            # c_attn: weight (d_model, 3·d_model) = [Q | K | V], each block's columns ordered (head, d_head)
            w_qkv = block.attn.c_attn.weight.detach().view(d_model, 3, n_heads, d_head)
            b_qkv = block.attn.c_attn.bias.detach().view(3, n_heads, d_head)
            for i, x in enumerate("QKV"):
                t[p + f"attn.W_{x}"] = w_qkv[:, i].permute(1, 0, 2)  # (head, d_model, d_head)
                t[p + f"attn.b_{x}"] = b_qkv[i]  # (head, d_head)
            # c_proj: weight (head·d_head, d_model); row block h is head h's W_O
            t[p + "attn.W_O"] = block.attn.c_proj.weight.detach().view(n_heads, d_head, d_model)
            t[p + "attn.b_O"] = block.attn.c_proj.bias.detach()  # (d_model,)
            t[p + "mlp.W_in"] = block.mlp.c_fc.weight.detach()  # (d_model, d_mlp)
            t[p + "mlp.b_in"] = block.mlp.c_fc.bias.detach()  # (d_mlp,)
            t[p + "mlp.W_out"] = block.mlp.c_proj.weight.detach()  # (d_mlp, d_model)
            t[p + "mlp.b_out"] = block.mlp.c_proj.bias.detach()  # (d_model,)
        return cls(t, dims)

    def __getitem__(self, name: str) -> torch.Tensor:
        return self._tensors[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tensors)

    def __len__(self) -> int:
        return len(self._tensors)
