"""The build: registered figures → files + manifest.json, cached by content.

Used by both `figgen build` and the MkDocs plugin. For each figure the cache key hashes the model's
identity (name + revision), the prompt, the figure id, the source of the figure's module and of the
shared code it runs on (trace, analysis, style, save), and the plotting libraries' versions. A
build whose figures are all cached never loads the model: it only copies files.

Output layout (DIR = --out):
    DIR/manifest.json                                  figures' `files` are paths relative to DIR
    DIR/figures/<id>.light.svg, <id>.dark.svg          matplotlib figures, one per theme
    DIR/figures/<id>.png                               light PNG, for figures that ask (Figure.png)
    DIR/figures/<id>.vl.json                           Vega-Lite spec (interactive)
    DIR/figures/<id>.vl.light.svg, <id>.vl.dark.svg    its static fallback
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from .errors import FiggenError
from .sources import source

DEFAULT_PROMPT = "If today is Monday, tomorrow is"
DEFAULT_CACHE = Path(".cache/figgen")
PACKAGE = Path(__file__).resolve().parent
# Code every figure depends on; a change here recomputes every figure.
SHARED_CODE = ["trace.py", "weights.py", "context.py", "checks.py", "analysis", "figures/registry.py",
               "figures/style.py", "figures/save.py", "figures/vector.py"]
LIBRARIES = ["matplotlib", "altair", "vl-convert-python", "numpy", "torch", "transformers"]


@dataclass
class BuildResult:
    manifest: dict
    out: Path
    computed: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    model_loaded: bool = False


def build(*, model: str = "gpt2", prompt: str = DEFAULT_PROMPT, out: Path | str = "build/figgen",
          cache_dir: Path | str | None = DEFAULT_CACHE, only: list[str] | None = None,
          use_cache: bool = True, progress: bool = True,
          loader: Callable[[str], object] | None = None) -> BuildResult:
    """Render the registered figures for (`model`, `prompt`) into `out` and write its manifest.

    `only` restricts the build to some figure ids (or whole section ids). `loader(name)` returns a
    loaded `figgen.Model` (the plugin passes one that keeps models between `mkdocs serve` rebuilds);
    it is called only if some figure is not in the cache.
    """
    from .context import Context
    from .figures.registry import load_all
    from .model import check_prompt, identify

    if not isinstance(prompt, str) or not prompt.strip():
        raise FiggenError("prompt is empty: give at least one character of text")
    check_prompt(model, prompt, skip_unavailable=True)  # tokenizer + config only, before any weights
    from .figures.registry import REGISTRY
    from .sources import reload_edited

    load_all()
    if reload_edited(REGISTRY):  # a long-lived process (mkdocs serve) whose figure code was edited
        _SHARED.clear()
    specs = _select(load_all(), only)
    name, revision = identify(model)
    out = Path(out)
    cache = Path(cache_dir) / "figures" if (cache_dir is not None and use_cache) else None

    if loader is None:
        from .model import load_model

        loader = load_model
    ctx = Context(lambda: loader(model), prompt)
    model_info = _model_info(ctx, cache_dir, name, revision, use_cache)

    # Render everything first (into the cache, or memory with --no-cache); touch `out` only once
    # every figure has succeeded, so a failed build leaves the previous output as it was.
    result = BuildResult(manifest={}, out=out)
    entries, outputs = [], {}  # outputs: file name → bytes or the cached file holding them
    # Every key is taken before anything renders: each describes the code as imported (figgen.sources).
    keys = {spec.id: _key(spec, name, revision, prompt) for spec in specs}
    bar = _progress(len(specs), enabled=progress)
    for spec in specs:
        key = keys[spec.id]
        entry = _load_cached(cache, key) if cache else None
        if entry is None:
            files, entry = _render(spec, ctx)
            _release_freed_memory()
            if cache:
                _store(cache, key, files, entry)
            result.computed.append(spec.id)
        else:
            result.cached.append(spec.id)
        for fname in entry["files"]:
            outputs[fname] = cache / key / fname if cache else files[fname]
        entries.append(entry)
        bar.update(1)
    bar.close()
    _write_outputs(out / "figures", outputs)

    from . import claims
    from .figures.save import atomic_write, json_bytes

    # Cache entries name their files bare; the manifest gives paths from its own folder.
    figures = [{**e, "files": [f"figures/{f}" for f in e["files"]]} for e in entries]
    manifest = {"figgen_version": __version__, "model": model_info, "prompt": prompt, "figures": figures}
    manifest["claims"] = claims.evaluate(manifest)

    keep = {f for e in entries for f in e["files"]}
    if only is None:
        _remove_stale(out / "figures", keep)
    atomic_write(out / "manifest.json", json_bytes(manifest))
    result.manifest = manifest
    result.model_loaded = "model" in ctx.__dict__
    return result


def _select(specs: dict, only: list[str] | None) -> list:
    if not only:
        return list(specs.values())
    unknown = [o for o in only if o not in specs and not any(s.section == o for s in specs.values())]
    if unknown:
        raise FiggenError(f"unknown figure or section id(s): {', '.join(unknown)}; see `figgen list`")
    return [s for s in specs.values() if s.id in only or s.section in only]


# --- rendering --------------------------------------------------------------------------------------


def _render(spec, ctx) -> tuple[dict[str, bytes], dict]:
    """Run one figure function; return its files' bytes and its manifest entry."""
    import matplotlib
    import matplotlib.pyplot as plt

    from .figures import style
    from .figures.save import json_bytes, png_bytes, svg_bytes, vegalite_spec, vegalite_svg

    files: dict[str, bytes] = {}
    first = None
    ctx.figure = spec  # trace_of() accepts only the prompts this figure declares
    try:
        for theme in style.THEMES:
            ctx.theme = theme
            with matplotlib.rc_context(style.rc(theme)):
                fig = spec.func(ctx)
                if first is None:
                    first = fig
                if fig.mpl is not None:
                    files[f"{spec.id}.{theme}.svg"] = svg_bytes(fig.mpl)
                    if fig.png and theme == "light":
                        # 180 dpi: a column-wide figure is ~1,290 px, enough for the 1,200 px social card.
                        files[f"{spec.id}.png"] = png_bytes(fig.mpl, style.background(theme), dpi=180)
                    plt.close(fig.mpl)
            if fig.mpl is None:  # charts are themed at view time; no second call needed
                break
    except FiggenError:
        raise
    except Exception as err:
        err.add_note(f"figgen: while rendering figure {spec.id!r}")
        raise
    finally:
        ctx.theme, ctx.figure = "light", None
    if first.chart is not None:
        vl = vegalite_spec(first.chart)
        files[f"{spec.id}.vl.json"] = json_bytes(vl)
        for theme in style.THEMES:
            files[f"{spec.id}.vl.{theme}.svg"] = vegalite_svg(vl, theme)
    if not files:
        raise FiggenError(f"figure {spec.id!r} returned neither a matplotlib figure nor a chart")
    if not first.alt or not first.alt.strip():
        raise FiggenError(f"figure {spec.id!r} has no alt text")
    entry = {
        "id": spec.id, "section": spec.section, "title": spec.title,
        "caption": first.caption or spec.caption, "alt": first.alt,
        "files": sorted(files), "data": _plain(first.data),
    }
    shown = list(spec.prompts) if first.prompts is None else list(first.prompts)
    if shown:
        entry["prompts"] = shown  # printed under the figure on its page
    if first.links:
        entry["links"] = True  # the plugin embeds its SVGs with <object> so the links work
    if first.collapse:
        entry["collapse"] = first.collapse  # the page says this instead, the figure one click away
    json_bytes(entry)  # fail here, naming the figure, if data is not JSON-serialisable
    return files, entry


