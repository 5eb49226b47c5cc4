"""The build: files, manifest, determinism, the content-addressed cache, failures leave no debris."""

from __future__ import annotations

import importlib
import json
import re
import sys
import textwrap
import xml.etree.ElementTree as ET

import pytest

import figgen
from figgen.build import build
from figgen.errors import FiggenError
from figgen.figures.registry import REGISTRY, load_all

FIGURE_MODULE = '''
import altair as alt
import numpy as np
from matplotlib.figure import Figure as MplFigure
from figgen.figures.registry import Figure, figure

@figure("{section}.{name}", section="{section}", title="Test {name}", caption="Norms per position.")
def fig(ctx):
    norms = np.round(np.linalg.norm(ctx.trace["hook_embed"], axis=-1), 4)  # (pos,)
    mpl = MplFigure(figsize=(3, 2))
    ax = mpl.add_subplot()
    ax.bar(range(len(norms)), norms)
    ax.set_xticks(range(len(norms)), ctx.trace.display_tokens, rotation=90)
    values = [{{"token": s, "norm": float(n)}} for s, n in zip(ctx.trace.str_tokens, norms)]
    chart = alt.Chart(alt.Data(values=values)).mark_bar().encode(x="token:N", y="norm:Q", tooltip=["token:N", "norm:Q"])
    return Figure(data={{"n_tokens": len(norms), "max_norm": float(norms.max()), "variant": {variant!r}}},
                  alt=f"Bar chart of {{len(norms)}} embedding norms", mpl=mpl, chart=chart)
'''


@pytest.fixture
def figmods(tmp_path, monkeypatch):
    """Two throwaway figure modules on disk (so their source can be edited), unregistered afterwards."""
    folder = tmp_path / "mods"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    # Register the real figures first: restoring an empty snapshot would unregister them for good
    # (their modules stay imported, so load_all could not register them again).
    before = dict(load_all())

    def write(mod: str, name: str, variant: str = "a", section: str = "tokenizer"):
        (folder / f"{mod}.py").write_text(FIGURE_MODULE.format(section=section, name=name, variant=variant))
        if mod in sys.modules:
            del sys.modules[mod]
        importlib.invalidate_caches()
        importlib.import_module(mod)

    write("figmod_a", "test-a")
    write("figmod_b", "test-b")
    yield write
    REGISTRY.clear()
    REGISTRY.update(before)
    for mod in ("figmod_a", "figmod_b"):
        sys.modules.pop(mod, None)


class CountingLoader:
    def __init__(self, model):
        self.model, self.calls = model, 0

    def __call__(self, name):
        self.calls += 1
        return self.model


IDS = ["tokenizer.test-a", "tokenizer.test-b"]


def run(tiny_dir, tiny, tmp_path, out="out", **kw):
    loader = CountingLoader(tiny)
    kw.setdefault("cache_dir", tmp_path / "cache")
    result = build(model=str(tiny_dir), prompt="Transformer tokens <$&\">", out=tmp_path / out,
                   only=IDS, progress=False, loader=loader, **kw)
    return result, loader


def snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_build_writes_files_and_manifest(figmods, tiny_dir, tiny, tmp_path):
    result, loader = run(tiny_dir, tiny, tmp_path)
    m = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert m["figgen_version"] == figgen.__version__ and m["prompt"] == "Transformer tokens <$&\">"
    assert {"name", "revision", "n_params", "n_layer", "n_head", "d_model", "d_vocab"} <= set(m["model"])
    assert m["model"]["n_layer"] == 2 and m["model"]["name"] == tiny.name
    assert [f["id"] for f in m["figures"]] == IDS
    for f in m["figures"]:
        assert f["section"] == "tokenizer" and f["alt"].startswith("Bar chart of")
        assert f["data"]["n_tokens"] == len(figgen.trace(tiny, m["prompt"]).tokens)
        # Manifest file names resolve from the manifest's own folder.
        assert sorted(f["files"]) == sorted(f"figures/{f['id']}{s}" for s in
                                            [".light.svg", ".dark.svg", ".vl.json", ".vl.light.svg", ".vl.dark.svg"])
        for name in f["files"]:
            path = tmp_path / "out" / name
            if name.endswith(".svg"):
                ET.fromstring(path.read_bytes())  # parses: token strings were escaped
            else:
                spec = json.loads(path.read_text())
                assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/v6")
    light = (tmp_path / "out" / "figures" / "tokenizer.test-a.light.svg").read_text()
    dark = (tmp_path / "out" / "figures" / "tokenizer.test-a.dark.svg").read_text()
    assert light != dark and "&lt;" in light and "&amp;" in light
    assert result.computed == IDS and loader.calls == 1 and result.model_loaded


