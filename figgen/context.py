"""What a build computes at most once and shares between figures: model, trace, weights, analyses.

Everything is lazy: a build whose figures all come from the cache never loads the model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import cached_property
from typing import Any

import numpy as np

# C0 controls and DEL → their Unicode "control pictures" (␀…␟, ␡); C1 controls and non-characters →
# \x.. escapes. Tokens can decode to any byte, and such characters are invalid in SVG/XML and
# invisible in HTML.
_PRINTABLE = {c: 0x2400 + c for c in range(0x20)} | {0x7F: 0x2421}
_PRINTABLE |= {c: f"\\x{c:02x}" for c in range(0x80, 0xA0)} | {0xFFFE: "\\ufffe", 0xFFFF: "\\uffff"}


def printable(text: str) -> str:
    """`text` with control characters made visible, safe to put in SVG, HTML and Vega data.

    (Escaping of <, & and quotes is still the job of whatever writes the markup.)"""
    return text.translate(_PRINTABLE)


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
    """

    def __init__(self, loader: Callable[[], Any], prompt: str):
        self._loader = loader
        self.prompt = prompt
        self.theme = "light"  # set by the build while rendering each theme's matplotlib figure
        self._memo: dict[tuple, Any] = {}

    @classmethod
    def from_model(cls, model, prompt: str) -> "Context":
        return cls(lambda: model, prompt)

    @cached_property
    def model(self):
        return self._loader()

    @cached_property
    def trace(self):
        from .trace import trace

        return trace(self.model, self.prompt)

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
        """A token decoded on its own (" tokens"), control characters made visible (`printable`).

        Still untrusted text: markup writers must escape it (matplotlib, Vega and the plugin do)."""
        return printable(self.tokenizer.decode([int(token_id)]))

    def analysis(self, fn: Callable, *args, **kwargs):
        """`fn(self, *args, **kwargs)`, computed once per build and shared between figures."""
        key = (fn.__module__, fn.__qualname__, args, tuple(sorted(kwargs.items())))
        if key not in self._memo:
            self._memo[key] = fn(self, *args, **kwargs)
        return self._memo[key]
