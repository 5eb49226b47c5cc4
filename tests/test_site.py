"""The real site, built with mini in a temp folder with --strict, inspected as HTML."""

from __future__ import annotations

import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from .sitetools import ROOT, mkdocs_build

pytestmark = pytest.mark.skipif(not (ROOT / "mkdocs.yml").is_file(), reason="no mkdocs.yml yet")


class Refs(HTMLParser):
    """Collect every resource the browser would load: scripts, stylesheets, images, fonts, embeds."""

    def __init__(self):
        super().__init__()
        self.resources: list[str] = []
        self.figures: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.resources.append(a["src"])
        if tag == "link" and a.get("href") and a.get("rel") in {"stylesheet", "preload", "icon", "modulepreload"}:
            self.resources.append(a["href"])
        if tag in {"img", "source", "iframe", "embed", "video", "audio"} and a.get("src"):
            self.resources.append(a["src"])
        if tag == "object" and a.get("data"):
            self.resources.append(a["data"])
        if tag == "figure" and "figgen-figure" in (a.get("class") or ""):
            self.figures.append(a.get("id", ""))
        for spec in ("data-spec-light", "data-spec-dark"):  # a chart's Vega spec per palette (figgen.js)
            if a.get(spec):
                self.resources.append(a[spec])

    def handle_data(self, data):
        self.text.append(data)


# The site itself is built once per session: fixtures `project`, `site_build` and `site` in conftest.py.


def pages(site: Path):
    return [p for p in site.rglob("*.html") if p.name != "404.html"]


def test_no_remote_resources(site):
    for page in pages(site):
        refs = Refs()
        refs.feed(page.read_text(encoding="utf-8"))
        remote = [r for r in refs.resources if re.match(r"^(https?:)?//", r)]
        assert not remote, f"{page.relative_to(site)} loads {remote}"
    for css in site.rglob("*.css"):
        urls = re.findall(r"url\(\s*['\"]?((?:https?:)?//[^'\")]+)", css.read_text(encoding="utf-8", errors="replace"))
        assert not urls, f"{css.relative_to(site)} loads {urls[:3]}"


def test_every_resource_exists(site):
    for page in pages(site):
        refs = Refs()
        refs.feed(page.read_text(encoding="utf-8"))
        for ref in refs.resources:
            if ref.startswith("data:"):  # inline (the notebook's plot): nothing to fetch
                continue
            target = (page.parent / ref.split("#")[0].split("?")[0]).resolve()
            assert target.is_file(), f"{page.relative_to(site)} → {ref} is missing"


def test_every_figure_is_placed_and_its_files_exist(site):
    """Every figure of the build is on some page, and every section's page places its own figures."""
    import json

    from figgen.figures.registry import PAGES

    manifest = json.loads((site / "figgen" / "manifest.json").read_text())
    placed: dict[str, str] = {}  # figure id → page (site-relative folder, as in PAGES)
    for page in pages(site):
        refs = Refs()
        refs.feed(page.read_text(encoding="utf-8"))
        url = page.parent.relative_to(site).as_posix() + "/"
        placed |= {f.removeprefix("fig-"): url for f in refs.figures}
    for entry in manifest["figures"]:
        for name in entry["files"]:
            assert (site / "figgen" / name).is_file()
        assert entry["id"] in placed, f"{entry['id']} is on no page"
    for section, url in PAGES.items():
        own = [e["id"] for e in manifest["figures"] if e["section"] == section]
        assert own, f"section {section} has no figure"
        assert any(placed.get(i) == url for i in own), f"{url} places no {section} figure"


def test_every_page_names_the_model(site):
    for page in pages(site):
        text = page.read_text(encoding="utf-8")
        assert "not GPT-2 124M" in text, f"{page.relative_to(site)} lacks the model note"


def test_notebook_runs_the_sites_model(site):
    text = (site / "notebooks" / "trace-a-prompt" / "index.html").read_text(encoding="utf-8")
    assert "<pre>mini\n" in text  # print(model.name) in the executed notebook
    assert "next token: ' Tuesday'" in text  # mini's prediction, not another model's
    assert "IProgress" not in text and "Warning" not in text  # no stderr noise in the outputs