def _plain(obj):
    """numpy scalars/arrays → plain Python, so `data` is JSON and compares exactly."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


# --- cache ----------------------------------------------------------------------------------------


def _code_hash(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for path in paths:
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            if file.is_file():
                h.update(file.name.encode())
                h.update(source(file))
    return h.hexdigest()


def _versions() -> dict[str, str]:
    out = {}
    for lib in LIBRARIES:
        try:
            out[lib] = importlib.metadata.version(lib)
        except importlib.metadata.PackageNotFoundError:
            out[lib] = ""
    return out


def _figure_code(module_file: Path) -> list[Path]:
    """The figure's module and every sibling module under figgen/figures it imports, transitively (sorted).

    A figure must be recomputed when a helper module it draws with (labels, heatmap, heads, the
    poster's parts…) changes; the rest of figgen it depends on is in SHARED_CODE."""
    seen: set[Path] = set()
    todo = [module_file]
    while todo:
        path = todo.pop()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        todo += [path.parent / f"{name}.py" for name in _sibling_imports(source(path))]
    return sorted(seen)


@functools.lru_cache(maxsize=256)
def _sibling_imports(code: bytes) -> tuple[str, ...]:
    """The sibling modules a figure module's source imports (`from .x import …`, `figgen.figures.x`): parsed
    once per source text (every figure of a module asks again)."""
    import ast

    out = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom) and node.level == 1:  # from .x import …
            names = [node.module] if node.module else [a.name for a in node.names]
            out += [n.split(".")[0] for n in names]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("figgen.figures."):
            out.append(node.module.split(".")[2])
    return tuple(out)


