"""The built site in a real browser: Debian's headless Chromium, driven over the DevTools protocol.

Every page is opened from a local server (the session's site, built once with mini; conftest.py).
At first view (no interaction yet) it shows every chart's static fallback and loads no Vega (figgen.js
waits for the reader); math is typeset in the HTML (KaTeX at build time) and styled by KaTeX's CSS,
with no KaTeX script. After one turn of the mouse wheel it must render without a JavaScript exception,
console error or warning, failed request or 4xx; with every chart drawn (an SVG or canvas in each
`.figgen-vega`), all math typeset and no `.katex-error`; with no request leaving 127.0.0.1; and
loading Vega only where the page has a chart. Then the whole site is walked by clicking "Next"
(Material's instant navigation, no reload), and every page reached that way must render as well.
What a reader reads is checked too: no claim badge inside a sentence and no scientific notation in the
text outside collapsed blocks, on any page; the Claims page fits its column at 1280 and at 390 px.
"""

from __future__ import annotations

import pytest

from .chromium import FIT, PROSE, RENDERED, Browser, find_chromium, site_pages

pytest.importorskip("websocket", reason="websocket-client is a dev dependency (pip install -e .[dev])")
pytestmark = pytest.mark.skipif(
    find_chromium() is None,
    reason="no Chromium: `apt-get install chromium` (.ci/run installs it) to run the browser tests")

#: What a page shows once its scripts have run (evaluated in the page).
FACTS = """(() => {
  const all = (s) => [...document.querySelectorAll(s)];
  return {
    charts: all('.figgen-vega').length,
    drawn: all('.figgen-vega')
      .filter((el) => el.querySelector('.figgen-vega-chart svg, .figgen-vega-chart canvas')).length,
    math: all('.arithmatex').length,
    typeset: all('.arithmatex').filter((el) => el.querySelector('.katex')).length,
    katex_errors: all('.katex-error').length,
    katex_styled: all('.katex').every((el) => getComputedStyle(el).fontFamily.includes('KaTeX')),
    scheme: document.body.getAttribute('data-md-color-scheme'),
    // Charts still showing their static fallback (an <img> of the palette's SVG, not hidden).
    fallbacks: all('.figgen-vega').filter((el) => !el.querySelector('.figgen-vega-chart')
      && [...el.querySelectorAll('img')].some((img) => getComputedStyle(img).display !== 'none')).length,
    // Smallest chart text as rendered: font size × how much the chart's SVG is scaled on the page.
    // (Charts inside a closed <details> — a figure collapsed into its sentence — are not shown, so not measured.)
    chart_text_px: Math.min(Infinity, ...all('.figgen-vega-chart svg')
      .filter((svg) => svg.getBoundingClientRect().width > 0).flatMap((svg) => {
      const scale = svg.getBoundingClientRect().width / svg.width.baseVal.value;
      return [...svg.querySelectorAll('text')]
        .filter((t) => t.textContent.trim() && t.getBoundingClientRect().width > 0)
        .map((t) => parseFloat(getComputedStyle(t).fontSize) * scale);
    })),
    // Text colour of the chart axes and legends against the page: the theme's ink, not a fixed one.
    axis_ink: all('.figgen-vega-chart svg .role-axis-label text, .figgen-vega-chart svg .role-legend-label text')
      .map((t) => getComputedStyle(t).fill).filter((v, i, a) => a.indexOf(v) === i),
  };
})()"""


@pytest.fixture(scope="module")
def base(site, site_server) -> str:
    return site_server.start(site)


@pytest.fixture(scope="module")
def browser():
    with Browser() as b:
        yield b


def engage(browser: Browser) -> None:
    """The reader's first interaction: a turn of the mouse wheel (a real input event) in the top-left
    corner, away from any chart. figgen.js then loads Vega and draws the page's charts."""
    browser.call("Input.dispatchMouseEvent", type="mouseWheel", x=1, y=1, deltaX=0, deltaY=0)


def open_page(browser: Browser, url: str) -> dict:
    """Open `url` afresh and return its facts at first view; then engage and wait for the charts."""
    browser.goto(url)
    browser.settle()
    first = browser.evaluate(FACTS)
    visit = browser.visit()
    first["requests"], first["bytes"] = [r.url for r in visit.requests], visit.transferred
    engage(browser)
    browser.wait_for(RENDERED, timeout=30, until_error=True)
    browser.settle()
    return first


@pytest.fixture(scope="module")
def loads(site, base, browser) -> dict:
    """page → (facts, visit, facts at first view) for a fresh load of every page, with an empty cache
    (so the bytes are what a first visit transfers). The facts include `prose`: what a reader reads on
    the page (tests/chromium.py's PROSE)."""
    out = {}
    browser.call("Network.setCacheDisabled", cacheDisabled=True)
    try:
        for page in site_pages(site):
            first = open_page(browser, base + page)
            facts = browser.evaluate(FACTS)
            facts["prose"] = browser.evaluate(PROSE)
            out[page] = (facts, browser.visit(), first)
    finally:
        browser.call("Network.setCacheDisabled", cacheDisabled=False)
    return out


