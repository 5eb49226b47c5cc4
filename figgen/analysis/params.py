"""Where a GPT-2's parameters are: counted from its dimensions (W_U is tied to W_E: counted once)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Allocation:
    """components: (name, parameter count) in the diagram's order; total: their sum."""

    components: list[tuple[str, int]]

    @property
    def total(self) -> int:
        return sum(n for _, n in self.components)

    def share(self, name: str) -> float:
        return dict(self.components)[name] / self.total


def allocation(dims) -> Allocation:
    """Parameter counts by component for a model of these `figgen.weights.Dims`."""
    d, L, H, e, m = dims.d_model, dims.n_layers, dims.n_heads, dims.d_head, dims.d_mlp
    attention = L * (3 * (d * H * e + H * e) + H * e * d + d)  # W_Q, W_K, W_V (+ biases), W_O, b_O
    mlp = L * (d * m + m + m * d + d)  # W_in, b_in, W_out, b_out
    layernorm = (2 * L + 1) * 2 * d  # γ and β of ln1, ln2 per layer, and ln_final
    return Allocation([
        ("W_E (token embedding)", dims.d_vocab * d),
        ("W_pos (positional embedding)", dims.n_ctx * d),
        ("attention", attention),
        ("MLP", mlp),
        ("LayerNorm", layernorm),
    ])