def test_rebuild_is_byte_identical_and_loads_no_model(figmods, tiny_dir, tiny, tmp_path):
    run(tiny_dir, tiny, tmp_path, out="one")
    result, loader = run(tiny_dir, tiny, tmp_path, out="two")
    assert result.cached == IDS and result.computed == [] and loader.calls == 0 and not result.model_loaded
    assert snapshot(tmp_path / "one") == snapshot(tmp_path / "two")
    # Without any cache, the bytes are the same too.
    fresh, _ = run(tiny_dir, tiny, tmp_path, out="three", use_cache=False)
    assert fresh.computed == IDS and snapshot(tmp_path / "three") == snapshot(tmp_path / "one")


def test_changing_a_module_recomputes_only_its_figures(figmods, tiny_dir, tiny, tmp_path):
    run(tiny_dir, tiny, tmp_path)
    figmods("figmod_b", "test-b", variant="b")
    result, _ = run(tiny_dir, tiny, tmp_path)
    assert result.computed == ["tokenizer.test-b"] and result.cached == ["tokenizer.test-a"]
    entry = {f["id"]: f for f in result.manifest["figures"]}["tokenizer.test-b"]
    assert entry["data"]["variant"] == "b"


def test_prompt_is_part_of_the_key(figmods, tiny_dir, tiny, tmp_path):
    run(tiny_dir, tiny, tmp_path)
    result = build(model=str(tiny_dir), prompt="another prompt", out=tmp_path / "o2", only=IDS,
                   cache_dir=tmp_path / "cache", progress=False, loader=CountingLoader(tiny))
    assert result.computed == IDS


def test_corrupt_cache_entry_is_recomputed(figmods, tiny_dir, tiny, tmp_path):
    run(tiny_dir, tiny, tmp_path)
    for entry in (tmp_path / "cache" / "figures").glob("*/entry.json"):
        entry.write_text("{not json")
    result, _ = run(tiny_dir, tiny, tmp_path)
    assert result.computed == IDS


def test_failing_figure_leaves_previous_output(figmods, tiny_dir, tiny, tmp_path):
    run(tiny_dir, tiny, tmp_path)
    before = snapshot(tmp_path / "out")
    folder = next(p for p in sys.path if p.endswith("mods"))
    with open(f"{folder}/figmod_b.py", "a") as f:
        f.write("\n_orig = fig\n@figure('tokenizer.test-b', section='tokenizer', title='t', caption='c')\n"
                "def fig(ctx):\n    raise RuntimeError('boom')\n")
    del sys.modules["figmod_b"]
    importlib.import_module("figmod_b")
    with pytest.raises(RuntimeError, match="boom") as err:
        run(tiny_dir, tiny, tmp_path, use_cache=False)
    assert any("tokenizer.test-b" in note for note in err.value.__notes__)
    assert snapshot(tmp_path / "out") == before


def test_bad_prompt_and_unknown_ids(figmods, tiny_dir, tiny, tmp_path):
    with pytest.raises(FiggenError, match="unknown figure"):
        build(model=str(tiny_dir), out=tmp_path / "o", only=["nope.nothing"], progress=False)
    with pytest.raises(FiggenError, match="empty"):
        build(model=str(tiny_dir), prompt="", out=tmp_path / "o", only=IDS, progress=False)
    with pytest.raises(FiggenError, match="context limit"):
        build(model=str(tiny_dir), prompt="word " * 100, out=tmp_path / "o", only=IDS, progress=False,
              cache_dir=None, loader=CountingLoader(tiny))
    assert not (tmp_path / "o" / "manifest.json").exists()


def test_section_ids_select_figures(figmods, tiny_dir, tiny, tmp_path):
    figmods("figmod_b", "test-b", section="embedding")
    result = build(model=str(tiny_dir), out=tmp_path / "o", only=["embedding"], progress=False,
                   cache_dir=None, loader=CountingLoader(tiny))
    ids = [f["id"] for f in result.manifest["figures"]]
    assert "embedding.test-b" in ids and "tokenizer.test-a" not in ids
    assert all(i.startswith("embedding.") for i in ids)


def test_figure_code_follows_sibling_imports(tmp_path):
    """A figure is keyed on the sibling modules it imports (helper modules), transitively."""
    from figgen.build import _figure_code

    (tmp_path / "a.py").write_text("from .b import helper\nfrom . import style\nimport numpy\n")
    (tmp_path / "b.py").write_text("from figgen.figures.c import other\n")
    (tmp_path / "c.py").write_text("from .a import cycle\n")
    (tmp_path / "style.py").write_text("")
    (tmp_path / "unused.py").write_text("")
    assert [p.name for p in _figure_code(tmp_path / "a.py")] == ["a.py", "b.py", "c.py", "style.py"]


