"""Browser assets served by the site itself (no CDN at view time), vendored from npm at build time.

Each package is a pinned npm tarball, checked against the registry's sha512 integrity string,
cached under the build cache (later builds are offline), and only the files the site needs are
extracted. `vendor_assets(cache)` maps site paths to the cached files for the MkDocs plugin.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import urllib.request
from pathlib import Path

from .errors import FiggenError
from .figures.save import atomic_write

REGISTRY = "https://registry.npmjs.org"

#: name → (version, sha512 integrity, {file inside the tarball ("package/…") or folder/: site path})
#: Vega 6.2.0, Vega-Lite 6.4.1 and vega-embed 7.0.2 are what vl-convert 1.9.0 bundles (it draws the
#: static fallbacks), so a chart and its fallback come from the same code. Not vega 6.3.0: its build
#: files report version 5.33.1, and vega-embed then warns on every chart that the v6 spec Vega-Lite
#: compiles needs a newer Vega (tests/test_assets.py checks the version the build reports).
PACKAGES: dict[str, tuple[str, str, dict[str, str]]] = {
    "vega": ("6.2.0", "sha512-BIwalIcEGysJdQDjeVUmMWB3e50jPDNAMfLJscjEvpunU9bSt7X1OYnQxkg3uBwuRRI4nWfFZO9uIW910nLeGw==",
             {"package/build/vega.min.js": "assets/vendor/vega/vega.min.js",
              "package/LICENSE": "assets/vendor/vega/LICENSE"}),
    "vega-lite": ("6.4.1", "sha512-KO3ybHNouRK4A0al/+2fN9UqgTEfxrd/ntGLY933Hg5UOYotDVQdshR3zn7OfXwQ7uj0W96Vfa5R+QxO8am3IQ==",
                  {"package/build/vega-lite.min.js": "assets/vendor/vega-lite/vega-lite.min.js",
                   "package/LICENSE": "assets/vendor/vega-lite/LICENSE"}),
    "vega-embed": ("7.0.2", "sha512-ZHQPWSs9mUTGJPZ5yQVhHV+OLDCoTIjR//De93vG6igZX1MQCVo03ePWlfWCUAnPV1IsKfeJLqA3K/Qd11bAFQ==",
                   {"package/build/vega-embed.min.js": "assets/vendor/vega-embed/vega-embed.min.js",
                    "package/LICENSE": "assets/vendor/vega-embed/LICENSE"}),
    "katex": ("0.19.1", "sha512-jG8uKntjSEcm2EpQOh0XturpPuuC9r3Sq5HLHdsFdWZT27E672SF19QEi+of0/YeOy15lDgRhKvr5614uRrEfA==",
              {"package/dist/katex.min.js": "assets/vendor/katex/katex.min.js",
               "package/dist/katex.min.css": "assets/vendor/katex/katex.min.css",
               "package/dist/contrib/auto-render.min.js": "assets/vendor/katex/contrib/auto-render.min.js",
               "package/dist/fonts/": "assets/vendor/katex/fonts/",
               "package/LICENSE": "assets/vendor/katex/LICENSE"}),
}


def vendor_assets(cache: Path) -> dict[str, Path]:
    """Site path → local file for every vendored asset, downloading what the cache lacks."""
    out: dict[str, Path] = {}
    for name, (version, integrity, wanted) in PACKAGES.items():
        root = Path(cache) / f"{name}-{version}"
        stamp = root / ".complete"
        if not stamp.is_file():
            _extract(_tarball(name, version, integrity), wanted, root)
            atomic_write(stamp, integrity.encode())
        for dest in wanted.values():
            target = root / dest
            if dest.endswith("/"):
                for f in sorted(target.iterdir()):
                    if f.suffix == ".woff2":  # every browser the site targets reads woff2
                        out[dest + f.name] = f
            else:
                out[dest] = target
    return out


def _tarball(name: str, version: str, integrity: str) -> bytes:
    url = f"{REGISTRY}/{name}/-/{name.split('/')[-1]}-{version}.tgz"
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            data = response.read()
    except OSError as err:
        raise FiggenError(f"could not download {name}@{version} from the npm registry ({err}); "
                          "the site's scripts are fetched once and then cached") from None
    check_integrity(data, integrity, f"{name}@{version}")
    return data


def check_integrity(data: bytes, integrity: str, what: str) -> None:
    algo, _, expected = integrity.partition("-")
    actual = base64.b64encode(hashlib.new(algo, data).digest()).decode()
    if actual != expected:
        raise FiggenError(f"{what}: checksum mismatch (expected {integrity}, got {algo}-{actual}); refusing it")


def _extract(data: bytes, wanted: dict[str, str], root: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            for src, dest in wanted.items():
                if member.name == src or (src.endswith("/") and member.name.startswith(src)
                                          and "/" not in member.name[len(src):]):
                    target = dest + member.name[len(src):] if src.endswith("/") else dest
                    atomic_write(root / target, tar.extractfile(member).read())
