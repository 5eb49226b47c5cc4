"""The `figgen` MkDocs plugin: runs the build and lets Markdown place figures and quote numbers.

In a page:

    {{ figure tokenizer.tokens }}                  the figure with its title, caption and alt text
    {{ data embedding.params W_E_share :.0% }}     a number from that figure's `data` (format spec optional)
    {{ model label }}                              a field of the manifest's model block (label: "mini", "GPT-2 124M")
    {{ claim embedding.w-e-share }}                a source's claim as a badge: published · this model · status
    {{ compare ID ID … }}                          "the post vs this model": a short table, a row per claim
    {{ claims }}                                   every claim, grouped by source (the Claims page)

An unknown figure id, data key or claim id, and any other `{{ … }}`, is a warning naming the
closest known ids, so `mkdocs build --strict` fails on it; a claim that does not reproduce is not
(it is a finding, shown as one). Generated files live in the cache folder and are added with
`File.generated`; nothing is written into docs/.
"""

from __future__ import annotations

import hashlib
import html
import logging
import os
import re
from pathlib import Path

from mkdocs.config import base
from mkdocs.config import config_options as c
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files
from mkdocs.utils import get_relative_url

from .build import DEFAULT_PROMPT, build
from .errors import FiggenError

log = logging.getLogger("mkdocs.plugins.figgen")

SITE_DIR = "figgen"  # generated files appear under this folder of the site
SOCIAL_CARD = f"{SITE_DIR}/social-card.png"  # og:image (figgen/social.py)
SOCIAL_SIZE = [1200, 630]  # = figgen.social.SIZE (not imported here: PIL loads only when a card is made)
PLACEHOLDER = re.compile(r"\{\{\s*(figure|data|model|claim)\s+([^\s}]+)(?:\s+([^\s}:]+))?(?:\s+(:[^}]*?))?\s*\}\}")
CLAIMS_TABLE = re.compile(r"\{\{\s*claims\s*\}\}")
COMPARE = re.compile(r"\{\{\s*compare\s+([^{}]+?)\s*\}\}")
KINDS = ("figure", "data", "model", "claim", "claims", "compare")
ANY_PLACEHOLDER = re.compile(r"\{\{.*?\}\}", re.S)

# Loaded models survive `mkdocs serve` rebuilds (the plugin object itself may be recreated).
_MODELS: dict[str, object] = {}


def _keep_loaded(name: str):
    if name not in _MODELS:
        from .model import load_model

        _MODELS[name] = load_model(name)
    return _MODELS[name]


class FiggenConfig(base.Config):
    model = c.Type(str, default="gpt2")
    """Model to trace: a hub id, a local HF directory or "mini". `FIGGEN_MODEL` overrides it."""
    prompt = c.Type(str, default=DEFAULT_PROMPT)
    """The prompt every figure is computed from."""
    cache_dir = c.Type(str, default=".cache/figgen")
    """Cache and build output, relative to mkdocs.yml (never inside docs/)."""
    enabled = c.Type(bool, default=True)
    """False skips the build; figure placeholders then render as notes."""


