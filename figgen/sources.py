"""The code a build runs, as this process imported it: what figure cache keys hash.

A cache key must describe the code that computed the entry. Reading the files again at key time
is not enough: in a long-lived process (`mkdocs serve`) a figure module edited after import would
be keyed as the new code while the old, imported code runs, and a later fresh build would ship the
stale result as a cache hit. So:

- `source(file)` returns the bytes of `file` as first read by this process, right after the import
  (`build` reads them before it renders anything);
- `reload_edited()` brings edited figure and analysis modules up to date (reloading them in import
  order, dependencies first) and re-reads their sources. Core modules (trace, weights, context, the
  registry) are not reloaded: their keys stay those of the running code, and a warning says that a
  restart is needed to use the edit.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import logging
import sys
from graphlib import TopologicalSorter
from pathlib import Path

log = logging.getLogger("figgen")

_SOURCES: dict[Path, bytes] = {}
# Reloadable: figure modules (sections and helpers, registered ones outside figgen too) and analyses.
_RELOADABLE = ("figgen.figures.", "figgen.analysis.")
_NEVER = {"figgen.figures.registry"}  # holds REGISTRY: reloading it would orphan every registration


def source(file: Path) -> bytes:
    """`file`'s bytes as this process first read them (the code it imported)."""
    file = Path(file).resolve()
    if file not in _SOURCES:
        _SOURCES[file] = file.read_bytes()
    return _SOURCES[file]


def _file(module) -> Path | None:
    f = getattr(module, "__file__", None)
    return Path(f).resolve() if f and f.endswith(".py") else None


def _edited(file: Path | None) -> bool:
    try:
        return file is not None and file in _SOURCES and file.read_bytes() != _SOURCES[file]
    except OSError:
        return False


def reload_edited(registry: dict) -> list[str]:
    """Reload every figure/analysis module if any of them was edited since it was read; return the
    names of the edited modules (empty when nothing changed). `registry`: figure id → FigureSpec."""
    names = {n for n in sys.modules if n.startswith(_RELOADABLE) and n not in _NEVER}
    names |= {spec.module for spec in registry.values()}
    modules = {n: sys.modules[n] for n in names if n in sys.modules and _file(sys.modules[n])}
    edited = sorted(n for n, m in modules.items() if _edited(_file(m)))
    core = sorted(n for n, m in list(sys.modules.items())
                  if n.startswith("figgen") and n not in modules and _edited(_file(m)))
    for name in core:
        log.warning(f"figgen: {name} changed since this process imported it; restart to use the edit "
                    "(figures keep being computed, and cached, with the code that is running)")
        _SOURCES[_file(sys.modules[name])] = _file(sys.modules[name]).read_bytes()  # warn once
    if not edited:
        return []
    for name in _import_order(modules):
        for fid in [i for i, spec in registry.items() if spec.module == name]:
            del registry[fid]  # a figure deleted from its module must not survive the reload
        module = importlib.reload(modules[name])
        _SOURCES[_file(module)] = _file(module).read_bytes()
    return edited


def _import_order(modules: dict) -> list[str]:
    """Module names, each after the modules among them that it imports."""
    graph = {name: {dep for dep in _imports(name, _file(m)) if dep in modules and dep != name}
             for name, m in modules.items()}
    return list(TopologicalSorter(graph).static_order())


def _imports(name: str, file: Path) -> set[str]:
    package = name.rpartition(".")[0] if not file.name == "__init__.py" else name
    out: set[str] = set()
    for node in ast.walk(ast.parse(file.read_bytes())):
        if isinstance(node, ast.ImportFrom):
            try:
                base = (importlib.util.resolve_name("." * node.level + (node.module or ""), package)
                        if node.level else node.module or "")
            except ImportError:  # a relative import outside any package: nothing of ours
                continue
            out.add(base)
            out |= {f"{base}.{a.name}" for a in node.names}  # `from . import heads` imports a module
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return out