def test_notebooks_follow_the_model(tiny_dir, tmp_path, monkeypatch):
    """Another model gets its own executed-notebook cache, and the kernel an absolute path to it."""
    from types import SimpleNamespace

    from figgen.mkdocs_plugin import FiggenPlugin

    class Jupyter:  # stands in for mkdocs-jupyter's plugin: only its config is touched
        def __init__(self):
            self.config = {"cache": True, "cache_dir": ".cache/mkdocs-jupyter"}

    def share(model):
        plugin, jupyter = FiggenPlugin(), Jupyter()
        plugin.cache_dir = tmp_path / "cache"
        config = SimpleNamespace(plugins={"mkdocs-jupyter": jupyter})  # the one part of the config it reads
        plugin._share_model_with_notebooks(model, config)
        return os.environ["FIGGEN_MODEL"], Path(jupyter.config["cache_dir"])

    monkeypatch.chdir(tiny_dir.parent)
    monkeypatch.setenv("FIGGEN_MODEL", "")
    env_mini, cache_mini = share("mini")
    env_tiny, cache_tiny = share(tiny_dir.name)  # relative to the working directory
    assert env_mini == "mini" and env_tiny == str(tiny_dir.resolve())
    assert cache_mini != cache_tiny and {cache_mini.parent, cache_tiny.parent} == {tmp_path / "cache" / "notebooks"}
    assert share("mini")[1] == cache_mini  # stable across builds: an unchanged rebuild is a cache hit


