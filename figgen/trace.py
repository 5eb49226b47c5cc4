"""The vector-level forward pass: GPT-2 re-implemented over its own weights, recording every vector.

This is the computation the site draws, written to be read next to the diagram. Each sublayer
reads the residual stream through a LayerNorm and adds its output back; each attention head writes
its own output vector (z @ W_O[h]) into the stream — there is no concatenation step. Shapes are
given per line; the batch dimension does not exist here (one prompt at a time).

`trace["logits"]` equals `Model.hf(...)` logits to within float32 rounding (tested ≤ 1e-4).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

import numpy as np

from .errors import ModelError, PromptError

# torch is imported inside `trace` only: `import figgen` stays fast, so a missing model or a bad
# prompt is reported in well under a second instead of after torch's multi-second import.

TRACE_DOC = """
| name | shape | what it is |
|---|---|---|
| `hook_embed` | (pos, d_model) | token embedding: row of W_E for each token |
| `hook_pos_embed` | (pos, d_model) | positional embedding: row of W_pos for each position |
| `blocks.{l}.hook_resid_pre` | (pos, d_model) | residual stream entering layer l (layer 0: embed + pos_embed) |
| `blocks.{l}.ln1.hook_scale` | (pos, 1) | √(var + ε) of each resid_pre vector (var: mean of (x − mean)²) |
| `blocks.{l}.ln1.hook_normalized` | (pos, d_model) | LayerNorm output, (x − mean)/scale · γ + β: what attention reads (see below) |
| `blocks.{l}.attn.hook_q`, `hook_k`, `hook_v` | (pos, head, d_head) | query, key, value vectors of each head |
| `blocks.{l}.attn.hook_attn_scores` | (head, query_pos, key_pos) | q·k/√d_head, −inf above the diagonal (causal mask) |
| `blocks.{l}.attn.hook_pattern` | (head, query_pos, key_pos) | softmax of the scores: rows sum to 1 |
| `blocks.{l}.attn.hook_z` | (pos, head, d_head) | attention-weighted sum of value vectors |
| `blocks.{l}.attn.hook_result` | (pos, head, d_model) | each head's output vector, z @ W_O[h] |
| `blocks.{l}.hook_attn_out` | (pos, d_model) | sum of the heads' outputs + b_O |
| `blocks.{l}.hook_resid_mid` | (pos, d_model) | resid_pre + attn_out |
| `blocks.{l}.ln2.hook_scale`, `ln2.hook_normalized` | (pos, 1), (pos, d_model) | LayerNorm before the MLP |
| `blocks.{l}.mlp.hook_pre` | (pos, d_mlp) | up-projection: normalized @ W_in + b_in |
| `blocks.{l}.mlp.hook_post` | (pos, d_mlp) | GELU(pre) |
| `blocks.{l}.hook_mlp_out` | (pos, d_model) | down-projection: post @ W_out + b_out |
| `blocks.{l}.hook_resid_post` | (pos, d_model) | resid_mid + mlp_out (= next layer's resid_pre) |
| `ln_final.hook_scale`, `ln_final.hook_normalized` | (pos, 1), (pos, d_model) | final LayerNorm |
| `logits` | (pos, d_vocab) | ln_final output @ W_U |

LayerNorm names, compared with TransformerLens: `hook_scale` is √(mean((x − mean)²) + ε) there too,
in every version. `hook_normalized` here is the LayerNorm's output with γ and β applied, as
TransformerLens 2.x's unfolded `LayerNorm` records it. From TransformerLens 3.0 on, that name
holds (x − mean)/scale, before γ and β, in `LayerNorm` and in TransformerBridge's normalization
component (TransformerLens 3 and 4), which records the output as `hook_out`; and with folded
LayerNorm weights (`fold_ln`, `LayerNormPre`) it is (x − mean)/scale in every version. Compare
ours with their `hook_out`, or with their `hook_normalized` · γ + β.
"""


class Trace(Mapping[str, np.ndarray]):
    __doc__ = (
        """Every vector of one forward pass, by TransformerLens name (batch dimension dropped).

    `trace[name]` is a float32 numpy array; `l` is the 0-indexed layer; `pos` counts the prompt's
    tokens including the prepended BOS token when there is one.
    """
        + TRACE_DOC
        + """
    Attributes: `tokens` (pos,) int64 ids; `str_tokens` each token decoded on its own (" tokens");
    `display_tokens` the BPE strings as the tokenizer stores them ("Ġtokens"); `prompt`;
    `prepend_bos`; `model_name`.
    """
    )

    def __init__(self, acts: dict[str, np.ndarray], *, tokens, str_tokens, display_tokens, prompt,
                 prepend_bos, model_name):
        self._acts = acts
        self.tokens = tokens
        self.str_tokens = str_tokens
        self.display_tokens = display_tokens
        self.prompt = prompt
        self.prepend_bos = prepend_bos
        self.model_name = model_name

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self._acts[name]
        except KeyError:
            raise KeyError(f"no activation named {name!r}; see Trace.names()") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._acts)

    def __len__(self) -> int:
        return len(self._acts)

    def names(self) -> list[str]:
        """All recorded names, in forward-pass order."""
        return list(self._acts)

    def __repr__(self) -> str:
        return f"Trace({self.model_name!r}, {self.prompt!r}, {len(self.tokens)} tokens, {len(self)} names)"


# --- the forward pass -----------------------------------------------------------------------------


def gelu_tanh(x):
    """GELU, tanh approximation (GPT-2's "gelu_new"): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), in one
    fused kernel (torch's own tanh-approximated GELU, the same formula)."""
    import torch.nn.functional as F

    return F.gelu(x, approximate="tanh")


def gelu_erf(x):
    """GELU, exact (erf) form."""
    return 0.5 * x * (1.0 + (x / math.sqrt(2.0)).erf())


ACTIVATIONS = {"gelu_new": gelu_tanh, "gelu_pytorch_tanh": gelu_tanh, "gelu": gelu_erf, "relu": lambda x: x.relu()}


def layer_norm(x, w, b, eps: float):
    """LayerNorm, written out so its scale is visible. x: (pos, d_model) → scale (pos, 1), out (pos, d_model)."""
    x = x - x.mean(-1, keepdim=True)  # (pos, d_model), mean 0
    scale = (x.pow(2).mean(-1, keepdim=True) + eps).sqrt()  # (pos, 1)
    return scale, x / scale * w + b  # (pos, 1), (pos, d_model)


def check_text(prompt) -> None:
    """Refuse what is not a prompt at all: a non-string or the empty string."""
    if not isinstance(prompt, str):
        raise PromptError(f"prompt must be a string, got {type(prompt).__name__}")
    if not prompt:
        raise PromptError("prompt is empty: give at least one character of text")


def bos_token_id(cfg, tokenizer) -> int | None:
    """The id `tokenize` prepends: the config's bos_token_id, else the tokenizer's; None if neither has one."""
    return cfg.bos_token_id if cfg.bos_token_id is not None else tokenizer.bos_token_id


def tokenize(model, prompt: str, *, prepend_bos: bool = True) -> list[int]:
    """Token ids for `prompt`, checked against the model's context length and vocabulary.

    `model` needs only `.tokenizer` and `.cfg` (`figgen.model.check_prompt` passes the tokenizer
    and config without the weights, so its token count is this one)."""
    check_text(prompt)
    ids = list(model.tokenizer(prompt, add_special_tokens=False)["input_ids"])
    if prepend_bos:
        bos = bos_token_id(model.cfg, model.tokenizer)
        if bos is None:
            raise ModelError("this model has no BOS token (no bos_token_id in its config or tokenizer); "
                             "trace with prepend_bos=False (`figgen trace --no-bos`)")
        ids = [bos, *ids]
    n_ctx = model.cfg.n_positions
    if len(ids) > n_ctx:
        with_bos = " (with BOS)" if prepend_bos else ""
        raise PromptError(f"prompt is {len(ids)} tokens{with_bos}; this model's context limit is {n_ctx}")
    outside = [i for i in ids if not 0 <= i < model.cfg.vocab_size]
    if outside:
        raise ModelError(f"token id {outside[0]} is outside this model's vocabulary "
                         f"(vocab_size {model.cfg.vocab_size}): its tokenizer or bos_token_id does not match the model")
    return ids


def trace(model, prompt: str, *, prepend_bos: bool = True) -> Trace:
    """Run `prompt` through `model` vector by vector and record every activation (see `Trace`)."""
    import torch

    ids = tokenize(model, prompt, prepend_bos=prepend_bos)
    with torch.no_grad():
        acts = _forward(model, torch.tensor(ids, device=model.weights["W_E"].device))
    tok = model.tokenizer
    return Trace(
        {name: t.detach().to("cpu", torch.float32).numpy() for name, t in acts.items()},
        tokens=np.asarray(ids, dtype=np.int64),
        str_tokens=[tok.decode([i]) for i in ids],
        display_tokens=tok.convert_ids_to_tokens(ids),
        prompt=prompt,
        prepend_bos=prepend_bos,
        model_name=model.name,
    )


def _forward(model, tokens) -> dict:
    """The forward pass over `tokens` (pos,), returning {name: tensor} in forward order."""
    import torch

    cfg, W, dims = model.cfg, model.weights, model.weights.dims
    act = ACTIVATIONS.get(cfg.activation_function)
    if act is None:
        raise ModelError(f"activation {cfg.activation_function!r} is not supported by figgen's trace")
    eps = cfg.layer_norm_epsilon
    acts: dict[str, torch.Tensor] = {}

    def rec(name: str, x: torch.Tensor) -> torch.Tensor:
        acts[name] = x
        return x

    pos = tokens.shape[0]
    causal = torch.ones(pos, pos, dtype=torch.bool, device=tokens.device).tril()  # (query_pos, key_pos)

    embed = rec("hook_embed", W["W_E"][tokens])  # (pos, d_model)
    pos_embed = rec("hook_pos_embed", W["W_pos"][:pos])  # (pos, d_model)
    resid = embed + pos_embed  # (pos, d_model)

    for l in range(dims.n_layers):
        p = f"blocks.{l}."
        resid_pre = rec(p + "hook_resid_pre", resid)  # (pos, d_model)

        # Attention: each head reads the normalized stream through its own W_Q, W_K, W_V.
        scale, x = layer_norm(resid_pre, W[p + "ln1.w"], W[p + "ln1.b"], eps)
        rec(p + "ln1.hook_scale", scale)  # (pos, 1)
        rec(p + "ln1.hook_normalized", x)  # (pos, d_model)
        q = rec(p + "attn.hook_q", torch.einsum("pd,hde->phe", x, W[p + "attn.W_Q"]) + W[p + "attn.b_Q"])
        k = rec(p + "attn.hook_k", torch.einsum("pd,hde->phe", x, W[p + "attn.W_K"]) + W[p + "attn.b_K"])
        v = rec(p + "attn.hook_v", torch.einsum("pd,hde->phe", x, W[p + "attn.W_V"]) + W[p + "attn.b_V"])
        scores = torch.einsum("qhe,khe->hqk", q, k)  # (head, query_pos, key_pos)
        if cfg.scale_attn_weights:
            scores = scores / math.sqrt(dims.d_head)
        if cfg.scale_attn_by_inverse_layer_idx:
            scores = scores / (l + 1)
        scores = rec(p + "attn.hook_attn_scores", scores.masked_fill(~causal, float("-inf")))
        pattern = rec(p + "attn.hook_pattern", scores.softmax(-1))  # (head, query_pos, key_pos)
        z = rec(p + "attn.hook_z", torch.einsum("hqk,khe->qhe", pattern, v))  # (pos, head, d_head)
        # Each head projects its own z back to d_model and writes it to the stream: no concatenation.
        result = rec(p + "attn.hook_result", torch.einsum("qhe,hed->qhd", z, W[p + "attn.W_O"]))  # (pos, head, d_model)
        attn_out = rec(p + "hook_attn_out", result.sum(1) + W[p + "attn.b_O"])  # (pos, d_model)
        resid_mid = rec(p + "hook_resid_mid", resid_pre + attn_out)  # (pos, d_model)

        # MLP: up-project, GELU, down-project — each position on its own.
        scale, x = layer_norm(resid_mid, W[p + "ln2.w"], W[p + "ln2.b"], eps)
        rec(p + "ln2.hook_scale", scale)  # (pos, 1)
        rec(p + "ln2.hook_normalized", x)  # (pos, d_model)
        pre = rec(p + "mlp.hook_pre", x @ W[p + "mlp.W_in"] + W[p + "mlp.b_in"])  # (pos, d_mlp)
        post = rec(p + "mlp.hook_post", act(pre))  # (pos, d_mlp)
        mlp_out = rec(p + "hook_mlp_out", post @ W[p + "mlp.W_out"] + W[p + "mlp.b_out"])  # (pos, d_model)
        resid = rec(p + "hook_resid_post", resid_mid + mlp_out)  # (pos, d_model)

    scale, x = layer_norm(resid, W["ln_final.w"], W["ln_final.b"], eps)
    rec("ln_final.hook_scale", scale)  # (pos, 1)
    rec("ln_final.hook_normalized", x)  # (pos, d_model)
    rec("logits", x @ W["W_U"])  # (pos, d_vocab); GPT-2's unembedding has no bias
    return acts