PROMPTS_MODULE = '''
from matplotlib.figure import Figure as MplFigure
from figgen.figures.registry import Figure, figure

@figure("tokenizer.test-own", section="tokenizer", title="Own prompts", caption="c", prompts={prompts!r})
def fig(ctx):
    traces = [ctx.trace_of(p) for p in {prompts!r}]
    logits = ctx.next_token_logits({prompts!r})
    mpl = MplFigure(figsize=(2, 2))
    mpl.add_subplot().plot([len(t.tokens) for t in traces])
    return Figure(data={{"lengths": [len(t.tokens) for t in traces],
                         "top": [int(i) for i in logits.argmax(-1)],
                         "trace_top": [int(t["logits"][-1].argmax()) for t in traces],
                         "sneak": {sneak!r} and len(ctx.trace_of({sneak!r}).tokens)}},
                  alt="Lengths of the figure's own prompts", mpl=mpl)
'''


@pytest.fixture
def own_prompts(tmp_path, monkeypatch):
    """A throwaway figure module that traces its own prompts; `write(prompts, sneak)` rewrites it."""
    folder = tmp_path / "own"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    before = dict(load_all())

    def write(prompts: tuple[str, ...], sneak: str = ""):
        (folder / "figmod_own.py").write_text(PROMPTS_MODULE.format(prompts=prompts, sneak=sneak))
        sys.modules.pop("figmod_own", None)
        importlib.invalidate_caches()
        importlib.import_module("figmod_own")

    yield write
    REGISTRY.clear()
    REGISTRY.update(before)
    sys.modules.pop("figmod_own", None)


def test_figures_trace_their_own_prompts(own_prompts, tiny_dir, tiny, tmp_path):
    prompts = ("one <b>", "two words here", "three")
    own_prompts(prompts)
    kw = dict(model=str(tiny_dir), out=tmp_path / "o", only=["tokenizer.test-own"], progress=False,
              cache_dir=tmp_path / "cache")
    result = build(loader=CountingLoader(tiny), **kw)
    (entry,) = result.manifest["figures"]
    assert entry["prompts"] == list(prompts)
    assert entry["data"]["lengths"] == [len(figgen.trace(tiny, p).tokens) for p in prompts]
    # The batched next-token logits agree with the traces' last positions.
    assert entry["data"]["top"] == entry["data"]["trace_top"]
    assert build(loader=CountingLoader(tiny), **kw).cached == ["tokenizer.test-own"]
    # Changing one of its prompts recomputes it (the prompts are in its cache key).
    own_prompts(("one <b>", "two words here", "four"))
    assert build(loader=CountingLoader(tiny), **kw).computed == ["tokenizer.test-own"]


def test_an_undeclared_prompt_is_an_error(own_prompts, tiny_dir, tiny, tmp_path):
    own_prompts(("declared",), sneak="not declared")
    with pytest.raises(FiggenError, match="traces prompt 'not declared' without declaring it"):
        build(model=str(tiny_dir), out=tmp_path / "o", only=["tokenizer.test-own"], progress=False,
              cache_dir=None, loader=CountingLoader(tiny))


def test_figure_html_prints_own_prompts_escaped():
    from figgen.mkdocs_plugin import figure_html

    entry = {"id": "tokenizer.test-own", "alt": "a", "title": "T", "caption": "C",
             "files": ["figures/tokenizer.test-own.light.svg"], "prompts": ["x <b>y</b> $z$"]}
    out = figure_html(entry, "")
    assert "Prompt: <q>x &#60;b&#62;y&#60;/b&#62; &#36;z&#36;</q>" in out
    # A static figure links to itself, to be opened full size (a phone shows it small).
    assert '<a class="figgen-full" href="figgen/figures/tokenizer.test-own.light.svg">' in out
    assert "Prompt:" not in figure_html(entry, "", prompts_above={"x <b>y</b> $z$"})  # printed once per page
    two = {**entry, "prompts": ["x <b>y</b> $z$", "w"]}
    assert "Also: <q>w</q>" in figure_html(two, "", prompts_above={"x <b>y</b> $z$"})


def test_a_figure_without_contrast_collapses_into_its_sentence():
    from figgen.mkdocs_plugin import figure_html

    entry = {"id": "tokenizer.flat", "alt": "a", "title": "Flat", "caption": "C",
             "files": ["figures/tokenizer.flat.light.svg"], "collapse": "All seven bars are at 1 <b>here</b>."}
    out = figure_html(entry, "")
    assert out.index('<p class="figgen-collapsed">All seven bars are at 1 &#60;b&#62;') < out.index("<details")
    assert out.index("<details") < out.index("<figure") < out.index("</details>")  # one click away
    assert "<details" not in figure_html({**entry, "collapse": None}, "")


