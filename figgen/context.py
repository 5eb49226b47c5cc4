"""What a build computes at most once and shares between figures: model, trace, weights, analyses.

Everything is lazy: a build whose figures all come from the cache never loads the model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import cached_property
from typing import Any

import numpy as np

from .errors import FiggenError

# Control characters → glyphs DejaVu Sans (the figures' font) has, or ASCII escapes: tokens can decode
# to any byte, such characters are invalid in SVG/XML and invisible in HTML, and the Unicode "control
# pictures" (␀…␟) are missing from most fonts.
_PRINTABLE = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)]}
_PRINTABLE |= {0x0A: "↵", 0x09: "⇥", 0x0D: "⏎", 0xFFFE: "\\ufffe", 0xFFFF: "\\uffff"}
SPACE = "␣"  # how a token's spaces are shown (" today" → "␣today"): visible, and never confused


def printable(text: str) -> str:
    """`text` with control characters made visible, safe to put in SVG, HTML and Vega data.

    (Escaping of <, & and quotes is still the job of whatever writes the markup.)"""
    return text.translate(_PRINTABLE)


def token_display(text: str) -> str:
    """A token string as every figure, chart and page shows it: control characters made visible
    (`printable`) and each space shown as ␣, so " today" and "today" never look alike."""
    return printable(text).replace(" ", SPACE)


class NumpyWeights(Mapping[str, np.ndarray]):
    """`Model.weights` as float32 numpy arrays, converted on first use (names in figgen.weights)."""

    def __init__(self, weights):
        self._weights = weights
        self._cache: dict[str, np.ndarray] = {}
        self.dims = weights.dims

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._cache:
            self._cache[name] = self._weights[name].detach().cpu().float().numpy()
        return self._cache[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._weights)

    def __len__(self) -> int:
        return len(self._weights)


class Context:
    """The inputs of every figure in one build.

    Attributes (all lazy):
        prompt: the traced prompt.
        model: the loaded `figgen.Model` (loaded on first use via `loader`).
        trace: `figgen.trace(model, prompt)`.
        weights: numpy weights by TransformerLens name; `weights.dims` has the sizes.
        dims: `figgen.weights.Dims` (n_layers, n_heads, d_model, d_head, d_mlp, d_vocab, n_ctx).
        tokenizer: the HF tokenizer.
        model_info: the manifest's "model" block.
        theme: "light" or "dark" while a matplotlib figure is rendered (rcParams are set to match).
        figure: the `FigureSpec` being rendered (set by the build); its `prompts` are the prompts
            `trace_of` may trace besides `prompt`. None outside a build: any prompt is allowed.

    Other prompts than the site's: `trace_of(prompt)` traces one (memoised per build);
    `next_token_logits(prompts)` runs many at once, batched, when only the last position's logits
    are needed.
    """

    def __init__(self, loader: Callable[[], Any], prompt: str):
        self._loader = loader
        self.prompt = prompt
        self.theme = "light"  # set by the build while rendering each theme's matplotlib figure
        self.figure = None
        self._memo: dict[tuple, Any] = {}
        self._traces: dict[str, Any] = {}

    @classmethod
    def from_model(cls, model, prompt: str) -> "Context":
        return cls(lambda: model, prompt)

    @cached_property
    def model(self):
        return self._loader()

    @cached_property
    def trace(self):
        return self.trace_of(self.prompt)

    def _declared(self, prompts) -> None:
        """A figure may trace only the prompts its registration declares: they are in its cache key."""
        spec = self.figure
        if spec is None:
            return
        undeclared = [p for p in prompts if p != self.prompt and p not in spec.prompts]
        if undeclared:
            raise FiggenError(f"figure {spec.id!r} traces prompt {undeclared[0]!r} without declaring it: "
                              "add it to prompts=(...) in its @figure registration")

    def trace_of(self, prompt: str):
        """`figgen.trace(model, prompt)`, traced at most once per build."""
        self._declared([prompt])
        if prompt not in self._traces:
            from .trace import trace

            self._traces[prompt] = trace(self.model, prompt)
        return self._traces[prompt]

    def next_token_logits(self, prompts) -> np.ndarray:
        """(n_prompts, d_vocab) float32: the next-token logits after each prompt (BOS prepended, as
        in `trace`), from batched forward passes of the model, one per prompt length."""
        prompts = list(prompts)
        self._declared(prompts)
        key = ("next_token_logits", tuple(prompts))
        if key not in self._memo:
            self._memo[key] = _next_token_logits(self.model, prompts)
        return self._memo[key]

    @cached_property
    def weights(self) -> NumpyWeights:
        return NumpyWeights(self.model.weights)

    @property
    def dims(self):
        return self.model.weights.dims

    @property
    def tokenizer(self):
        return self.model.tokenizer

    @cached_property
    def model_info(self) -> dict:
        m, d = self.model, self.dims
        return {
            "name": m.name, "revision": m.revision, "source": m.source, "is_gpt2_small": m.is_gpt2_small,
            "n_params": m.n_params, "n_layer": d.n_layers, "n_head": d.n_heads, "d_model": d.d_model,
            "d_head": d.d_head, "d_mlp": d.d_mlp, "d_vocab": d.d_vocab, "n_ctx": d.n_ctx,
        }

    def token_str(self, token_id: int) -> str:
        """A token decoded on its own, as the site shows it (`token_display`: "␣tokens").

        Still untrusted text: markup writers must escape it (matplotlib, Vega and the plugin do)."""
        return token_display(self.tokenizer.decode([int(token_id)]))

    def token_strs(self, ids=None) -> list[str]:
        """`token_str` of each of `ids` (default: the site prompt's tokens, BOS included)."""
        ids = self.trace.tokens if ids is None else ids
        return [self.token_str(i) for i in ids]

    def analysis(self, fn: Callable, *args, **kwargs):
        """`fn(self, *args, **kwargs)`, computed once per build and shared between figures."""
        key = (fn.__module__, fn.__qualname__, args, tuple(sorted(kwargs.items())))
        if key not in self._memo:
            self._memo[key] = fn(self, *args, **kwargs)
        return self._memo[key]


def _next_token_logits(model, prompts: list[str]) -> np.ndarray:
    import torch

    from .trace import tokenize

    ids = [tokenize(model, p) for p in prompts]
    out = np.zeros((len(prompts), model.cfg.vocab_size), dtype=np.float32)
    by_length: dict[int, list[int]] = {}
    for i, tokens in enumerate(ids):
        by_length.setdefault(len(tokens), []).append(i)
    with torch.no_grad():
        for rows in by_length.values():  # equal lengths: no padding, so no attention mask to get wrong
            batch = torch.tensor([ids[i] for i in rows], dtype=torch.long)  # (batch, pos)
            logits = model.hf(batch).logits[:, -1, :]  # (batch, d_vocab)
            out[rows] = logits.float().numpy()
    return out
