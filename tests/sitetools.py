"""Building the real site for the tests: a copy of its sources, built once per session with mini."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ["mkdocs.yml", "docs", "overrides", "includes"]


def mkdocs_build(src: Path, dest: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """`mkdocs build --strict` of the project at `src` with mini, as `tasks.py site` runs it."""
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(src / "mkdocs.yml"), "-d", str(dest)],
        cwd=src, env={**os.environ, "FIGGEN_MODEL": "mini", "NO_MKDOCS_2_WARNING": "1", **(env or {})},
        capture_output=True, text=True, timeout=900,
    )


def copy_project(dest: Path, site_url: str | None = None) -> Path:
    """A copy of the site's sources sharing the repo's cache (so later builds are cache hits).

    `site_url` is written into the copy's mkdocs.yml: Material's instant navigation only takes
    over links listed in sitemap.xml, which is empty without it."""
    for name in SOURCES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name)
        elif src.is_file():
            shutil.copy(src, dest / name)
    if site_url:  # in place of the config's own (environment-set) site_url line
        config = dest / "mkdocs.yml"
        lines = [line for line in config.read_text(encoding="utf-8").splitlines(keepends=True)
                 if not line.startswith("site_url:")]
        config.write_text(f"site_url: {site_url}\n" + "".join(lines), encoding="utf-8")
    cache = ROOT / ".cache"
    cache.mkdir(exist_ok=True)
    (dest / ".cache").symlink_to(cache)
    return dest