#: The page-weight budget at first view (benchmarks/page_weight.py prints the details): every page
#: ≤ 1.0 MB transferred, the Introduction (the poster) ≤ 2 MB, as Python's http.server sends them.
BUDGET, INTRODUCTION_BUDGET = 1_000_000, 2_000_000


def test_first_view_is_within_the_page_weight_budget(loads):
    over = {page: first["bytes"] for page, (_, _, first) in loads.items()
            if first["bytes"] > (INTRODUCTION_BUDGET if page == "" else BUDGET)}
    assert not over, over
    assert all(first["bytes"] > 100_000 for _, _, first in loads.values())  # the bytes were counted


def rendering_problems(facts: dict) -> list[str]:
    problems = []
    if facts["drawn"] < facts["charts"]:
        problems.append(f"{facts['charts'] - facts['drawn']} of {facts['charts']} charts not drawn")
    if facts["typeset"] < facts["math"]:
        problems.append(f"{facts['math'] - facts['typeset']} of {facts['math']} math elements not typeset")
    if facts["katex_errors"]:
        problems.append(f"{facts['katex_errors']} KaTeX errors")
    if not facts["katex_styled"]:
        problems.append("math without KaTeX's stylesheet")
    return problems


def test_every_page_loads_without_errors(loads):
    failures = {page: visit.errors() for page, (_, visit, _) in loads.items() if visit.errors()}
    assert not failures, failures


def test_every_chart_and_formula_renders(loads):
    failures = {page: rendering_problems(facts) for page, (facts, *_) in loads.items() if rendering_problems(facts)}
    assert not failures, failures
    assert sum(f["charts"] for f, *_ in loads.values()) > 0 and sum(f["math"] for f, *_ in loads.values()) > 0


def test_no_request_leaves_the_site(loads, base):
    outside = {page: [r.url for r in visit.requests if not r.url.startswith(base)]
               for page, (_, visit, _) in loads.items()}
    assert not any(outside.values()), {p: u for p, u in outside.items() if u}


def test_libraries_load_only_where_needed(loads):
    """Vega only on pages with a chart, and only once the reader engages (never twice on a page);
    no KaTeX script anywhere (math is typeset at build time), KaTeX's CSS only where there is math."""
    for page, (facts, visit, first) in loads.items():
        urls = [r.url for r in visit.requests]
        vega = [u for u in urls if "/assets/vendor/vega" in u]
        katex_js = [u for u in urls if "/assets/vendor/katex/" in u and u.endswith(".js")]
        katex_css = [u for u in urls if u.endswith("/assets/vendor/katex/katex.min.css")]
        assert bool(vega) == bool(facts["charts"]), (page, facts, vega)
        assert not katex_js, (page, katex_js)
        assert bool(katex_css) == bool(facts["math"]), (page, facts, katex_css)
        twice = {u for u in vega + katex_css if urls.count(u) > 1}
        assert not twice, (page, twice)
        # First view: no Vega yet; each chart shows its static fallback; the math is already typeset.
        assert not [u for u in first["requests"] if "/assets/vendor/vega" in u], page
        assert first["drawn"] == 0 and first["fallbacks"] == first["charts"], (page, first)
        assert first["typeset"] == first["math"] and first["katex_styled"], (page, first)
    # Some page needs neither library, and loads neither (the loader is lazy, not merely correct).
    light = [p for p, (f, *_) in loads.items() if not f["charts"] and not f["math"]]
    assert light and not any("/assets/vendor/" in r.url for r in loads[light[0]][1].requests), light


def test_instant_navigation_renders_every_page(site, base, browser):
    """From the Introduction, click "Next" to the last page: each page arrives without a reload
    (a marker set on the first page survives) and draws its charts and math."""
    expected = site_pages(site)
    browser.goto(base)
    assert browser.wait_for(RENDERED)
    browser.evaluate("window.__figgenNoReload = true")
    reached, failures = [""], {}
    while browser.evaluate("!!document.querySelector('a.md-footer__link--next')"):
        before = browser.evaluate("location.pathname")
        browser.evaluate("document.querySelector('article').__figgenOld = true")
        browser.mark()
        browser.evaluate("document.querySelector('a.md-footer__link--next').click()")
        # The address changes on click; the content when the next page has arrived and replaced it.
        assert browser.wait_for("!document.querySelector('article').__figgenOld"), f"stuck after {before}"
        path = browser.evaluate("location.pathname").removeprefix("/")
        browser.wait_for(RENDERED, timeout=30, until_error=True)
        browser.settle()
        problems = browser.visit().errors() + rendering_problems(browser.evaluate(FACTS))
        if not browser.evaluate("window.__figgenNoReload === true"):
            problems.append("the page was reloaded (instant navigation did not take the click)")
        if problems:
            failures[path] = problems
        reached.append(path)
    assert not failures, failures
    assert sorted(reached) == expected, "the Next links do not walk every page once"