def test_a_collapse_sentence_reaches_the_manifest(tiny_dir, tiny, tmp_path, own_prompts):
    own_prompts(("one",))
    import figmod_own

    from figgen.figures.registry import REGISTRY as R

    def flat(ctx):
        out = figmod_own.fig(ctx)
        out.collapse = "Nothing varies on this model."
        return out

    spec = R["tokenizer.test-own"]
    R["tokenizer.test-own"] = type(spec)(**{**spec.__dict__, "func": flat})
    result = build(model=str(tiny_dir), out=tmp_path / "o", only=["tokenizer.test-own"], progress=False,
                   cache_dir=None, loader=CountingLoader(tiny))
    assert result.manifest["figures"][0]["collapse"] == "Nothing varies on this model."

class RefusingLoader:
    def __call__(self, name):
        raise AssertionError("the build loaded the model")


def test_too_long_prompt_fails_before_anything_loads(figmods, tiny_dir, tmp_path, no_weights):
    with pytest.raises(FiggenError, match=r"is \d+ tokens \(with BOS\); this model's context limit is 32"):
        build(model=str(tiny_dir), prompt="word " * 100, out=tmp_path / "o", only=IDS, progress=False,
              cache_dir=tmp_path / "cache", loader=RefusingLoader())
    assert not (tmp_path / "o").exists() and not (tmp_path / "cache").exists()


def test_cli_build_refuses_long_prompt_in_one_line(tmp_path):
    """`figgen build` with a prompt longer than mini's context: exit 2, one line, no output, no torch."""
    import os
    import subprocess

    out, cache = tmp_path / "out", tmp_path / "cache"
    args = ["build", "--model", "mini", "--prompt", "Monday " * 100, "--out", str(out), "--cache-dir", str(cache)]
    code = (f"import sys; from figgen.cli import main; rc = main({args!r}); "
            "print('torch' in sys.modules); raise SystemExit(rc)")
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, "HF_HUB_OFFLINE": "1"},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert re.fullmatch(r"figgen: error: prompt is \d+ tokens \(with BOS\); this model's context limit is 65\n",
                        proc.stderr)
    assert proc.stdout == "False\n"  # the weights (and torch) were never loaded
    assert not out.exists() and not cache.exists()


def test_an_edit_in_a_running_process_never_ships_stale_figures(figmods, tiny_dir, tiny, tmp_path):
    """mkdocs serve keeps one process: a figure module edited after import must not have the old code's
    result stored under the new code's key. Edit a module on disk, rebuild in this process, then a fresh
    process (a later `tasks.py site`) must show the edit."""
    import subprocess

    first, _ = run(tiny_dir, tiny, tmp_path)
    assert {f["id"]: f["data"]["variant"] for f in first.manifest["figures"]}["tokenizer.test-b"] == "a"
    folder = next(p for p in sys.path if p.endswith("mods"))
    (tmp_path / "mods" / "figmod_b.py").write_text(FIGURE_MODULE.format(section="tokenizer", name="test-b",
                                                                         variant="b"))
    again, _ = run(tiny_dir, tiny, tmp_path)  # same process: the edited module is reloaded
    assert again.computed == ["tokenizer.test-b"]
    assert {f["id"]: f["data"]["variant"] for f in again.manifest["figures"]}["tokenizer.test-b"] == "b"
    script = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {folder!r})
        import figmod_a, figmod_b
        from figgen.build import build
        r = build(model={str(tiny_dir)!r}, prompt="Transformer tokens <$&\\">", out={str(tmp_path / "fresh")!r},
                  only={IDS!r}, cache_dir={str(tmp_path / "cache")!r}, progress=False)
        print(json.dumps({{"computed": r.computed, "variants": {{f["id"]: f["data"]["variant"] for f in r.manifest["figures"]}}}}))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    fresh = json.loads(proc.stdout.strip().splitlines()[-1])
    assert fresh["computed"] == [] and fresh["variants"]["tokenizer.test-b"] == "b"


def test_a_figure_names_the_prompt_it_shows(own_prompts, tiny_dir, tiny, tmp_path):
    """A figure that chooses among declared candidates prints the one it shows (Figure.prompts)."""
    own_prompts(("one", "two words"))
    import figmod_own

    original = figmod_own.fig

    def chosen(ctx):
        out = original(ctx)
        out.prompts = ["two words"]
        return out

    from figgen.figures.registry import REGISTRY as R

    spec = R["tokenizer.test-own"]
    # Replaced in place: own_prompts' teardown restores the whole registry afterwards.
    R["tokenizer.test-own"] = type(spec)(**{**spec.__dict__, "func": chosen})
    result = build(model=str(tiny_dir), out=tmp_path / "o", only=["tokenizer.test-own"], progress=False,
                   cache_dir=None, loader=CountingLoader(tiny))
    assert result.manifest["figures"][0]["prompts"] == ["two words"]