def _key(spec, name: str, revision: str, prompt: str) -> str:
    module_file = Path(sys.modules[spec.func.__module__].__file__)
    parts = {
        "figgen": __version__, "model": name, "revision": revision, "prompt": prompt, "figure": spec.id,
        "prompts": list(spec.prompts),
        "code": _code_hash(_figure_code(module_file)), "shared": _shared_hash(), "libs": _versions(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


_SHARED: list[str] = []


def _shared_hash() -> str:
    if not _SHARED:
        _SHARED.append(_code_hash([PACKAGE / p for p in SHARED_CODE]))
    return _SHARED[0]


def _load_cached(cache: Path, key: str) -> dict | None:
    """The cached manifest entry, or None if missing or unreadable (a corrupt entry is recomputed)."""
    meta = cache / key / "entry.json"
    try:
        entry = json.loads(meta.read_text(encoding="utf-8"))
        if all((cache / key / f).is_file() for f in entry["files"]):
            return entry
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _store(cache: Path, key: str, files: dict[str, bytes], entry: dict) -> None:
    from .figures.save import atomic_write, json_bytes

    _write_files(cache / key, files)
    atomic_write(cache / key / "entry.json", json_bytes(entry))  # written last: marks the entry complete


def _write_files(folder: Path, files: dict[str, bytes]) -> None:
    from .figures.save import atomic_write

    for fname, data in files.items():
        atomic_write(folder / fname, data)


def _write_outputs(folder: Path, outputs: dict[str, bytes | Path]) -> None:
    """Write each output file unless it already holds exactly these bytes."""
    from .figures.save import atomic_write

    for fname, data in outputs.items():
        data = data.read_bytes() if isinstance(data, Path) else data
        target = folder / fname
        if not (target.is_file() and target.read_bytes() == data):
            atomic_write(target, data)


def _remove_stale(folder: Path, keep: set[str]) -> None:
    if folder.is_dir():
        for f in folder.iterdir():
            if f.is_file() and f.name not in keep:
                f.unlink()


def _model_info(ctx, cache_dir, name: str, revision: str, use_cache: bool) -> dict:
    """The manifest's model block, cached per (name, revision) so cache hits need no model."""
    from .figures.save import atomic_write, json_bytes

    file = None
    if cache_dir is not None and use_cache:
        digest = hashlib.sha256(f"{name}@{revision}".encode()).hexdigest()[:32]
        file = Path(cache_dir) / "models" / f"{digest}.json"
        try:
            return json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass
    info = ctx.model_info
    if file is not None:
        atomic_write(file, json_bytes(info))
    return info


def _release_freed_memory() -> None:
    """Hand memory freed by a figure back to the OS (glibc only; elsewhere a no-op).

    glibc keeps freed heap memory for reuse, so after a figure that made large temporaries (the day
    circuit's dataset runs: ~0.5 GB at GPT-2 124M's size) the process stays that big and the next
    figure's temporaries come on top. malloc_trim(0) returns it in ~40 ms."""
    import ctypes
    import ctypes.util

    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _progress(total: int, *, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc="figgen: figures", unit="fig", disable=not enabled or None,
                leave=False, file=sys.stderr)