def test_chart_text_is_legible_at_1280(loads):
    """At a 1280 px window every chart's smallest text renders at ≥ 10 px (the static figures are
    measured from their SVGs: tests/test_legibility.py)."""
    small = {page: round(f["chart_text_px"], 1) for page, (f, *_) in loads.items()
             if f["charts"] and f["chart_text_px"] < 10}
    assert not small, small


def test_palette_toggle_redraws_charts(base, browser):
    """Switching the palette redraws every chart (from the spec compiled for the other palette), without errors."""
    toggle = "document.querySelector('form[data-md-component=palette] label:not([hidden])').click()"
    open_page(browser, base + "output/decoding/")
    assert browser.wait_for(RENDERED)
    scheme = browser.evaluate(FACTS)["scheme"]
    browser.evaluate("document.querySelectorAll('.figgen-vega-chart').forEach((el) => (el.__figgenOld = true))")
    browser.mark()
    browser.evaluate(toggle)
    assert browser.wait_for(f"document.body.getAttribute('data-md-color-scheme') !== {scheme!r}")
    redrawn = ("[...document.querySelectorAll('.figgen-vega')].every((el) => {"
               " const c = el.querySelector('.figgen-vega-chart');"
               " return c && !c.__figgenOld && c.querySelector('svg'); })")
    assert browser.wait_for(redrawn), "charts not redrawn after the palette switch"
    browser.settle()
    facts = browser.evaluate(FACTS)
    assert not rendering_problems(facts)
    assert not browser.visit().errors()
    # In the dark palette the charts' text is light (the theme's ink), and still ≥ 10 px.
    assert facts["axis_ink"] and all(_luminance(c) > 0.5 for c in facts["axis_ink"]), facts["axis_ink"]
    assert facts["chart_text_px"] >= 10, facts["chart_text_px"]
    browser.evaluate(toggle)  # back, for any later test


def _luminance(css: str) -> float:
    """Relative luminance of an rgb(…) colour, 0 (black) to 1 (white)."""
    import re

    r, g, b = (int(v) / 255 for v in re.findall(r"\d+", css)[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_nothing_scrolls_sideways_on_a_phone(site, base):
    """At 390 px (a phone) no page is wider than the screen: wide figures shrink to the column (and open
    full size from their caption), wide charts scroll inside their own box at most."""
    wide = {}
    with Browser(width=390, height=800) as phone:
        for page in site_pages(site):
            open_page(phone, base + page)
            width = phone.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            if width[0] > width[1] + 1:
                wide[page] = width
    assert not wide, wide


def test_claims_page_fits_its_column(base, browser):
    """At 1280 px and at 390 px (the page laid out at that width through DevTools' device emulation) no box
    on the Claims page is wider than the article, as it opens (each claim's working collapsed) and with every
    working opened: its claims wrap in the column, nothing scrolls sideways."""
    try:
        for width in (1280, 390):
            browser.viewport(width)
            browser.goto(base + "claims/")
            browser.settle()
            for state in ("collapsed", "opened"):
                fit = browser.evaluate(FIT)
                where = (width, state, fit)
                assert fit["window"] == width and 0 < fit["claims"] <= fit["article"] + 1, where
                assert fit["widest"] <= fit["article"] + 1, where
                assert fit["page"] <= fit["window"] + 1, where
                opened = "[...document.querySelectorAll('.figgen-claims details')].map((d) => { d.open = true; })"
                assert state == "opened" or browser.evaluate(opened + ".length"), "no working to open"
    finally:
        browser.viewport(None)


def test_no_claim_badge_inside_a_sentence(loads):
    """A comparison with a source sits in a "the post vs this model" table at the end of its section, never as
    a badge inside a running sentence (a <p> or <li> with words of its own), on any page."""
    inline = {page: f["prose"]["inline_badges"] for page, (f, *_) in loads.items() if f["prose"]["inline_badges"]}
    assert not inline, "badges inside a sentence:\n" + _by_page(inline)


def test_no_scientific_notation_in_what_a_reader_reads(loads):
    """Numbers a reader reads (outside collapsed "How this was computed" blocks, figures and code) are written
    out: 1.6e-06 or 2 × 10⁻⁶ is for the blocks and the data downloads."""
    sci = {page: f["prose"]["sci"] for page, (f, *_) in loads.items() if f["prose"]["sci"]}
    assert not sci, "scientific notation outside collapsed blocks:\n" + _by_page(sci)
    assert sum(f["prose"]["words"] for f, *_ in loads.values()) > 1000  # the text was read


def _by_page(found: dict[str, list[str]]) -> str:
    """A line per page: how many, and the first match in its context."""
    return "\n".join(f"/{page}: {len(items)}, e.g. …{items[0]}…" for page, items in found.items())