class FiggenPlugin(BasePlugin[FiggenConfig]):
    def on_config(self, config):
        self.figures: dict[str, dict] = {}
        self.manifest: dict = {}
        cfg_dir = Path(config.config_file_path or ".").resolve().parent
        self.cache_dir = (cfg_dir / self.config.cache_dir).resolve()
        self.out = self.cache_dir / "site"
        docs = Path(config.docs_dir).resolve()
        if docs == self.cache_dir or docs in self.cache_dir.parents:
            raise PluginError("figgen: cache_dir must be outside docs_dir (mkdocs serve would rebuild forever)")
        model = os.environ.get("FIGGEN_MODEL") or self.config.model
        _version_selector_only_under_mike(config)
        _notebook_kernels_over_ipc(config)
        self.social: Path | None = None
        if not self.config.enabled:
            config.extra["figgen"] = {"model": "", "model_note": "", "prompt": self.config.prompt}
            return config
        try:
            result = build(model=model, prompt=self.config.prompt, out=self.out, cache_dir=self.cache_dir,
                           loader=_keep_loaded, progress=False)
        except FiggenError as err:
            raise PluginError(f"figgen: {err}") from None
        self.manifest = result.manifest
        self.figures = {e["id"]: e for e in self.manifest["figures"]}
        info = self.manifest["model"]
        info["label"] = model_label(info)  # {{ model label }}: the model built, named one way on every page
        log.info(f"figgen: {len(result.computed)} figures computed, {len(result.cached)} from cache "
                 f"({info['name']})")
        image = self._social_card()
        config.extra["figgen"] = {"model": info["name"], "model_note": model_note(info),
                                  "model_short": model_short(info),
                                  "prompt": self.manifest["prompt"], "image": image, "image_size": SOCIAL_SIZE}
        if not info.get("is_gpt2_small"):  # <meta name="description"> names the model actually traced
            config.site_description = description(info)
        self._share_model_with_notebooks(model, config)
        return config

    def _share_model_with_notebooks(self, model: str, config) -> None:
        """Executed notebooks (mkdocs-jupyter) must trace the site's model, not whatever ran last.

        Their kernel reads FIGGEN_MODEL, so the model this build resolved is exported (a local
        directory as an absolute path: the kernel runs in the notebook's folder). mkdocs-jupyter's
        cache of executed notebooks is keyed only by the notebook and its own options, so it gets a
        folder per model identity (name + revision) under figgen's cache.
        """
        from .model import identify

        path = Path(model).expanduser()
        os.environ["FIGGEN_MODEL"] = str(path.resolve()) if model != "mini" and path.is_dir() else model
        jupyter = config.plugins.get("mkdocs-jupyter")
        if jupyter is not None and jupyter.config.get("cache"):
            name, revision = identify(model)
            digest = hashlib.sha256(f"{name}@{revision}".encode()).hexdigest()[:16]
            jupyter.config["cache_dir"] = str(self.cache_dir / "notebooks" / digest)

    def on_page_content(self, html_text: str, page, config, files) -> str:
        return self._typeset_math(strip_heading_tooltips(html_text), page)

    def _typeset_math(self, html_text: str, page) -> str:
        """Math typeset by KaTeX at build time (figgen/katex.py); the page links KaTeX's stylesheet
        itself (inside the article, so instant navigation brings it along), and loads no KaTeX script."""
        from .katex import MATH, Katex

        if not MATH.search(html_text):
            return html_text
        if getattr(self, "_katex", None) is None:
            try:
                from .assets import katex_script

                self._katex = Katex(katex_script(self.cache_dir / "assets"))
            except FiggenError as err:
                raise PluginError(f"figgen: {err}") from None
        where = page.file.src_uri
        html_text, count = self._katex.typeset(html_text, warn=lambda msg: log.warning(f"figgen: {where}: {msg}"))
        if not count:
            return html_text
        # Just before the first formula: a stylesheet in the body holds back the rendering of what
        # follows it until it has loaded (no unstyled math), and a void element there changes nothing
        # for the search index (at the very top, the text after it would become its own section).
        css = html.escape(get_relative_url("assets/vendor/katex/katex.min.css", page.url))
        first = MATH.search(html_text).start()
        return f'{html_text[:first]}<link rel="stylesheet" href="{css}">{html_text[first:]}'

    def on_serve(self, server, config, builder):
        """`mkdocs serve` also rebuilds when figgen's code changes (edited figure and analysis modules are
        reloaded by the build; see figgen.sources)."""
        server.watch(str(Path(__file__).resolve().parent))
        return server

    def _social_card(self) -> str:
        """The site's social image (og:image), as a site path ('' without one): a 1200 × 630 card cut
        from the top of the first figure that saved a PNG (the poster), cached by that PNG's bytes."""
        png = next((self.out / f for e in self.manifest["figures"] for f in e["files"]
                    if f.endswith(".png")), None)
        if png is None:
            return ""
        from .figures.save import atomic_write
        from .social import social_card

        data = png.read_bytes()
        self.social = self.cache_dir / "social" / f"card-{hashlib.sha256(data).hexdigest()[:16]}.png"
        if not self.social.is_file():
            atomic_write(self.social, social_card(data))
        return SOCIAL_CARD

    def on_files(self, files: Files, config) -> Files:
        generated = _vendored(self.cache_dir / "assets")  # also without figures: the math needs KaTeX's CSS
        if self.config.enabled:
            generated[f"{SITE_DIR}/manifest.json"] = self.out / "manifest.json"
            if self.social is not None:
                generated[SOCIAL_CARD] = self.social
            for entry in self.manifest["figures"]:
                for fname in entry["files"]:  # paths relative to the manifest's folder
                    generated[f"{SITE_DIR}/{fname}"] = self.out / fname
                    if fname.endswith(".vl.json"):
                        generated.update(self._vega_specs(fname))
        for dest, src in generated.items():
            if files.get_file_from_path(dest) is None:
                files.append(File.generated(config, dest, abs_src_path=str(src)))
        return files

    def _vega_specs(self, fname: str) -> dict[str, Path]:
        """figures/ID.vl.json → {site path of ID.vg.THEME.json: file}: the chart compiled to Vega once
        per theme at build time (figgen.figures.save.vega_specs), so pages load no Vega-Lite."""
        from .figures.save import atomic_write, vega_specs

        stem = fname.removesuffix(".vl.json")
        out = {}
        for theme, text in vega_specs((self.out / fname).read_bytes()).items():
            path = self.cache_dir / "vega" / f"{Path(stem).name}.{theme}.json"  # rewritten only when it changes
            if not path.is_file() or path.read_bytes() != text:
                atomic_write(path, text)
            out[f"{SITE_DIR}/{stem}.vg.{theme}.json"] = path
        return out

    def on_page_markdown(self, markdown: str, page, config, files) -> str:
        where = page.file.src_uri
        claims = {c["id"]: c for c in self.manifest.get("claims", [])}

        def replace(m: re.Match, shown_prompts: set) -> str:
            kind, ident, key, fmt = m.groups()
            try:
                if kind == "claim":
                    if ident not in claims:
                        raise KeyError(f"unknown claim id {ident!r}{_closest(ident, claims)}")
                    return claim_badge(claims[ident], page.url, self.manifest.get("model"))
                if kind == "model":
                    if ident not in self.manifest.get("model", {}):
                        raise KeyError(f"the manifest's model block has no {ident!r}")
                    return _format(self.manifest["model"][ident], fmt)
                if not self.config.enabled:
                    return f"*(figure {html.escape(ident)}: figgen is disabled)*"
                entry = self.figures.get(ident)
                if entry is None:
                    raise KeyError(f"unknown figure id {ident!r}{_closest(ident, self.figures)}")
                if kind == "figure":
                    html_ = figure_html(entry, page.url, prompts_above=shown_prompts)
                    shown_prompts.update(entry.get("prompts", ()))
                    return html_
                if key is None:
                    raise KeyError(f"{{{{ data {ident} }}}} needs a key")
                return _format(_lookup(entry["data"], key, ident), fmt)
            except KeyError as err:
                return problem(err.args[0])

        def problem(message: str) -> str:
            log.warning(f"figgen: {where}: {message}")
            return f"**[figgen: {html.escape(message)}]**"

        def unknown(m: re.Match) -> str:
            text = " ".join(m.group(0).split())
            word = (text[2:-2].split() or [""])[0]
            return problem(f"placeholder {text!r} not understood{_closest(word, KINDS)} "
                           f"(known: {', '.join(KINDS)})")

        def compare(m: re.Match) -> str:
            ids = m.group(1).split()
            missing = [i for i in ids if i not in claims]
            if missing:
                return problem(f"unknown claim id {missing[0]!r}{_closest(missing[0], claims)}")
            return compare_table([claims[i] for i in ids], page.url, self.manifest.get("model", {}))

        markdown = CLAIMS_TABLE.sub(lambda m: claims_table(self.manifest.get("claims", []), page.url,
                                                           self.manifest.get("model")), markdown)
        markdown = COMPARE.sub(compare, markdown)
        shown_prompts: set[str] = set()  # each prompt is printed under the first figure of the page that uses it
        markdown = PLACEHOLDER.sub(lambda m: replace(m, shown_prompts), markdown)
        return ANY_PLACEHOLDER.sub(unknown, markdown)

    def on_post_page(self, output: str, page, config) -> str:
        if page.file.src_uri.endswith(".ipynb"):  # mkdocs-jupyter inlines ~575 KB of JupyterLab CSS
            from .notebook_css import drop_unused_notebook_css

            return drop_unused_notebook_css(output)
        return output