def test_unknown_figure_id_fails_strict_build(project, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(project, bad, symlinks=True)
    page = next((bad / "docs").rglob("tokenizer.md"))
    page.write_text(page.read_text() + "\n{{ figure tokenizer.no-such-figure }}\n")
    proc = mkdocs_build(bad, tmp_path / "out")
    assert proc.returncode != 0 and "no-such-figure" in proc.stderr


def test_rebuild_is_a_cache_hit_and_byte_identical(project, site, tmp_path):
    proc = mkdocs_build(project, tmp_path / "again")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "figgen: 0 figures computed" in proc.stderr
    first = {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()}
    second = {p.relative_to(tmp_path / "again"): p.read_bytes() for p in (tmp_path / "again").rglob("*") if p.is_file()}
    assert first.keys() == second.keys()
    differ = sorted(str(k) for k in first if first[k] != second[k])
    assert not differ, differ


def test_quoted_token_strings_stay_text():
    """A token string quoted with {{ data }} renders as itself: no markup, no emphasis, no math."""
    import html

    import markdown

    from figgen.mkdocs_plugin import _format

    token = "$x$ \\(y\\) *z* <b>&amp; 'q' \"r\" #1"
    md = markdown.Markdown(extensions=["pymdownx.arithmatex"],
                           extension_configs={"pymdownx.arithmatex": {"generic": True}})
    out = md.convert(f"The token {_format(token, None)} here.")
    assert "arithmatex" not in out and "<em>" not in out and "<b>" not in out
    assert html.unescape(out) == f"<p>The token {token} here.</p>"  # the reader sees the token itself


def test_meta_description_names_the_model_built(site):
    text = (site / "index.html").read_text(encoding="utf-8")
    m = re.search(r'<meta name="description" content="([^"]*)"', text)
    assert m and "mini" in m.group(1) and "not GPT-2 124M" in m.group(1), m and m.group(1)


def test_claims_page_lists_every_claim_with_its_status(site):
    import json

    from figgen.claims import CLAIMS

    manifest = json.loads((site / "figgen" / "manifest.json").read_text())
    assert [c["id"] for c in manifest["claims"]] == [c.id for c in CLAIMS]
    page = (site / "claims" / "index.html").read_text(encoding="utf-8")
    for c in manifest["claims"]:
        assert f'id="claim-{c["id"]}"' in page and c["status"] in page
        assert c["status"] != "not computed"


def test_claims_working_stays_out_of_the_search_index(site):
    """Every page loads the search index: a claim's working (long conventions, repeated in every badge) is on
    the Claims page and in the badges' tooltips, not in the index; its statement is."""
    import json

    from figgen.claims import BY_ID

    index = (site / "search" / "search_index.json").read_text(encoding="utf-8")
    claim = BY_ID["day-circuit.copy-l10h3"]
    assert claim.conventions[-60:] not in index and claim.criterion not in index
    texts = " ".join(d["text"] for d in json.loads(index)["docs"] if d["location"].startswith("claims/"))
    assert "L10H3" in texts  # the statements stay searchable


def test_heavy_libraries_are_not_in_the_html(site):
    """Vega is loaded by javascripts/figgen.js on the pages that need it, not by every page's HTML
    (tests/test_browser.py checks which pages end up loading it); no page loads KaTeX's script, and
    only pages with math link KaTeX's stylesheet."""
    for page in pages(site):
        text = page.read_text(encoding="utf-8")
        refs = Refs()
        refs.feed(text)
        vendored = [r for r in refs.resources if "assets/vendor/" in r]
        css = [r for r in vendored if r.endswith("assets/vendor/katex/katex.min.css")]
        assert vendored == css, f"{page.relative_to(site)} loads {vendored} up front"
        assert len(css) == ('class="katex"' in text), (page.relative_to(site), css)
    loader = (site / "javascripts" / "figgen.js").read_text(encoding="utf-8")
    for path in ["vega/vega.min.js", "vega-embed/vega-embed.min.js"]:
        assert f'"{path}"' in loader, path  # what the loader asks for …
        assert (site / "assets" / "vendor" / path).is_file(), path  # … is in the site
    assert (site / "assets" / "vendor" / "katex" / "katex.min.css").is_file()
    for gone in ["vega-lite", "katex.min.js", "auto-render"]:  # compiled and typeset at build time
        assert gone not in loader, gone
        assert not list((site / "assets").rglob(f"*{gone}*")), gone


def test_math_is_typeset_at_build_time(site):
    """Every arithmatex element holds KaTeX's HTML and MathML (typeset by figgen/katex.py), none is
    left as TeX or holds a KaTeX error; and pages do have math."""
    total = 0
    for page in pages(site):
        text = page.read_text(encoding="utf-8")
        where = page.relative_to(site)
        for tag, start in re.findall(r'<(span|div) class="arithmatex">(.{0,60})', text, re.S):
            total += 1
            expected = '<span><span class="katex-display"><span class="katex">' if tag == "div" \
                else '<span><span class="katex"><span class="katex-mathml"><math'
            assert start.startswith(expected), (where, start)
        assert "katex-error" not in text, where
        assert text.count('<span class="katex-mathml">') == text.count('<span class="katex-html"') \
            == text.count('<span class="katex">'), where  # MathML for screen readers beside each formula
    assert total > 100, total


def test_charts_are_compiled_to_vega_per_palette(site):
    """Each chart's container names one Vega spec per palette, compiled at build time; the Vega-Lite
    source is published beside them."""
    import json

    charts = 0
    for page in pages(site):
        text = page.read_text(encoding="utf-8")
        for m in re.finditer(r'<div class="figgen-vega" ([^>]*)>', text):
            attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', m.group(1)))
            charts += 1
            specs = {}
            for theme in ("light", "dark"):
                path = (page.parent / attrs[f"data-spec-{theme}"]).resolve()
                specs[theme] = json.loads(path.read_text(encoding="utf-8"))
                assert specs[theme]["$schema"] == "https://vega.github.io/schema/vega/v6.json", path
                assert "usermeta" not in specs[theme] and "background" not in specs[theme], path
            assert specs["light"]["config"] != specs["dark"]["config"], attrs  # each palette's own
            assert (page.parent / attrs["data-source"]).resolve().is_file(), attrs
    assert charts > 0
def test_no_version_selector_outside_mike(site):
    """Material's version selector fetches ../versions.json, which only a mike deployment has."""
    import json

    for page in pages(site):
        m = re.search(r'<script id="__config" type="application/json">(.*?)</script>',
                      page.read_text(encoding="utf-8"), re.S)
        assert m and json.loads(m.group(1)).get("version") is None, page.relative_to(site)


def test_social_card(site):
    """og:image is a 1200 × 630 card (the top of the poster), absolute when site_url is set."""
    from PIL import Image

    text = (site / "index.html").read_text(encoding="utf-8")
    m = re.search(r'<meta property="og:image" content="([^"]+)">', text)
    assert m, "no og:image"
    assert m.group(1).startswith("http://127.0.0.1:") and m.group(1).endswith("/figgen/social-card.png")
    with Image.open(site / "figgen" / "social-card.png") as card:
        assert card.size == (1200, 630) and card.format == "PNG"


def test_build_output_is_quiet(site_build):
    """Only figgen's progress and real warnings: no Material end-of-life banner (NO_MKDOCS_2_WARNING,
    which tasks.py sets), no Jupyter kernel TCP warning (kernels run over IPC), no WARNING at all."""
    _, proc = site_build
    out = proc.stdout + proc.stderr
    assert "end of life" not in out and "Zensical" not in out
    assert "without encryption" not in out
    assert "WARNING" not in out, out[-2000:]
    assert "figgen: " in out  # its progress line is still there


def test_tasks_silence_materials_banner(monkeypatch):
    import tasks

    seen = {}
    monkeypatch.delenv("NO_MKDOCS_2_WARNING", raising=False)
    done = type("Done", (), {"returncode": 0})
    monkeypatch.setattr(tasks.subprocess, "run", lambda cmd, cwd, env: seen.update(env) or done)
    assert tasks.run(["true"]) == 0 and seen["NO_MKDOCS_2_WARNING"] == "1"


def test_notebook_kernel_runs_over_ipc_without_warning(tmp_path):
    """Executing a notebook the way mkdocs-jupyter does, after the plugin's kernel setting: no TCP
    warning from ipykernel, and the cell still runs."""
    import json
    import subprocess
    import sys

    nb = tmp_path / "n.ipynb"
    nb.write_text(json.dumps({"cells": [{"cell_type": "code", "execution_count": None, "id": "a",
                                         "metadata": {}, "outputs": [], "source": "print(6 * 7)"}],
                              "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                          "language": "python"}},
                              "nbformat": 4, "nbformat_minor": 5}))
    code = ("import types; from figgen.mkdocs_plugin import _notebook_kernels_over_ipc; "
            "_notebook_kernels_over_ipc(types.SimpleNamespace(plugins={'mkdocs-jupyter': object()})); "
            "from mkdocs_jupyter import convert; "
            f"print('42' in convert.nb2html({str(nb)!r}, execute=True, allow_errors=False))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("True")
    assert "without encryption" not in proc.stderr, proc.stderr[-2000:]
    assert not list(tmp_path.glob("kernel*"))  # no socket files left in the working folder


def test_no_glossary_tooltip_in_headings(site):
    for page in pages(site):
        for heading in re.findall(r"<h[1-6]\b.*?</h[1-6]>", page.read_text(encoding="utf-8"), re.S):
            assert "<abbr" not in heading, (page.relative_to(site), heading[:120])


TEMPLATE_TEXT = re.compile(r"\b\w+\(s\)|when there is one|0\.0e\+00 and 0\.0e\+00|\bNone\b|\{\{|\}\}")


def test_no_template_text_on_any_page(site):
    """No prose that was written for no data in particular: "token(s)", "the inset, when there is one",
    a data key that came out None, a placeholder left over."""
    import html

    for page in pages(site):
        markup = re.sub(r"<(script|style|code|pre)\b.*?</\1>", " ", page.read_text(encoding="utf-8"), flags=re.S)
        markup = re.sub(r'<(span|div) class="arithmatex">.*?</\1>', " ", markup, flags=re.S)  # math, not prose
        text = html.unescape(re.sub(r"<[^>]+>", " ", markup))
        hits = sorted({m.group(0) for m in TEMPLATE_TEXT.finditer(text)})
        assert not hits, (page.relative_to(site), hits)


def test_notebook_shows_its_figure(site):
    page = (site / "notebooks" / "trace-a-prompt" / "index.html").read_text(encoding="utf-8")
    assert re.search(r'<img[^>]+src="data:image/(png|svg\+xml);base64,', page), "the notebook's figure is not on its page"


def test_model_banner_has_a_short_form_and_can_be_dismissed(site):
    text = (site / "index.html").read_text(encoding="utf-8")
    assert 'class="figgen-model-note__short">built with mini, not GPT-2 124M.' in text
    assert "announce.dismiss" in text  # Material's feature flag, in the page config
