"""Browser assets served by the site itself (no CDN at view time), vendored from npm at build time.

Each package is a pinned npm tarball, checked against the registry's sha512 integrity string,
cached under the build cache (later builds are offline), and only the files the site needs are
extracted. `vendor_assets(cache)` maps site paths to the cached files for the MkDocs plugin;
`katex_script(cache)` is KaTeX's script, which only the build runs (figgen/katex.py typesets the
math into the pages), so it is not published.
"""

from __future__ import annotations

import base64
import hashlib
import json
import io
import tarfile
import urllib.request
from pathlib import Path

from .errors import FiggenError
from .figures.save import atomic_write

REGISTRY = "https://registry.npmjs.org"

#: name → (version, sha512 integrity, {file inside the tarball ("package/…") or folder/: site path})
#: Vega 6.2.0 and vega-embed 7.0.2 are what vl-convert 1.9.0 bundles (it compiles the charts from
#: Vega-Lite 6.4 and draws their static fallbacks: figgen/figures/save.py), so a chart and its fallback
#: come from the same code; pages load no Vega-Lite. Not vega 6.3.0: its build files report version
#: 5.33.1, and vega-embed then warns on every chart that its v6 spec needs a newer Vega
#: (tests/test_assets.py checks the version the build reports). KaTeX's script runs only at build time.
PACKAGES: dict[str, tuple[str, str, dict[str, str]]] = {
    "vega": ("6.2.0", "sha512-BIwalIcEGysJdQDjeVUmMWB3e50jPDNAMfLJscjEvpunU9bSt7X1OYnQxkg3uBwuRRI4nWfFZO9uIW910nLeGw==",
             {"package/build/vega.min.js": "assets/vendor/vega/vega.min.js",
              "package/LICENSE": "assets/vendor/vega/LICENSE"}),
    "vega-embed": ("7.0.2", "sha512-ZHQPWSs9mUTGJPZ5yQVhHV+OLDCoTIjR//De93vG6igZX1MQCVo03ePWlfWCUAnPV1IsKfeJLqA3K/Qd11bAFQ==",
                   {"package/build/vega-embed.min.js": "assets/vendor/vega-embed/vega-embed.min.js",
                    "package/LICENSE": "assets/vendor/vega-embed/LICENSE"}),
    "katex": ("0.19.1", "sha512-jG8uKntjSEcm2EpQOh0XturpPuuC9r3Sq5HLHdsFdWZT27E672SF19QEi+of0/YeOy15lDgRhKvr5614uRrEfA==",
              {"package/dist/katex.min.js": "build/katex/katex.min.js",  # run by the build, not served
               "package/dist/katex.min.css": "assets/vendor/katex/katex.min.css",
               "package/dist/fonts/": "assets/vendor/katex/fonts/",
               "package/LICENSE": "assets/vendor/katex/LICENSE"}),
}


BUILD_ONLY = "build/"  # destinations of files the build uses itself (not part of the site)


def vendor_assets(cache: Path) -> dict[str, Path]:
    """Site path → local file for every vendored asset, downloading what the cache lacks."""
    return {dest: path for dest, path in _vendor_files(cache).items() if not dest.startswith(BUILD_ONLY)}


def katex_script(cache: Path) -> Path:
    """KaTeX's script (katex.min.js), for typesetting at build time."""
    return _vendor_files(cache)["build/katex/katex.min.js"]


def _vendor_files(cache: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for name, (version, integrity, wanted) in PACKAGES.items():
        root = Path(cache) / f"{name}-{version}"
        # One stamp per selection of files: a changed selection extracts the tarball again.
        digest = hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()[:12]
        stamp = root / f".complete-{digest}"
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