def _version_selector_only_under_mike(config) -> None:
    """Material's version selector (extra.version, provider mike) fetches ../versions.json, which
    only a site published with mike has: any other build (mkdocs build/serve, the tests) would
    request it on every page and get a 404. mike builds with MIKE_DOCS_VERSION set."""
    version = config.extra.get("version")
    if isinstance(version, dict) and version.get("provider") == "mike" and not os.environ.get("MIKE_DOCS_VERSION"):
        del config.extra["version"]


_KERNEL_DIR: list[str] = []  # this process's private folder for kernel sockets (made once)


def _notebook_kernels_over_ipc(config) -> None:
    """Executed notebooks talk to their kernel over Unix sockets in a private folder, not TCP.

    Over TCP, ipykernel warns on every build that its traffic is unencrypted (it is, on loopback).
    IPC is the remedy it names: the sockets live in a 0700 temp folder of this process. The setting
    reaches mkdocs-jupyter's nbconvert through a config file on JUPYTER_CONFIG_PATH (nbconvert reads
    it; the kernel manager takes `transport` and an absolute `ip`, the socket path prefix)."""
    if os.name != "posix" or config.plugins.get("mkdocs-jupyter") is None:
        return
    if not _KERNEL_DIR:
        import atexit
        import json
        import shutil
        import tempfile

        folder = tempfile.mkdtemp(prefix="figgen-kernel-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        settings = {"KernelManager": {"transport": "ipc", "ip": os.path.join(folder, "kernel")}}
        Path(folder, "jupyter_nbconvert_config.json").write_text(json.dumps(settings))
        _KERNEL_DIR.append(folder)
        paths = [p for p in os.environ.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p]
        os.environ["JUPYTER_CONFIG_PATH"] = os.pathsep.join([folder, *paths])


_HEADING = re.compile(r"(<h([1-6])\b[^>]*>)(.*?)(</h\2>)", re.S)
_ABBR = re.compile(r"<abbr\b[^>]*>(.*?)</abbr>", re.S)


def strip_heading_tooltips(html_text: str) -> str:
    """Headings keep their words but lose glossary tooltips: Python-Markdown's abbr wraps every match,
    headings included, and a tooltip on a heading (and in the table of contents) is noise."""
    return _HEADING.sub(lambda m: m.group(1) + _ABBR.sub(r"\1", m.group(3)) + m.group(4), html_text)


def model_short(info: dict) -> str:
    """The banner's short form, for narrow screens ('' for GPT-2 124M)."""
    if info.get("is_gpt2_small"):
        return ""
    name = "mini" if info.get("source") == "mini" else info.get("name", "another model").split("@")[0]
    return f"built with {name}, not GPT-2 124M."


def model_note(info: dict) -> str:
    """The banner every page shows when the site was not built with GPT-2 124M ('' when it was)."""
    if info.get("is_gpt2_small"):
        return ""
    if info.get("source") == "mini":
        what = "mini, the project's own small GPT-2-architecture model"
    else:
        what = info.get("name", "another model")
    return (f"Built with {what} ({info.get('n_layer')} layers, {info.get('n_head')} heads, "
            f"d_model {info.get('d_model')}), not GPT-2 124M: figures and computed numbers come from "
            "that model; statements about GPT-2 124M quote the infographic.")


def description(info: dict) -> str:
    """The site description for a build that did not trace GPT-2 124M."""
    what = "mini, the project's own small GPT-2-architecture model" if info.get("source") == "mini" \
        else info.get("name", "another model")
    return (f"A transformer one vector at a time, every figure computed from a real forward pass of {what} "
            "(not GPT-2 124M).")


def figure_html(entry: dict, page_url: str, *, prompts_above=frozenset()) -> str:
    """A <figure> for one manifest entry: themed SVGs and/or an interactive Vega-Lite chart.

    `prompts_above`: the prompts earlier figures of the page printed; this one prints only the others. An entry
    with a `collapse` sentence (its figure found no contrast on this model) shows the sentence, the figure
    one click away in a collapsed block."""
    def url(fname: str) -> str:
        return html.escape(get_relative_url(f"{SITE_DIR}/figures/{fname}", page_url))

    fid, alt = entry["id"], html.escape(entry["alt"])
    parts = [f'<figure class="figgen-figure" id="fig-{html.escape(fid)}">']
    files = {f.rsplit("/", 1)[-1] for f in entry["files"]}  # manifest paths are figures/<name>
    for theme in ("light", "dark"):
        if f"{fid}.{theme}.svg" in files:
            img = f'<img src="{url(f"{fid}.{theme}.svg")}#only-{theme}" alt="{alt}" loading="lazy">'
            if entry.get("links"):  # links in an SVG work in an <object> (a document), not in an <img>
                img = (f'<object type="image/svg+xml" data="{url(f"{fid}.{theme}.svg")}#only-{theme}" '
                       f'aria-label="{alt}">{img}</object>')
            parts.append(img)
    if f"{fid}.vl.json" in files:
        fallback = "".join(
            f'<img src="{url(f"{fid}.vl.{t}.svg")}#only-{t}" alt="{alt}" loading="lazy">' for t in ("light", "dark")
        )
        # The chart as Vega, compiled per theme (figgen.js fetches the palette's); the Vega-Lite
        # source stays in the site beside it.
        parts.append(f'<div class="figgen-vega" data-spec-light="{url(f"{fid}.vg.light.json")}" '
                     f'data-spec-dark="{url(f"{fid}.vg.dark.json")}" data-source="{url(f"{fid}.vl.json")}" '
                     f'aria-label="{alt}">{fallback}</div>')
    prompts = ""
    new = [p for p in entry.get("prompts", ()) if p not in prompts_above]
    if new:  # a figure on its own prompts says which, under it (those an earlier figure named: not again)
        quoted = "; ".join(f"<q>{_text(p)}</q>" for p in new)
        label = ("Prompt" if len(new) == 1 else "Prompts") if len(new) == len(entry["prompts"]) else "Also"
        prompts = f'<span class="figgen-prompts"> {label}: {quoted}.</span>'
    full = ""
    if f"{fid}.light.svg" in files:  # on a phone a wide figure is small: it opens on its own, full size
        full = f' <a class="figgen-full" href="{url(f"{fid}.light.svg")}">Open full size</a>'
    title = entry["title"] if entry["title"][-1:] in ".?!" else entry["title"] + "."
    parts.append(f'<figcaption><strong>{html.escape(title)}</strong> '
                 f'{html.escape(entry["caption"])}{prompts}{full}</figcaption></figure>')
    block = "".join(parts)
    if entry.get("collapse"):
        block = (f'<p class="figgen-collapsed">{_text(entry["collapse"])}</p>'
                 f'<details class="figgen-details"><summary>{html.escape(entry["title"])}: the figure</summary>'
                 f'{block}</details>')
    # Blank lines around the block keep Markdown from wrapping it in <p>.
    return "\n\n" + block + "\n\n"


def _closest(name: str, known) -> str:
    """'; did you mean …?' naming the closest known ids, or ''."""
    import difflib

    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    return f"; did you mean {', '.join(close)}?" if close else ""


# --- claims --------------------------------------------------------------------------------------

STATUS_MARK = {"reproduced": "✓", "not reproduced": "✗", "not comparable": "∼", "other model": "○",
               "not computed": "…"}


def status_text(claim: dict) -> str:
    """A claim's status in words a reader reads right: a claim about a model this build did not trace is
    "about GPT-2 124M (not built here)", not a failure; an architecture identity checked on another model
    says it holds for any GPT-2-architecture model."""
    state = claim["status"]
    if state == "other model":
        return f"about {claim['about']}, not built here"
    if state == "reproduced" and claim.get("about", "").startswith("any ") and not claim.get("about_built", True):
        return "holds (for any GPT-2-architecture model)"
    return state


def status_html(claim: dict) -> str:
    return html.escape(f"{STATUS_MARK.get(claim['status'], '')} {status_text(claim)}")


def _claim_class(status: str) -> str:
    return "figgen-claim--" + status.replace(" ", "-")


def claim_working(claim: dict) -> str:
    """What a badge's number rests on: the test, the model, the prompts, the conventions (plain text)."""
    parts = [claim["test"] + ".", f"Claim about {claim['about']}; built here: {claim['model']}."]
    if claim.get("prompts"):
        parts.append("Prompts: " + "; ".join(f"“{p}”" for p in claim["prompts"]) + ".")
    if claim.get("conventions"):
        parts.append(claim["conventions"])
    if claim.get("not_comparable"):
        parts.append("Not compared: " + claim["not_comparable"])
    if claim.get("checked"):
        parts.append("Checked against " + claim["checked"])
    if (exact := _exact_value(claim)) is not None:
        parts.append(f"Value before rounding: {exact}.")
    return " ".join(parts)


def claim_badge(claim: dict, page_url: str, model: dict | None = None) -> str:
    """Inline badge: the source · published · the model built · status (a word and a mark, never colour alone).

    Its working shows on hover and keyboard focus, and it links to the claim's card on the Claims page.
    `model`: the manifest's model block, to name the model built ("this model" without it)."""
    e = html.escape
    link = e(get_relative_url("claims/", page_url) + f"#claim-{claim['id']}")
    name = model_label(model) if model else "this model"
    return (f'<span class="figgen-claim {_claim_class(claim["status"])}" tabindex="0">'
            f'<a href="{link}" class="figgen-claim__source" title="{e(claim["source"]["title"])}">'
            f'{e(claim["source"]["short"])}</a>: '
            f'<span class="figgen-claim__published">{_value_html(claim["published_text"])}</span> · '
            f'<span class="figgen-claim__computed">{e(name)} {_value_html(claim["computed_text"])}</span> · '
            f'<strong class="figgen-claim__status">{status_html(claim)}</strong>'
            f'<span class="figgen-claim__working" role="tooltip" data-search-exclude>{_text(claim_working(claim))}'
            '</span></span>')  # the working stays out of the search index: the Claims page has it, and every page loads the index


def model_label(info: dict) -> str:
    """The model built, named one way everywhere: "GPT-2 124M", "mini", or the hub/local name."""
    if info.get("is_gpt2_small"):
        return "GPT-2 124M"
    if info.get("source") == "mini":
        return "mini"
    return info.get("name", "this model").split("@")[0].rstrip("/").rsplit("/", 1)[-1] or "this model"


def compare_table(claims: list[dict], page_url: str, model: dict) -> str:
    """ "The post vs this model": one row per claim — what the source found (its short form), its value, this
    model's value and the status in words; each row links to the claim's working on the Claims page. When no
    claim is about the model built, the status is said once, under the table, instead of on every row."""
    e = html.escape
    sources = list(dict.fromkeys(c["source"]["short"] for c in claims))
    name = model_label(model)
    caption = f"{sources[0] if len(sources) == 1 else 'The sources'} vs {name}"
    one_status = all(c["status"] == "other model" for c in claims)
    rows = []
    for c in claims:
        link = e(get_relative_url("claims/", page_url) + f"#claim-{c['id']}")
        status = "" if one_status else (f'<td class="{_claim_class(c["status"])}"><strong>{status_html(c)}'
                                        "</strong></td>")
        rows.append(f'<tr><td>{_text(c.get("short") or c["statement"])} <a class="figgen-compare__how" href="{link}">'
                    f'how</a></td><td>{_value_html(c["published_text"])}</td><td>{_value_html(c["computed_text"])}</td>{status}</tr>')
    note = (f'<p class="figgen-compare__note">{STATUS_MARK["other model"]} These claims are about '
            f'{e(claims[0]["about"])}, not built here: this model\'s values are shown, not judged.</p>'
            if one_status else "")
    head = "" if one_status else "<th>Status</th>"
    table = (f'<table class="figgen-compare__table"><caption>{e(caption)}</caption>'
             f'<thead><tr><th>What the source found</th><th>Its value</th><th>{e(name)}</th>{head}</tr></thead>'
             "<tbody>" + "".join(rows) + f"</tbody></table>{note}")
    if one_status:  # nothing here is judged on this model: the comparison is one click away
        n = len(claims)
        summary = f"{caption}: {n} finding{'s' if n > 1 else ''} about {claims[0]['about']}, next to {name}'s values"
        return ("\n\n" f'<details class="figgen-compare"><summary>{e(summary)}</summary>{table}</details>\n\n')
    return "\n\n" f'<div class="figgen-compare">{table}</div>' "\n\n"


#: How the Claims page names each source (by its badge name, `source.short`): its heading, and how a card
#: labels the value the source published. A source not listed here is headed by its title.
SOURCE_NAMES = {"infographic": ("The infographic", "The infographic"),
                "logit lens post": ("The logit-lens post", "The post"),
                "McCormick": ("McCormick's post", "The post"),
                "Gould et al.": ("Gould et al.'s post", "The post")}
#: The statuses as the Claims page counts them, in words (a claim about a model not built is no failure).
SUMMARY_WORDS = {"reproduced": "reproduced", "not reproduced": "not reproduced", "not comparable": "not comparable",
                 "other model": "about a model not built here", "not computed": "not computed"}


def status_summary(claims: list[dict], *, every: bool = True) -> str:
    """'71 claims: ✓ 3 reproduced · ✗ 0 not reproduced · …' (HTML). `every`: the four main statuses even at 0
    ("not computed" only when some are); else only the statuses some claim has."""
    counts = {s: sum(c["status"] == s for c in claims) for s in SUMMARY_WORDS}
    shown = [s for s, n in counts.items() if n or (every and s != "not computed")]
    parts = [f'<span class="{_claim_class(s)}"><span class="figgen-claim__status">{STATUS_MARK[s]}</span> '
             f"{counts[s]} {SUMMARY_WORDS[s]}</span>" for s in shown]
    return f"{len(claims)} claim{'' if len(claims) == 1 else 's'}: " + " · ".join(parts)


def claims_table(claims: list[dict], page_url: str, model: dict | None = None) -> str:
    """The Claims page: the status counts, then a heading per source (in the registry's order) and a card per
    claim: its statement, the published value, the model built's value, the status in words, and its working
    (the test, the model, the prompts, the conventions, what it was checked against) collapsed. Each card keeps
    `id="claim-ID"`, which badges and compare tables link to. Cards wrap in the column at any width."""
    e = html.escape
    name = model_label(model) if model else "This model"
    by_source: dict[str, list[dict]] = {}
    for c in claims:
        by_source.setdefault(c["source"]["title"], []).append(c)
    out = ["\n\n" f'<p class="figgen-claims-summary">{status_summary(claims)}.</p>' "\n\n"]
    for title, group in by_source.items():
        src = group[0]["source"]
        heading, label = SOURCE_NAMES.get(src["short"], (src["title"], "The source"))
        cards = "".join(_claim_card(c, page_url, label, name) for c in group)
        out.append(f"## {_text(heading)}\n\n"
                   f'<div class="figgen-claims"><p class="figgen-claims__source"><a href="{e(src["url"])}">'
                   f'{e(title)}</a> · {status_summary(group, every=False)}</p>{cards}</div>\n\n')
    return "".join(out)


def _claim_card(c: dict, page_url: str, published_label: str, model_name: str) -> str:
    e = html.escape
    return (f'<div class="figgen-claim-card {_claim_class(c["status"])}" id="claim-{e(c["id"])}" '
            f'data-status="{e(c["status"])}">'
            f'<p class="figgen-claim-card__statement">{_text(c["statement"])}</p>'
            '<p class="figgen-claim-card__values">'
            f'<span><span class="figgen-claim-card__label">{e(published_label)}:</span> '
            f'{_value_html(c["published_text"])}</span> '
            f'<span><span class="figgen-claim-card__label">{e(model_name)}:</span> '
            f'{_value_html(c["computed_text"])}</span> '
            f'<strong class="figgen-claim__status">{status_html(c)}</strong></p>'
            f'<details class="figgen-claim-card__working" data-search-exclude><summary>How it is checked</summary>'
            f"{_working_html(c, page_url)}</details></div>")


def _working_html(c: dict, page_url: str) -> str:
    """A claim's working on the Claims page, item by item (every text through `_text`)."""
    from .figures.registry import PAGES

    e = html.escape
    items = [("Test", c["test"] + "."),
             ("Model", f"the claim is about {c['about']}; built here: {c['model']}.")]
    if c.get("prompts"):
        items.append(("Prompts", "; ".join(f"“{p}”" for p in c["prompts"])))
    if c.get("conventions"):
        items.append(("Conventions", c["conventions"]))
    if c.get("not_comparable"):
        items.append(("Not compared", c["not_comparable"]))
    if c.get("checked"):
        items.append(("Checked against", c["checked"]))
    if (exact := _exact_value(c)) is not None:
        items.append(("Value before rounding", exact))
    rows = [f"<li><strong>{e(k)}:</strong> {_text(v)}</li>" for k, v in items]
    src, page = c["source"], PAGES.get(c["section"])
    where = f'<a href="{e(src["url"])}">{e(src["title"])}</a>' + (f", “{_text(src['section'])}”" if src["section"] else "")
    if page:
        where += f' · shown on <a href="{e(get_relative_url(page, page_url))}">{e(c["section"])}</a>'
    rows.append(f'<li><strong>Source:</strong> {where} · claim <span class="figgen-claim-card__id">{e(c["id"])}</span></li>')
    return "<ul>" + "".join(rows) + "</ul>"


_MINUS = re.compile(r"(?<![\w.])-(?=\d)")


def _value_html(text: str) -> str:
    """A published or computed value as shown to a reader: a minus is "−", an empty list reads "none"."""
    text = str(text)
    if not text.replace(",", "").strip():
        text = "none"
    return _text(_MINUS.sub("−", text))


def _exact_value(c: dict) -> str | None:
    """The computed number as recorded (6 significant figures), when the claim's display rounds it (6e-07
    shown as 0.000): for the working, where exact values belong. None when the shown value is that."""
    value = c.get("computed")
    if not isinstance(value, float):
        return None
    exact = f"{value:.6g}"
    return None if exact == c.get("computed_text") else _MINUS.sub("−", exact)


def _text(value) -> str:
    """Untrusted text (token strings may be in it) for HTML inside Markdown: entities, as `_format`."""
    return _format(str(value), None)


def _lookup(data, key: str, ident: str):
    value = data
    for part in key.split("."):
        if isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise KeyError(f"figure {ident!r} has no data key {key!r}")
    return value


def _format(value, fmt: str | None) -> str:
    if fmt:
        try:
            text = format(value, fmt[1:])
        except (ValueError, TypeError):
            raise KeyError(f"format {fmt!r} does not apply to {value!r}") from None
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        text = str(value)
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = f"{value:.4g}"
    if isinstance(value, (int, float)) and not isinstance(value, bool) and text.startswith("-"):
        text = "−" + text[1:]  # a number's minus sign, not a hyphen
    # Token strings are untrusted: HTML's, Markdown's and math's special characters become numeric
    # entities, in one pass. "<b>" stays text, "*x*" is no emphasis, and "$x$" or "\\(x\\)" is no
    # math (arithmatex matches its delimiters even after a Markdown backslash escape).
    return "".join(_ENTITIES.get(ch, ch) for ch in text)


_ENTITIES = {ch: f"&#{ord(ch)};" for ch in "&<>\"'\\`*_{}[]()#+!$"}


def _vendored(cache: Path) -> dict[str, Path]:
    try:
        from .assets import vendor_assets
    except ImportError:  # assets module not present: the site then has no interactive charts
        return {}
    try:
        return vendor_assets(cache)
    except FiggenError as err:
        raise PluginError(f"figgen: {err}") from None
