"""The forward pass of `trace.py`, batched, with edits: ablation, patching, fixed attention rows,
steering and in-vitro subsets of the model.

`run(model, tokens, edits=[...], keep=[...])` runs a (batch, pos) array of token ids — prompts of
equal length, BOS included by the caller (`tokenize_batch` makes one) — through the same
computation as `figgen.trace`, one layer at a time, applying each edit at its TransformerLens hook
name. With no edits every kept activation equals `trace(model, prompt)[name]` for each prompt
(tested ≤ 1e-5). Names and shapes are trace.py's (`TRACE_DOC`) with the batch dimension first:
`blocks.{l}.attn.hook_pattern` is (batch, head, query_pos, key_pos), `hook_result` is
(batch, pos, head, d_model), the rest (batch, *trace shape).

Edits (frozen dataclasses; each applies to the batch rows in `rows`, default all):

| edit | hook it changes | what it does |
|---|---|---|
| `ReplaceHead(l, h, value=0.0, pos=None)` | `blocks.{l}.attn.hook_result[:, pos, h]` | zero / mean / random ablation, patching |
| `SetPattern(l, h, query, row)` | `blocks.{l}.attn.hook_pattern[:, h, query]` | attention row fixed (e.g. one-hot on key k) |
| `AddResid(hook_name, vector, pos=None)` | `blocks.{l}.hook_resid_pre` / `_mid` / `_post` | steering: a vector added to the stream |
| `ReplaceMLP(l, value=0.0, pos=None)` | `blocks.{l}.hook_mlp_out[:, pos]` | MLP zero / mean ablation |
| `InVitro(components, cut=None)` | every head's result, every MLP's output | run only the chosen components (see its docstring) |

A value broadcasts to (batch, pos, d_model) of the run it is used in (so a scalar, a (d_model,)
vector, a dataset mean (pos, d_model), or another run's activation (batch, pos, d_model) all work);
the entries at the edit's rows and positions are written. Edits at the same hook apply in list order.

`head_ablation_sweep` replaces every head in turn, for several ablation values at once, reusing the
clean run below the edited layer and stacking the variants in the batch (see benchmarks/ablation_sweep.py).

torch is used inside; everything returned is numpy.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .errors import FiggenError, PromptError
from .trace import ACTIVATIONS, layer_norm, tokenize


class InterventionError(FiggenError, ValueError):
    """An edit, a hook name or a token array that this model cannot run."""


# --- edits ----------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ReplaceHead:
    """Replace head `head` of layer `layer`'s output vector, `blocks.{layer}.attn.hook_result[:, pos, head]`.

    `value` 0.0 is zero ablation; a dataset's mean result of this head, (pos, d_model) or (d_model,),
    is mean ablation; another run's result of this head, (batch, pos, d_model), is patching or
    random ablation. attn_out (= Σ results + b_O) and everything after see the new vector; b_O stays.
    """

    layer: int
    head: int
    value: object = 0.0
    pos: int | Sequence[int] | None = None
    rows: int | Sequence[int] | None = None

    def hook(self) -> str:
        return f"blocks.{self.layer}.attn.hook_result"

    def apply(self, result, run: "_Run"):  # result: (batch, pos, head, d_model)
        r, p = run.select(self.rows, self.pos)
        result[r, p, self.head] = run.value(self.value, self)[r, p]  # (rows, positions, d_model)
        return result


@dataclass(frozen=True, eq=False)
class SetPattern:
    """Set head `head`'s attention row at query position `query`: `blocks.{layer}.attn.hook_pattern[:, head, query]`.

    `row` is a key position k (the query attends only to k: a one-hot row, as Gould et al. set
    "the attention of the 4th stream to 1 wrt. the final stream") or weights over the key positions,
    (key_pos,) or (batch, key_pos), summing to 1 with nothing above the query (causal). The head's
    z at that query becomes Σ_k row[k]·v_k; its scores (`hook_attn_scores`) are left as they were.
    """

    layer: int
    head: int
    query: int
    row: object
    rows: int | Sequence[int] | None = None

    def hook(self) -> str:
        return f"blocks.{self.layer}.attn.hook_pattern"

    def apply(self, pattern, run: "_Run"):  # pattern: (batch, head, query_pos, key_pos)
        import torch

        n_pos = pattern.shape[-1]
        q = run.position(self.query)
        if isinstance(self.row, (int, np.integer)):
            k = run.position(int(self.row))
            weights = torch.zeros(n_pos, dtype=pattern.dtype)
            weights[k] = 1.0
        else:
            weights = run.tensor(self.row, (pattern.shape[0], n_pos), self)  # (batch, key_pos)
        if (weights.sum(-1) - 1).abs().max() > 1e-4:
            raise InterventionError(f"{self.name()}: the attention row must sum to 1")
        if q + 1 < n_pos and weights.broadcast_to((pattern.shape[0], n_pos))[:, q + 1:].abs().max() > 0:
            raise InterventionError(f"{self.name()}: the row puts weight on keys after query {q} (causal mask)")
        r, _ = run.select(self.rows, None)
        pattern[r, self.head, q] = weights.broadcast_to((pattern.shape[0], n_pos))[r]  # (rows, key_pos)
        return pattern

    def name(self) -> str:
        return f"SetPattern(L{self.layer}H{self.head}, query {self.query})"


@dataclass(frozen=True, eq=False)
class AddResid:
    """Add `vector` to the residual stream at `hook` (`blocks.{l}.hook_resid_pre`, `_mid` or `_post`).

    Steering: `vector` = α × a token's unembedding direction, W_U[:, token] (d_model,). Everything
    read from the stream at and after the hook sees the sum; `out[hook]` includes it.
    """

    hook_name: str
    vector: object
    pos: int | Sequence[int] | None = None
    rows: int | Sequence[int] | None = None

    def hook(self) -> str:
        return self.hook_name

    def apply(self, resid, run: "_Run"):  # resid: (batch, pos, d_model)
        r, p = run.select(self.rows, self.pos)
        resid[r, p] += run.value(self.vector, self)[r, p]  # (rows, positions, d_model)
        return resid


@dataclass(frozen=True, eq=False)
class ReplaceMLP:
    """Replace layer `layer`'s MLP output, `blocks.{layer}.hook_mlp_out[:, pos]`, with `value`.

    0.0 is zero ablation (b_out goes too: it is part of the output); a dataset mean is mean ablation.
    """

    layer: int
    value: object = 0.0
    pos: int | Sequence[int] | None = None
    rows: int | Sequence[int] | None = None

    def hook(self) -> str:
        return f"blocks.{self.layer}.hook_mlp_out"

    def apply(self, mlp_out, run: "_Run"):  # mlp_out: (batch, pos, d_model)
        r, p = run.select(self.rows, self.pos)
        mlp_out[r, p] = run.value(self.value, self)[r, p]  # (rows, positions, d_model)
        return mlp_out


@dataclass(frozen=True, eq=False)
class InVitro:
    """Run only `components` — Gould et al.'s in-vitro setups — for the whole batch, with the bookkeeping of
    TransformerLens's processed model, which the post used (figgen.analysis.processing).

    `components` names heads `L{l}H{h}` and MLPs `mlp{l}` (e.g. {"mlp0", "L9H1", "L10H3", "mlp9"}).
    - A layer none of whose components is kept adds nothing to the stream, not even its b_O: keeping
      {"mlp0", "L9H1", …} gives the heads "just the output from layer 0".
    - In a layer with a kept component, every other head is zero-ablated as the processed model does it:
      its result is replaced by its value-bias term (b_V + β₁·W_V)·W_O, which TransformerLens keeps in
      b_O; b_O stays; an MLP not kept outputs 0 (b_out included).

    `cut` (a layer, or None) drops the residual connection's direct path there: with x =
    `blocks.{cut}.hook_resid_pre`, every kept component in layers ≥ cut reads x (through its own
    LayerNorm, in parallel, not each other's outputs), and only their outputs are summed and unembedded:
    logits = LN_final(Σ_{l≥cut} (kept heads' results − their value-bias terms + kept MLP outputs)) @ W_U,
    with no b_O of those layers — "only the head outputs are added together, and then unembedded", a
    head's output being TransformerLens's hook_result. From layer `cut` on, `hook_resid_*` hold that
    running sum (x excluded), `attn.hook_result` those outputs (0 for heads not kept), and `ln*.hook_*`
    are of x. That the components after the cut read x rather than one another's outputs is our reading
    of "the output from layers 0 to 8 are not added back to the head outputs" (the post's diagrams are not
    in its text).

    Other edits apply on top: `ReplaceHead` on a head not kept (random ablation before the cut) writes
    its value over the zero ablation, `SetPattern` fixes a kept head's attention.
    """

    components: frozenset
    cut: int | None = None

    def heads(self) -> set[tuple[int, int]]:
        return {(int(m[1]), int(m[2])) for c in self.components if (m := re.fullmatch(r"L(\d+)H(\d+)", c))}

    def mlps(self) -> set[int]:
        return {int(m[1]) for c in self.components if (m := re.fullmatch(r"mlp(\d+)", c))}


Edit = ReplaceHead | SetPattern | AddResid | ReplaceMLP | InVitro


# --- results --------------------------------------------------------------------------------------


class Run(Mapping[str, np.ndarray]):
    """The kept activations of one batched run, by hook name (batch first), as float32 numpy.

    `run.logits` is (batch, pos, d_vocab) — or (batch, 1, d_vocab) when run with `final_only`;
    `run.tokens` the (batch, pos) ids.
    """

    def __init__(self, acts: dict[str, np.ndarray], tokens: np.ndarray):
        self._acts, self.tokens = acts, tokens

    @property
    def logits(self) -> np.ndarray:
        return self._acts["logits"]

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self._acts[name]
        except KeyError:
            raise KeyError(f"{name!r} was not kept; pass it in run(..., keep=[...])") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._acts)

    def __len__(self) -> int:
        return len(self._acts)


# --- input checks ---------------------------------------------------------------------------------


def tokenize_batch(model, prompts: Sequence[str], *, prepend_bos: bool = True) -> np.ndarray:
    """Token ids of `prompts` as a (batch, pos) int64 array, each tokenized as `trace` does; lengths must agree."""
    if isinstance(prompts, str) or not prompts:
        raise PromptError("give a non-empty list of prompts (one string is not a batch)")
    ids = [tokenize(model, p, prepend_bos=prepend_bos) for p in prompts]
    lengths = [len(i) for i in ids]
    if len(set(lengths)) > 1:
        odd = next(i for i, n in enumerate(lengths) if n != lengths[0])
        raise PromptError(f"prompts tokenize to different lengths ({lengths[0]} tokens for {prompts[0]!r}, "
                          f"{lengths[odd]} for {prompts[odd]!r}); a batch needs equal lengths")
    return np.asarray(ids, dtype=np.int64)


def hook_names(dims) -> list[str]:
    """Every hook name of a model with these `Dims`, in forward order (the names of `Trace`)."""
    names = ["hook_embed", "hook_pos_embed"]
    for l in range(dims.n_layers):
        p = f"blocks.{l}."
        names += [p + n for n in (
            "hook_resid_pre", "ln1.hook_scale", "ln1.hook_normalized", "attn.hook_q", "attn.hook_k",
            "attn.hook_v", "attn.hook_attn_scores", "attn.hook_pattern", "attn.hook_z", "attn.hook_result",
            "hook_attn_out", "hook_resid_mid", "ln2.hook_scale", "ln2.hook_normalized", "mlp.hook_pre",
            "mlp.hook_post", "hook_mlp_out", "hook_resid_post")]
    return names + ["ln_final.hook_scale", "ln_final.hook_normalized", "logits"]


def _check_tokens(model, tokens) -> np.ndarray:
    try:
        arr = np.asarray(tokens)
    except ValueError:  # ragged nested lists
        raise PromptError("token rows have different lengths; a batch needs equal lengths") from None
    if arr.dtype == object or arr.ndim != 2 or not np.issubdtype(arr.dtype, np.integer):
        raise PromptError(f"tokens must be a (batch, pos) integer array of equal-length rows, got shape "
                          f"{arr.shape} of {arr.dtype}")
    dims = model.weights.dims
    if arr.size == 0:
        raise PromptError("tokens are empty: give at least one row of at least one token")
    if arr.shape[1] > dims.n_ctx:
        raise PromptError(f"rows are {arr.shape[1]} tokens; this model's context limit is {dims.n_ctx}")
    if arr.min() < 0 or arr.max() >= dims.d_vocab:
        raise PromptError(f"token ids must be in 0..{dims.d_vocab - 1} (this model's vocabulary)")
    return arr.astype(np.int64)


class _Run:
    """What edits need while they apply: the batch size, positions, d_model, value conversion and checks."""

    def __init__(self, model, batch: int, n_pos: int):
        self.dims, self.batch, self.n_pos = model.weights.dims, batch, n_pos
        self.device = model.weights["W_E"].device

    def select(self, rows, pos):
        """Index tensors (rows (n, 1), positions (m,)) for advanced indexing [r, p] → (n, m, ...)."""
        import torch

        r = range(self.batch) if rows is None else ([rows] if isinstance(rows, (int, np.integer)) else rows)
        p = range(self.n_pos) if pos is None else ([pos] if isinstance(pos, (int, np.integer)) else pos)
        r = [self._index(int(i), self.batch, "row", "batch size") for i in r]
        p = [self._index(int(i), self.n_pos, "position", "prompt length") for i in p]
        return torch.tensor(r, device=self.device)[:, None], torch.tensor(p, device=self.device)

    def position(self, i: int) -> int:
        return self._index(int(i), self.n_pos, "position", "prompt length")

    def _index(self, i: int, n: int, what: str, size: str) -> int:
        if not -n <= i < n:
            raise InterventionError(f"{what} {i} is out of range for {size} {n}")
        return i % n

    def tensor(self, value, shape, edit):
        import torch

        t = value if isinstance(value, torch.Tensor) else torch.as_tensor(np.array(value, dtype=np.float32))
        try:
            return t.to(self.device, torch.float32).broadcast_to(shape)
        except RuntimeError:
            raise InterventionError(f"{type(edit).__name__}: value of shape {tuple(t.shape)} does not "
                                    f"broadcast to {shape}") from None

    def value(self, value, edit):
        """`value` broadcast to (batch, pos, d_model)."""
        return self.tensor(value, (self.batch, self.n_pos, self.dims.d_model), edit)


def _check_edits(model, edits) -> tuple[dict[str, list], InVitro | None]:
    """Group edits by hook name; refuse a layer, head or hook this model does not have."""
    dims = model.weights.dims
    by_hook: dict[str, list] = {}
    vitro = None

    def check(layer, head=None, what=""):
        if not (isinstance(layer, (int, np.integer)) and 0 <= layer < dims.n_layers):
            raise InterventionError(f"{what}layer {layer!r} is out of range: this model has layers 0..{dims.n_layers - 1}")
        if head is not None and not (isinstance(head, (int, np.integer)) and 0 <= head < dims.n_heads):
            raise InterventionError(f"{what}head {head!r} is out of range: this model has heads 0..{dims.n_heads - 1}")

    for e in edits:
        if isinstance(e, InVitro):
            if vitro is not None:
                raise InterventionError("give at most one InVitro edit per run")
            for c in e.components:
                if not isinstance(c, str) or not re.fullmatch(r"L\d+H\d+|mlp\d+", c):
                    raise InterventionError(f"InVitro component {c!r} is neither a head 'L9H1' nor an MLP 'mlp9'")
            for l, h in e.heads():
                check(l, h, f"InVitro {'L%dH%d' % (l, h)}: ")
            for l in e.mlps():
                check(l, None, f"InVitro mlp{l}: ")
            if e.cut is not None:
                check(e.cut, None, "InVitro cut: ")
            vitro = e
            continue
        if isinstance(e, (ReplaceHead, SetPattern)):
            check(e.layer, e.head, f"{type(e).__name__}: ")
        elif isinstance(e, ReplaceMLP):
            check(e.layer, None, "ReplaceMLP: ")
        elif isinstance(e, AddResid):
            m = re.fullmatch(r"blocks\.(\d+)\.hook_resid_(pre|mid|post)", str(e.hook_name))
            if not m:
                raise InterventionError(f"AddResid hook {e.hook_name!r} is not blocks.{{l}}.hook_resid_pre, _mid or _post")
            check(int(m[1]), None, "AddResid: ")
        else:
            raise InterventionError(f"{e!r} is not an edit (ReplaceHead, SetPattern, AddResid, ReplaceMLP, InVitro)")
        by_hook.setdefault(e.hook(), []).append(e)
    return by_hook, vitro


# --- the forward pass -----------------------------------------------------------------------------


def run(model, tokens, *, edits: Sequence = (), keep: Sequence[str] = (), final_only: bool = False,
        start: tuple[int, object] | None = None) -> Run:
    """Run `tokens` (batch, pos) through `model` with `edits`; return the logits and the `keep` hooks as numpy.

    `final_only` unembeds the final position only (logits (batch, 1, d_vocab)): what a sweep needs.
    `start` = (layer l, blocks.{l}.hook_resid_pre (batch, pos, d_model) of an earlier run of these tokens)
    begins at layer l: the layers below are not run again (edits and kept hooks there are refused).
    """
    import torch

    tokens = _check_tokens(model, tokens)
    keep = _check_keep(model, keep)
    by_hook, vitro = _check_edits(model, edits)
    device = model.weights["W_E"].device
    begin = None
    if start is not None:
        layer, resid = start
        below = [n for n in [*keep, *by_hook] if _layer_of(n) is not None and _layer_of(n) < layer]
        if vitro is not None or below or not 0 <= layer < model.weights.dims.n_layers:
            raise InterventionError(f"a run starting at layer {layer} cannot edit or keep what comes before it "
                                    f"({(below or ['InVitro'])[0]})")
        resid = torch.as_tensor(np.asarray(resid, np.float32), device=device)
        if tuple(resid.shape) != (*tokens.shape, model.weights.dims.d_model):
            raise InterventionError(f"start: resid_pre of shape {tuple(resid.shape)} does not match the tokens")
        begin = (layer, resid, None)
    with torch.no_grad():
        acts = _forward(model, torch.as_tensor(tokens, device=device),
                        by_hook=by_hook, vitro=vitro, keep=keep, final_only=final_only, start=begin)
    return Run({n: t.detach().to("cpu", torch.float32).numpy() for n, t in acts.items()}, tokens)


def _layer_of(name: str) -> int | None:
    m = re.match(r"blocks\.(\d+)\.", name)
    return int(m[1]) if m else (-1 if name in ("hook_embed", "hook_pos_embed") else None)


def _check_keep(model, keep) -> set[str]:
    if isinstance(keep, str):
        keep = [keep]
    known = set(hook_names(model.weights.dims))
    for name in keep:
        if name not in known:
            raise InterventionError(f"unknown hook name {name!r}; names are figgen.trace's, e.g. "
                                    "'blocks.0.attn.hook_pattern' (see figgen.interventions.hook_names)")
    return set(keep) | {"logits"}


def _forward(model, tokens, *, by_hook, vitro, keep, final_only=False, start: tuple[int, object, object] | None = None,
             prefix: tuple[int, list] | None = None, logits: bool = True,
             sink: Callable[[str, object], None] | None = None):
    """The batched forward pass over `tokens` (batch, n) → {kept name: tensor}.

    `start` = (layer l, l's resid_pre (batch, n, d_model), l's attn.hook_result (batch, n, head, d_model)
    or None) begins there instead of at the embeddings, taking the heads' results as given when not None
    (a sweep reuses the clean run below and at the edited layer); `tokens` then only sets the shape.
    `prefix` = (P, [(k, v) per layer, each (batch or 1, P, head, d_head)]): the first P positions are
    another run's, taken as given (a KV cache: positions < P cannot see the later ones, so an edit that
    leaves them alone leaves their keys and values as they were); `tokens` are then positions P..P+n−1
    and every activation, edit position and kept hook covers those positions only. With `final_only`
    and nothing kept or edited in the last layer, that layer runs at the final position only (nothing
    else of it reaches the final logits). `logits=False` stops before the final LayerNorm (and before
    the last MLP when nothing of it is kept or edited); `sink(name,
    tensor)`, if given, receives the kept activations instead of the returned dict (a running sum).
    """
    import torch

    cfg, W, dims = model.cfg, model.weights, model.weights.dims
    act = ACTIVATIONS.get(cfg.activation_function)
    if act is None:
        raise InterventionError(f"activation {cfg.activation_function!r} is not supported")
    eps = cfg.layer_norm_epsilon
    batch, n = tokens.shape
    offset, cache = prefix if prefix is not None else (0, None)
    run = _Run(model, batch, n)
    acts: dict[str, torch.Tensor] = {}
    kept_heads = vitro.heads() if vitro else set()
    kept_mlps = vitro.mlps() if vitro else set()
    kept_layers = {l for l, _ in kept_heads} | kept_mlps
    cut = vitro.cut if vitro and vitro.cut is not None else dims.n_layers  # no cut: past the last layer

    def hook(name: str, x):
        """Apply the edits at `name` (in order, each writing into one copy of x), record it if kept, return it."""
        edits = by_hook.get(name, ())
        if edits:
            x = x.clone()
        for e in edits:
            x = e.apply(x, run)
        if name in keep:
            if sink is None:
                acts[name] = x
            else:
                sink(name, x)
        return x

    first, resid, first_result = start if start is not None else (0, None, None)
    if start is None:
        embed = hook("hook_embed", W["W_E"][tokens])  # (batch, n, d_model)
        pos_embed = hook("hook_pos_embed", W["W_pos"][offset:offset + n].expand(batch, n, -1))  # (batch, n, d_model)
        resid = embed + pos_embed  # (batch, n, d_model)
    # (n, offset + n): query i is position offset + i; it sees every key up to itself
    causal = torch.ones(offset + n, offset + n, dtype=torch.bool, device=tokens.device).tril()[offset:]

    last = f"blocks.{dims.n_layers - 1}."
    queries = slice(-1, None) if final_only and not any(x.startswith(last) for x in [*keep, *by_hook]) else slice(None)
    for l in range(first, dims.n_layers):
        p = f"blocks.{l}."
        if l == cut:
            x_cut, resid = resid, torch.zeros_like(resid)  # in vitro: layers ≥ cut read x_cut; the stream restarts at 0
        resid_pre = hook(p + "hook_resid_pre", resid)  # (batch, n, d_model)

        # Attention: the heads read the normalized stream; each writes its own result vector.
        given = l == first and first_result is not None
        q_pos = queries if l == dims.n_layers - 1 and not given else slice(None)  # last layer: maybe the final query only
        read = x_cut if l >= cut else resid_pre  # (batch, n, d_model): what this layer's components read
        b_O = W[p + "attn.b_O"]
        per_head = vitro or any(p + "attn.hook_result" in names for names in (keep, by_hook))
        if given:
            result = first_result  # (batch, n, head, d_model), from the clean run
        else:
            kv = None if cache is None else cache[l]
            z = _heads(W, p, read, l, cfg, dims, eps, causal[q_pos], hook, q_pos, kv)  # (batch, q_pos, head, d_head)
            # Each head projects its own z back to d_model and writes it to the stream: no concatenation. When
            # nothing reads or edits the heads one by one, their sum is one product (the same numbers, faster).
            result = torch.einsum("bqhe,hed->bqhd", z, W[p + "attn.W_O"]) if per_head else None
        resid_pre, read = resid_pre[:, q_pos], read[:, q_pos]  # (batch, q_pos, d_model)
        if result is None:
            attn_out = hook(p + "hook_attn_out", z.flatten(2) @ W[p + "attn.W_O"].flatten(0, 1) + b_O)
        else:
            if vitro:
                result, b_O = _in_vitro_heads(W, p, result, l, cut, kept_heads, kept_layers, dims)
            result = hook(p + "attn.hook_result", result)  # (batch, n, head, d_model)
            attn_out = hook(p + "hook_attn_out", result.sum(2) + b_O)  # (batch, n, d_model)
        resid_mid = hook(p + "hook_resid_mid", resid_pre + attn_out)  # (batch, n, d_model)
        if not logits and l == dims.n_layers - 1 and not any(
                x.startswith(p) and x.rsplit(".", 1)[-1] in _AFTER_ATTENTION for x in [*keep, *by_hook]):
            break  # nothing reads the last MLP: stop after the last heads

        # MLP: up-project, GELU, down-project — each position on its own.
        scale, x = layer_norm(read if l >= cut else resid_mid, W[p + "ln2.w"], W[p + "ln2.b"], eps)
        hook(p + "ln2.hook_scale", scale)  # (batch, n, 1)
        x = hook(p + "ln2.hook_normalized", x)  # (batch, n, d_model)
        pre = hook(p + "mlp.hook_pre", x @ W[p + "mlp.W_in"] + W[p + "mlp.b_in"])  # (batch, n, d_mlp)
        post = hook(p + "mlp.hook_post", act(pre))  # (batch, n, d_mlp)
        mlp_out = post @ W[p + "mlp.W_out"] + W[p + "mlp.b_out"]  # (batch, n, d_model)
        if vitro and l not in kept_mlps:
            mlp_out = torch.zeros_like(mlp_out)  # other MLPs' outputs zeroed
        mlp_out = hook(p + "hook_mlp_out", mlp_out)  # (batch, n, d_model)
        resid = hook(p + "hook_resid_post", resid_mid + mlp_out)  # (batch, n, d_model)

    if not logits:
        return acts
    if final_only:
        resid = resid[:, -1:]  # (batch, 1, d_model)
    scale, x = layer_norm(resid, W["ln_final.w"], W["ln_final.b"], eps)
    hook("ln_final.hook_scale", scale)  # (batch, n, 1)
    x = hook("ln_final.hook_normalized", x)  # (batch, n, d_model)
    hook("logits", x @ W["W_U"])  # (batch, n, d_vocab)
    return acts


_AFTER_ATTENTION = {"hook_scale", "hook_normalized", "hook_pre", "hook_post", "hook_mlp_out", "hook_resid_post"}


def _value_bias(W, p):
    """(head, d_model): the value-bias term TransformerLens's processing moves from each head into b_O,
    (b_V + β₁·W_V)·W_O (figgen.analysis.processing.value_bias, in torch)."""
    import torch

    bias = W[p + "attn.b_V"] + torch.einsum("d,hde->he", W[p + "ln1.b"], W[p + "attn.W_V"])  # (head, d_head)
    return torch.einsum("he,hed->hd", bias, W[p + "attn.W_O"])  # (head, d_model)


def _in_vitro_heads(W, p, result, l, cut, kept_heads, kept_layers, dims):
    """An InVitro layer's head results and b_O (see InVitro): result (batch, n, head, d_model)."""
    import torch

    mask = torch.tensor([(l, h) in kept_heads for h in range(dims.n_heads)], device=result.device)[:, None]
    bias = _value_bias(W, p)  # (head, d_model)
    zero = torch.zeros((), dtype=result.dtype, device=result.device)
    if l >= cut:  # after the cut: kept heads' TransformerLens outputs alone, no b_O
        return torch.where(mask, result - bias, zero), zero
    if l not in kept_layers:  # nothing kept in this layer: it adds nothing
        return torch.zeros_like(result), zero
    return torch.where(mask, result, bias), W[p + "attn.b_O"]  # other heads zero-ablated as in TransformerLens


def _heads(W, p, resid, l, cfg, dims, eps, causal, hook, queries=slice(None), kv=None):
    """Layer l's attention heads on `resid` (batch, n, d_model) → each head's z (batch, n, head, d_head), at
    the query positions `queries` only (all by default; keys and values are always every position).
    `kv` = (k, v), each (batch or 1, P, head, d_head): keys and values of P earlier positions, taken as given
    (then `resid` holds positions P.. and `causal` is (n, P + n))."""
    import torch

    scale, x = layer_norm(resid, W[p + "ln1.w"], W[p + "ln1.b"], eps)
    hook(p + "ln1.hook_scale", scale)  # (batch, n, 1)
    x = hook(p + "ln1.hook_normalized", x)  # (batch, n, d_model)
    W_qkv, b_qkv = _fused_qkv(W, p)  # (d_model, 3·head·d_head), (3·head·d_head,)
    qkv = (x @ W_qkv + b_qkv).unflatten(-1, (3, dims.n_heads, dims.d_head))  # (batch, n, 3, head, d_head)
    q = hook(p + "attn.hook_q", qkv[:, queries, 0])  # (batch, n, head, d_head)
    k = hook(p + "attn.hook_k", qkv[:, :, 1])  # (batch, n, head, d_head)
    v = hook(p + "attn.hook_v", qkv[:, :, 2])  # (batch, n, head, d_head)
    if kv is not None:  # the given earlier positions first: (batch, P + n, head, d_head)
        k = torch.cat([kv[0].expand(len(x), -1, -1, -1), k], 1)
        v = torch.cat([kv[1].expand(len(x), -1, -1, -1), v], 1)
    scores = q.permute(0, 2, 1, 3) @ k.permute(0, 2, 3, 1)  # (batch, head, query_pos, key_pos)
    if cfg.scale_attn_weights:
        scores = scores / math.sqrt(dims.d_head)
    if cfg.scale_attn_by_inverse_layer_idx:
        scores = scores / (l + 1)
    scores = hook(p + "attn.hook_attn_scores", scores.masked_fill(~causal, float("-inf")))
    pattern = hook(p + "attn.hook_pattern", scores.softmax(-1))  # (batch, head, query_pos, key_pos)
    return hook(p + "attn.hook_z", (pattern @ v.permute(0, 2, 1, 3)).permute(0, 2, 1, 3))  # (batch, pos, head, d_head)


def _fused_qkv(W, p):
    """Layer p's W_Q, W_K and W_V (head, d_model, d_head) as one (d_model, 3·head·d_head) matrix and their
    biases as one vector, columns ordered (Q/K/V, head, d_head): made once per model."""
    import torch

    def make():
        mats = [W[p + f"attn.W_{c}"].permute(1, 0, 2).reshape(W.dims.d_model, -1) for c in "QKV"]
        return torch.cat(mats, 1).contiguous(), torch.cat([W[p + f"attn.b_{c}"].reshape(-1) for c in "QKV"])
    return W.derived(p + "attn.qkv", make)


# --- sweeps ---------------------------------------------------------------------------------------


def shared_prefix(tokens: np.ndarray) -> int:
    """How many leading positions every row of `tokens` (batch, pos) has in common (at most pos − 1)."""
    same = (tokens == tokens[:1]).all(0)  # (pos,)
    differ = np.flatnonzero(~same[:-1])
    return int(differ[0]) if len(differ) else tokens.shape[1] - 1


def _prefix_cache(model, tokens, n: int, keep_results: bool = False):
    """Run the first `n` positions of one row, `tokens` (1, ≥ n): per layer its keys and values (1, n, head,
    d_head) (and its heads' results (1, n, head, d_model) when `keep_results`)."""
    import torch

    dims = model.weights.dims
    names = [f"blocks.{l}.attn.hook_{x}" for l in range(dims.n_layers) for x in ("k", "v", "result")[:3 if keep_results else 2]]
    acts = _forward(model, torch.as_tensor(tokens[:1, :n]), by_hook={}, vitro=None, keep=set(names), logits=False)
    kv = [(acts[f"blocks.{l}.attn.hook_k"], acts[f"blocks.{l}.attn.hook_v"]) for l in range(dims.n_layers)]
    results = [acts[f"blocks.{l}.attn.hook_result"] for l in range(dims.n_layers)] if keep_results else None
    return kv, results


def head_results_mean(model, tokens, *, tokens_per_run: int = 1024) -> np.ndarray:
    """Every head's result averaged over the rows of `tokens`: (n_layers, pos, n_heads, d_model).

    The mean-ablation value of Gould et al. (a dataset of prompts of equal length); pass it to
    `ReplaceHead(l, h, value=means[l, :, h])` or to `head_ablation_sweep` as `means[:, None]`.
    The positions every row shares (the dataset's fixed prefix: "If today is" before the random word) are
    run once, and their keys and values reused by every row (`shared_prefix`); the other positions run
    about `tokens_per_run` token rows at a time, each layer's results summed as they are made (in float32
    within a run, float64 across runs; nothing vocabulary-sized is computed: no unembedding).
    """
    import torch

    tokens = _check_tokens(model, tokens)
    dims = model.weights.dims
    n_prefix = shared_prefix(tokens)
    t = torch.as_tensor(tokens, device=model.weights["W_E"].device)
    names = {f"blocks.{l}.attn.hook_result": l for l in range(dims.n_layers)}
    sums = torch.zeros(dims.n_layers, tokens.shape[1] - n_prefix, dims.n_heads, dims.d_model, dtype=torch.float64)

    def add(name, x):  # x: (rows, n, head, d_model): summed in float32 within a run, in float64 across runs
        sums[names[name]] += x.sum(0).to(torch.float64)

    with torch.no_grad():
        kv, head = _prefix_cache(model, tokens, n_prefix, keep_results=True) if n_prefix else (None, None)
        rows = max(1, tokens_per_run // (tokens.shape[1] - n_prefix))
        for i in range(0, len(tokens), rows):
            _forward(model, t[i:i + rows, n_prefix:], by_hook={}, vitro=None, keep=set(names), logits=False,
                     prefix=(n_prefix, kv) if n_prefix else None, sink=add)
        means = (sums / len(tokens)).to(torch.float32)
        if n_prefix:  # the shared positions: the same result in every row
            means = torch.cat([torch.stack([r[0] for r in head]), means], 1)
    return means.numpy()


def head_ablation_sweep(model, tokens, values: Mapping[str, object], *, tokens_per_run: int = 1024,
                        targets: Sequence[int] | None = None,
                        reduce: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """Final-position logits with each head's result replaced in turn, for each ablation in `values`.

    `values` maps an ablation kind to what replaces the head's result, broadcastable to
    (n_layers, batch, pos, n_heads, d_model): 0.0 (zero ablation), a dataset mean `means[:, None]`
    (from `head_results_mean`), or per-prompt values from another run. Returns
    (kind, layer, head, batch, d_vocab) float32, kinds in `values`' order; equal to running
    `run(model, tokens[b:b+1], edits=[ReplaceHead(l, h, value)])` for each (tested).

    `reduce(logits (n, d_vocab), prompts (n,)) → (n, ...)` keeps only what the caller needs of each
    variant's logits (e.g. the probability of the prompt's answer): the result is then
    (kind, layer, head, batch, ...) and the kind × layer × head × batch × d_vocab array (608 MB at
    GPT-2 124M's size for 3 kinds and 7 prompts) is never held. `targets` (batch,) token ids instead
    keep each variant's probability of its prompt's target, computed in torch (kind, layer, head, batch).

    How: the clean run is done once, keeping each layer's resid_pre, head results, keys and values. An
    ablation in layer l starts from that layer's clean resid_pre and results (its attention is not
    recomputed). Where a kind's value equals the clean results at the first P positions of every prompt
    (a mean over a dataset that shares the prompts' first tokens does), its variants leave those positions
    as they were: they run from position P on, reusing the clean keys and values below it. A layer's
    (head, prompt) variants of one kind are stacked in the batch, about `tokens_per_run` token rows at a
    time, and only the final position is unembedded.
    """
    import torch

    tokens = _check_tokens(model, tokens)
    dims = model.weights.dims
    batch, pos = tokens.shape
    kinds = list(values)
    shape = (dims.n_layers, batch, pos, dims.n_heads, dims.d_model)
    try:
        vals = [torch.as_tensor(np.array(values[k], dtype=np.float32)).broadcast_to(shape) for k in kinds]
    except RuntimeError:
        raise InterventionError(f"each ablation value must broadcast to (n_layers, batch, pos, n_heads, d_model) = {shape}") from None
    L = range(dims.n_layers)
    pres, results = [f"blocks.{l}.hook_resid_pre" for l in L], [f"blocks.{l}.attn.hook_result" for l in L]
    keys, vs = [f"blocks.{l}.attn.hook_k" for l in L], [f"blocks.{l}.attn.hook_v" for l in L]
    out = None  # (kind, layer, head, batch, d_vocab), or (kind, layer, head, batch, ...) with `reduce`
    with torch.no_grad():
        t = torch.as_tensor(tokens, device=model.weights["W_E"].device)
        clean = _forward(model, t, by_hook={}, vitro=None, keep={*pres, *results, *keys, *vs}, final_only=True)
        stacked = torch.stack([clean[r] for r in results])  # (layer, batch, pos, head, d_model)
        for k, kind in enumerate(kinds):
            n_same = _unchanged_prefix(vals[k], stacked)
            variants = [(h, b) for h in range(dims.n_heads) for b in range(batch)]  # in the order of `out`'s axes
            rows_per_run = max(1, tokens_per_run // (pos - n_same))
            for l in L:
                for i in range(0, len(variants), rows_per_run):
                    part = variants[i:i + rows_per_run]
                    h_, b_ = (np.array(c) for c in zip(*part))  # (n,) each
                    value = torch.stack([vals[k][l, b, n_same:, h] for h, b in part])  # (n, pos − P, d_model)
                    edits = [ReplaceHead(l, h, value, rows=np.flatnonzero(h_ == h).tolist()) for h in np.unique(h_)]
                    rows = torch.as_tensor(b_)
                    start = (l, clean[pres[l]][rows, n_same:], clean[results[l]][rows, n_same:])
                    prefix = (n_same, [(clean[keys[j]][rows, :n_same], clean[vs[j]][rows, :n_same]) for j in L]) \
                        if n_same else None
                    acts = _forward(model, t[rows, n_same:], by_hook={edits[0].hook(): edits}, vitro=None,
                                    keep={"logits"}, final_only=True, start=start, prefix=prefix)
                    logits = acts["logits"][:, -1]  # (n, d_vocab)
                    if targets is not None:  # each variant's probability of its prompt's target
                        t_ = torch.as_tensor(np.asarray(targets)[b_])[:, None]
                        part_out = logits.log_softmax(-1).gather(-1, t_)[:, 0].double().exp().numpy()  # (n,)
                    else:
                        logits = logits.numpy()
                        part_out = logits if reduce is None else np.asarray(reduce(logits, b_))  # (n, ...)
                    if out is None:
                        out = np.empty((len(kinds), dims.n_layers, dims.n_heads, batch, *part_out.shape[1:]),
                                       dtype=part_out.dtype)
                    out[k, l, h_, b_] = part_out
    return out


def _unchanged_prefix(value, clean, rtol: float = 1e-5) -> int:
    """How many leading positions at which `value` equals the clean results `clean` (layer, batch, pos, head,
    d_model) for every layer, prompt and head, to float32 rounding (at most pos − 1)."""
    pos = clean.shape[2]
    for p in range(pos - 1):
        gap = (value[:, :, p] - clean[:, :, p]).abs().max()
        if gap > rtol * (1.0 + clean[:, :, p].abs().max()):
            return p
    return pos - 1
