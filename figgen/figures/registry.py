"""The figure registry: each figure is a small function in its section's module.

    @figure("tokenizer.tokens", section="tokenizer", title="The prompt as tokens",
            caption="Each box is one token: its id and the string it stands for.")
    def tokens(ctx) -> Figure:
        ...
        return Figure(data={"n_tokens": n}, alt=f"The prompt split into {n} tokens ...", mpl=fig)

A figure function receives the build's `Context` (see `figgen.build`): `ctx.trace`, `ctx.weights`
(numpy arrays under TransformerLens names), `ctx.tokenizer`, `ctx.dims`, `ctx.prompt`,
`ctx.model_info`, and `ctx.analysis(fn, *args)` for memoised analyses shared between figures.
It returns a `Figure`: a matplotlib figure and/or an altair chart, the `data` numbers the prose
may quote, and alt text computed from that data. Figures never import torch.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SECTIONS = [
    "overview", "tokenizer", "embedding", "positional", "input-embeddings", "residual-stream",
    "layernorm", "attention-head", "qkv", "causal-attention", "attention-pattern", "result-vectors",
    "output-vectors", "qk-circuit", "ov-circuit", "mlp", "up-projection", "gelu", "down-projection",
    "unembedding", "decoding", "logit-lens", "vocabulary", "day-circuit",
]
# Section id → its page, as a site URL with directory URLs. The one place the poster, the site tests and
# anything else that links sections find pages; docs/<path>.md is each page's source.
PAGES = {
    "tokenizer": "tokenization/tokenizer/",
    "embedding": "tokenization/embedding/",
    "positional": "tokenization/positional/",
    "input-embeddings": "tokenization/input-embeddings/",
    "residual-stream": "tokenization/residual-stream/",
    "layernorm": "tokenization/layernorm/",
    "attention-head": "attention/attention-head/",
    "qkv": "attention/qkv/",
    "causal-attention": "attention/causal-attention/",
    "attention-pattern": "attention/attention-pattern/",
    "result-vectors": "attention/result-vectors/",
    "output-vectors": "attention/output-vectors/",
    "qk-circuit": "attention/qk-circuit/",
    "ov-circuit": "attention/ov-circuit/",
    "mlp": "mlp/mlp/",
    "up-projection": "mlp/up-projection/",
    "gelu": "mlp/gelu/",
    "down-projection": "mlp/down-projection/",
    "unembedding": "output/unembedding/",
    "decoding": "output/decoding/",
    "logit-lens": "deep-dives/logit-lens/",
    "day-circuit": "deep-dives/day-circuit/",
    "vocabulary": "deep-dives/vocabulary/",  # its second page: deep-dives/vocabulary-stream/
}
_ID = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9][a-z0-9_-]*$")


@dataclass
class Figure:
    """What a figure function returns.

    data: JSON-serialisable numbers and short strings the prose may quote (`{{ data id key }}`).
    alt: alt text describing what the figure shows, computed from the data.
    mpl: a matplotlib Figure, saved as SVG.
    chart: an altair chart, saved as Vega-Lite JSON plus a static SVG fallback.
    caption: overrides the registered caption when it depends on the data.
    links: the SVG holds links (matplotlib `set_url`); pages embed it with <object> so they work.
    png: also save a PNG of the light rendering on an opaque background (the site's social image).
    prompts: the prompts the figure shows, printed under it on its page (default: every prompt it
        declared; a figure that chooses among candidates names the one it chose).
    collapse: a sentence that says all the figure would show, when a computed test finds its data carry no
        contrast on this model (seven bars at 1.0, an all-zero grid, one point): the page then shows the
        sentence and keeps the figure one click away. None: the figure is shown.
    """

    data: dict[str, Any]
    alt: str
    mpl: Any = None
    chart: Any = None
    caption: str | None = None
    links: bool = False
    png: bool = False
    prompts: list[str] | None = None
    collapse: str | None = None


@dataclass(frozen=True)
class FigureSpec:
    """A registered figure. `prompts`: the prompts it traces besides the site prompt
    (`ctx.trace_of`); they are part of its cache key and printed under it on its page."""

    id: str
    section: str
    title: str
    caption: str
    func: Callable[..., Figure] = field(compare=False)
    module: str = ""
    prompts: tuple[str, ...] = ()


REGISTRY: dict[str, FigureSpec] = {}


def figure(id: str, *, section: str, title: str, caption: str, prompts: tuple[str, ...] = ()):
    """Register the decorated function as figure `id` (dotted `section.name`).

    `prompts`: every prompt the figure traces other than the site prompt (see `Context.trace_of`)."""
    if not _ID.match(id) or not id.startswith(section + "."):
        raise ValueError(f"figure id {id!r} must look like '{section}.name'")
    if section not in SECTIONS:
        raise ValueError(f"unknown section {section!r}; see figgen.figures.registry.SECTIONS")
    prompts = tuple(prompts)
    if not all(isinstance(p, str) and p.strip() for p in prompts):
        raise ValueError(f"figure {id!r}: prompts must be non-empty strings")

    def register(func):
        if id in REGISTRY and REGISTRY[id].module != func.__module__:
            raise ValueError(f"figure id {id!r} registered twice")
        REGISTRY[id] = FigureSpec(id, section, title, caption, func, func.__module__, prompts)
        return func

    return register


def load_all() -> dict[str, FigureSpec]:
    """Import every module under figgen.figures so the section modules' figures register (helper modules
    register none); return the registry."""
    import figgen.figures as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name not in {"registry", "save", "style"}:
            importlib.import_module(f"figgen.figures.{info.name}")
    # Section order, then the order figures are defined in their module (sorted() is stable).
    return dict(sorted(REGISTRY.items(), key=lambda kv: SECTIONS.index(kv[1].section)))
