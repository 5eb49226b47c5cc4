"""Bytes each page of the site transfers when opened in headless Chromium with an empty cache.

    .venv/bin/python benchmarks/page_weight.py [--site DIR]

Without --site, builds the site first (`mkdocs build --strict`, $FIGGEN_MODEL or mini) into a temp
folder. The site is served from 127.0.0.1 twice: as Python's http.server sends files (identity,
as the page-weight budget was first measured) and gzip-compressed (as GitHub Pages serves text
files). Each page is loaded at 1280 × 900 with the browser cache disabled and measured twice:

- first view: once the page has loaded and the network has been idle for 0.5 s, before any
  interaction (math is typeset at build time; charts show their static fallbacks: figgen.js loads
  Vega on the reader's first interaction). The budget applies to this: 1.0 MB a page, 2 MB for
  the Introduction (the poster).
- engaged: after one turn of the mouse wheel, once every chart has been drawn and the network is idle again
  (what a page costs a reader who uses its charts; no budget).

Bytes are the sum over requests of DevTools' `encodedDataLength` (body as sent plus headers: the
Network panel's "transferred"). Lazy images below the fold are not loaded, as on a real first view.
Also lists which of the big libraries each page loaded in the end. Needs Debian's `chromium`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.chromium import RENDERED, Browser, SiteServer, find_chromium, site_pages  # noqa: E402

MB = 1_000_000
BUDGET = {"": 2 * MB}  # the Introduction (the poster); every other page: DEFAULT_BUDGET
DEFAULT_BUDGET = 1 * MB
LIBRARIES = {"vega": "/assets/vendor/vega/", "katex": "/assets/vendor/katex/"}


def build(dest: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    env.setdefault("FIGGEN_MODEL", "mini")
    env.setdefault("HF_HUB_OFFLINE", "1")
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(dest)],
                   cwd=ROOT, env=env, check=True)


def engage(browser: Browser) -> None:
    """A reader's first interaction: one turn of the mouse wheel (figgen.js then draws the charts), in
    the top-left corner, so the pointer rests on no chart when the next page loads."""
    browser.call("Input.dispatchMouseEvent", type="mouseWheel", x=1, y=1, deltaX=0, deltaY=1)


def measure(site: Path, *, compress: bool) -> dict[str, tuple[int, int, int, list[str], list[str]]]:
    """page → (bytes at first view, bytes engaged, requests engaged, libraries loaded, problems)."""
    rows = {}
    with SiteServer(compress=compress) as server, Browser() as browser:
        base = server.start(site)
        browser.call("Network.setCacheDisabled", cacheDisabled=True)
        for page in site_pages(site):
            browser.goto(base + page)  # a fresh document: nothing engaged yet
            browser.settle()
            first = browser.visit().transferred
            engage(browser)
            rendered = browser.wait_for(RENDERED, until_error=True)
            browser.settle()
            visit = browser.visit()
            libraries = [name for name, part in LIBRARIES.items() if any(part in r.url for r in visit.requests)]
            problems = visit.errors() + ([] if rendered else ["charts or math not rendered"])
            rows[page] = (first, visit.transferred, len(visit.requests), libraries, problems)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, help="an already built site (default: build one)")
    opts = parser.parse_args(argv)
    if find_chromium() is None:
        print("page_weight: no Chromium found (apt-get install chromium)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        site = opts.site
        if site is None:
            site = Path(tmp) / "site"
            build(site)
        raw = measure(site, compress=False)
        packed = measure(site, compress=True)

    def mark(size: int, page: str) -> str:
        return f"{size:>11,} {' ' if size <= BUDGET.get(page, DEFAULT_BUDGET) else '!'}"

    print(f"{'':<32} {'first view (budget)':^27} {'engaged (charts drawn)':^27}")
    print(f"{'page':<32} {'identity B':>13} {'gzip B':>13} {'identity B':>13} {'gzip B':>13} {'requests':>8}  loads")
    for page, (first, size, n, libraries, problems) in raw.items():
        print(f"{'/' + page:<32} {mark(first, page)} {mark(packed[page][0], page)} "
              f"{size:>13,} {packed[page][1]:>13,} {n:>8}  {' '.join(libraries) or '-'}")
        for p in problems + packed[page][4]:
            print(f"    ! {p}")
    for name, rows in (("identity", raw), ("gzip", packed)):
        for col, label in ((0, "first view"), (1, "engaged")):
            sizes = sorted(row[col] for row in rows.values())
            over = [p for p, row in rows.items() if row[col] > BUDGET.get(p, DEFAULT_BUDGET)]
            print(f"{name}, {label}: {len(sizes)} pages, min {sizes[0]:,} B, median {sizes[len(sizes) // 2]:,} B, "
                  f"max {sizes[-1]:,} B; " + (f"over budget (!): {len(over)}" if col == 0
                                              else f"over the first-view budget (not a budget here): {len(over)}"))
    over = [p for p, row in raw.items() if row[0] > BUDGET.get(p, DEFAULT_BUDGET)]
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
