"""Smallest rendered text per figure in the ~690 px content column, from a build's manifest.

    python benchmarks/legibility.py [BUILD_DIR]     (default: .cache/figgen/site, the site's build)

Static figures only (SVG files: matplotlib figures and the Vega-Lite fallbacks); the interactive
charts are measured in the browser test. Prints one line per SVG, smallest first, and a summary.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from figgen.legibility import MIN_TEXT_PX, text_size


def main(argv: list[str]) -> int:
    folder = Path(argv[0] if argv else ".cache/figgen/site")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    rows = []
    for entry in manifest["figures"]:
        for name in entry["files"]:
            if name.endswith(".light.svg"):
                size = text_size((folder / name).read_bytes())
                rows.append((size.smallest_px if size.smallest_px is not None else 99.0, name, size))
    rows.sort()
    for px, name, size in rows:
        shown = "no text" if size.smallest_px is None else f"{px:5.1f} px"
        print(f"{shown}  natural {size.natural_px:6.0f} px  {name}  ({size.sample!r})")
    small = [r for r in rows if r[0] < MIN_TEXT_PX]
    print(f"{len(small)} of {len(rows)} static figures have text under {MIN_TEXT_PX:g} px; "
          f"smallest {rows[0][0]:.1f} px ({rows[0][1]})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
