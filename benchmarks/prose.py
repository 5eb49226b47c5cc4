"""What a reader meets in the site's prose: audit notation, the word "seed", claim badges in sentences.

    .venv/bin/python benchmarks/prose.py [--site DIR] [--examples N]

Without --site, builds the site first (`mkdocs build --strict`, $FIGGEN_MODEL or mini, this checkout's
figgen) into a temp folder, as `benchmarks/page_weight.py` does. Every page is opened in headless
Chromium at 1280 px and its article read as rendered (`tests.chromium.PROSE`): text inside a collapsed
<details> block (its summary excepted), in figures and charts, in code blocks and notebook code cells (their outputs too), and
anything not displayed (a badge's working before hover) is left out. Counted per page:

- sci: numbers in scientific notation (1.6e-06, 3e-7, 2 × 10⁻⁶);
- 4dp: numbers with four or more decimals (0.5869);
- seed: the word "seed(s)";
- other: claim badges whose status says "other model" or "not built here";
- inline: claim badges inside a sentence (a <p> or <li> with text of its own besides the badge);
- words: the reader text's word count;

then the totals, the day-circuit page's height and word count, and the Claims page at 1280 and at 390 px:
the width its claims take (scrollWidth of `.figgen-claims`), the widest box in the article and the
article's width (`tests.chromium.FIT`), and the page's height. With --examples N, the first N matches of
each kind are printed under each page. Needs Debian's `chromium`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from page_weight import build as build_site  # noqa: E402

from tests.chromium import FIT, PROSE, Browser, SiteServer, find_chromium, site_pages  # noqa: E402

DAY_CIRCUIT = "deep-dives/day-circuit/"
CLAIMS = "claims/"
WIDTHS = (1280, 390)
KINDS = ("sci", "decimals", "seed", "other", "inline")


def build(dest: Path) -> None:
    """The site, built with this checkout's figgen (not whichever one the interpreter has installed)."""
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    build_site(dest)


def counts(prose: dict) -> dict[str, int]:
    other = [s for s in prose["badges"] if "other model" in s or "not built here" in s]
    return {"sci": len(prose["sci"]), "decimals": len(prose["decimals"]), "seed": len(prose["seed"]),
            "other": len(other), "inline": len(prose["inline_badges"]), "words": prose["words"]}


def measure(site: Path) -> tuple[dict[str, dict], dict[int, dict]]:
    """(page → PROSE at 1280 px, width → FIT of the Claims page)."""
    pages, fit = {}, {}
    with SiteServer() as server, Browser() as browser:
        base = server.start(site)
        browser.viewport(1280)
        for page in site_pages(site):
            browser.goto(base + page)
            browser.settle()
            pages[page] = browser.evaluate(PROSE)
        if CLAIMS in pages:
            for width in WIDTHS:
                browser.viewport(width)
                browser.goto(base + CLAIMS)
                browser.settle()
                fit[width] = browser.evaluate(FIT)
    return pages, fit


def report(pages: dict[str, dict], fit: dict[int, dict], examples: int = 0) -> str:
    lines = [f"{'page':<36} {'sci':>5} {'4dp':>5} {'seed':>5} {'other':>6} {'inline':>7} {'words':>7}"]
    total = dict.fromkeys((*KINDS, "words"), 0)
    for page, prose in pages.items():
        c = counts(prose)
        for k in total:
            total[k] += c[k]
        lines.append(f"{'/' + page:<36} {c['sci']:>5} {c['decimals']:>5} {c['seed']:>5} {c['other']:>6} "
                     f"{c['inline']:>7} {c['words']:>7,}")
        if examples:
            for key, label in (("sci", "sci"), ("decimals", "4dp"), ("seed", "seed"), ("inline_badges", "inline")):
                for text in prose[key][:examples]:
                    lines.append(f"    {label}: …{text}…")
    lines.append(f"{'total (' + str(len(pages)) + ' pages)':<36} {total['sci']:>5} {total['decimals']:>5} "
                 f"{total['seed']:>5} {total['other']:>6} {total['inline']:>7} {total['words']:>7,}")
    with_any = {k: sum(1 for p in pages.values() if counts(p)[k]) for k in KINDS}
    lines.append("pages with any: " + ", ".join(f"{k} {n}" for k, n in with_any.items()))
    if DAY_CIRCUIT in pages:
        day = pages[DAY_CIRCUIT]
        lines.append(f"day-circuit page (/{DAY_CIRCUIT}) at 1280 px: {day['height']:,} px tall, "
                     f"{day['words']:,} words of reader text")
    for width, f in fit.items():
        fits = "fits" if f["widest"] <= f["article"] + 1 and f["page"] <= f["window"] + 1 else "OVERFLOWS"
        lines.append(f"Claims page at {width} px: claims {f['claims']:,} px wide, widest box {f['widest']:,} px "
                     f"({f['widest_element']}), article {f['article']:,} px, page {f['page']:,} px in a "
                     f"{f['window']:,} px window, {f['height']:,} px tall: {fits}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, help="an already built site (default: build one)")
    parser.add_argument("--examples", type=int, default=0, metavar="N",
                        help="print the first N matches of each kind under each page")
    opts = parser.parse_args(argv)
    if find_chromium() is None:
        print("prose: no Chromium found (apt-get install chromium)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        site = opts.site
        if site is None:
            site = Path(tmp) / "site"
            build(site)
        pages, fit = measure(site)
    print(report(pages, fit, opts.examples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
