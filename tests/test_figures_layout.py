"""How figgen/figures is laid out: a section module (one that registers figures with `@figure`) imports
shared helper modules, never another section's module; every module says in a docstring what it holds.

Read from the source with `ast`, so a helper borrowed from a section module is caught even if it is
imported inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import figgen.figures
from figgen.figures.registry import load_all

FIGURES = Path(figgen.figures.__file__).parent


def _modules(folder: Path) -> dict[str, ast.Module]:
    return {p.stem: ast.parse(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.py"))}


def _registers_figures(tree: ast.Module) -> bool:
    """Whether any function in the module is decorated with `@figure(...)` (or `@registry.figure(...)`)."""
    for node in ast.walk(tree):
        for d in getattr(node, "decorator_list", []):
            f = d.func if isinstance(d, ast.Call) else d
            if (isinstance(f, ast.Name) and f.id == "figure") or (isinstance(f, ast.Attribute) and f.attr == "figure"):
                return True
    return False


def _sibling_imports(tree: ast.Module) -> set[str]:
    """Names of figgen.figures modules this module imports, in any spelling of the import."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:  # from .x import …; from . import x, y
            found |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.startswith("figgen.figures."):  # from figgen.figures.x import …
                found.add(node.module.split(".")[2])
            elif node.module == "figgen.figures":  # from figgen.figures import x
                found |= {a.name for a in node.names}
        elif isinstance(node, ast.Import):  # import figgen.figures.x
            found |= {a.name.split(".")[2] for a in node.names if a.name.startswith("figgen.figures.")}
    return found


def section_imports(folder: Path) -> dict[str, set[str]]:
    """module → the section modules it imports (only modules that import one)."""
    modules = _modules(folder)
    sections = {name for name, tree in modules.items() if _registers_figures(tree)}
    found = {name: (_sibling_imports(tree) & sections) - {name} for name, tree in modules.items()}
    return {name: imported for name, imported in found.items() if imported}


def test_no_module_imports_a_section_module():
    assert section_imports(FIGURES) == {}, "move the shared code into a helper module (see DESIGN.md)"


def test_section_modules_are_the_ones_that_register_figures():
    """The ast reading above agrees with the registry: the same modules hold the registered figures."""
    modules = _modules(FIGURES)
    by_ast = {name for name, tree in modules.items() if _registers_figures(tree)}
    registered = {s.module.rsplit(".", 1)[1] for s in load_all().values() if s.module.startswith("figgen.figures.")}
    assert by_ast == registered
    assert {"overview", "qk_circuit", "positional", "mlp"} <= by_ast
    assert not by_ast & {"registry", "style", "save", "vector", "heads", "labels", "heatmap"}


def test_a_borrowed_section_helper_is_caught(tmp_path):
    (tmp_path / "registry.py").write_text("def figure(*a, **k):\n    return lambda f: f\n")
    (tmp_path / "helper.py").write_text('"""A helper."""\n')
    (tmp_path / "a.py").write_text('from .registry import figure\n\n@figure("a.x")\ndef x(ctx):\n    return 1\n')
    (tmp_path / "b.py").write_text("from .helper import h\nfrom .registry import figure\n\n"
                                   "@figure('b.y')\ndef y(ctx):\n    from .a import x\n    return x\n")
    (tmp_path / "c.py").write_text("from figgen.figures import a, helper\n")
    (tmp_path / "d.py").write_text("import figgen.figures.b\n")
    assert section_imports(tmp_path) == {"b": {"a"}, "c": {"a"}, "d": {"b"}}


def test_every_module_has_a_docstring():
    missing = [name for name, tree in _modules(FIGURES).items() if not ast.get_docstring(tree)]
    assert missing == []
