"""Bytes each page of the site transfers when opened in headless Chromium with an empty cache.

    .venv/bin/python benchmarks/page_weight.py [--site DIR]

Without --site, builds the site first (`mkdocs build --strict`, $FIGGEN_MODEL or mini) into a temp
folder. The site is served from 127.0.0.1 twice: as Python's http.server sends files (identity,
as the page-weight budget was first measured) and gzip-compressed (as GitHub Pages serves text
files). Each page is loaded at 1280 × 900 with the browser cache disabled and measured once its
charts and math have rendered and the network has been idle for 0.5 s: the sum over its requests
of DevTools' `encodedDataLength` (body as sent plus headers: the Network panel's "transferred").
Lazy images below the fold are not loaded, as on a real first view. Budget: 1.0 MB a page, 2 MB
for the Introduction (the poster). Also lists which of the big libraries each page loaded.
Needs Debian's `chromium`.
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


def measure(site: Path, *, compress: bool) -> dict[str, tuple[int, int, list[str], list[str]]]:
    """page → (bytes transferred, requests, libraries loaded, problems)."""
    rows = {}
    with SiteServer(compress=compress) as server, Browser() as browser:
        base = server.start(site)
        browser.call("Network.setCacheDisabled", cacheDisabled=True)
        for page in site_pages(site):
            browser.goto(base + page)
            rendered = browser.wait_for(RENDERED, until_error=True)
            browser.settle()
            visit = browser.visit()
            libraries = [name for name, part in LIBRARIES.items() if any(part in r.url for r in visit.requests)]
            problems = visit.errors() + ([] if rendered else ["charts or math not rendered"])
            rows[page] = (visit.transferred, len(visit.requests), libraries, problems)
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

    print(f"{'page':<32} {'identity B':>13} {'gzip B':>13} {'requests':>8}  loads")
    for page, (size, n, libraries, problems) in raw.items():
        print(f"{'/' + page:<32} {mark(size, page)} {mark(packed[page][0], page)} {n:>8}  {' '.join(libraries) or '-'}")
        for p in problems + packed[page][3]:
            print(f"    ! {p}")
    for name, rows in (("identity", raw), ("gzip", packed)):
        sizes = sorted(size for size, *_ in rows.values())
        over = [p for p, (size, *_) in rows.items() if size > BUDGET.get(p, DEFAULT_BUDGET)]
        print(f"{name}: {len(sizes)} pages, min {sizes[0]:,} B, median {sizes[len(sizes) // 2]:,} B, "
              f"max {sizes[-1]:,} B; over budget (!): {len(over)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
