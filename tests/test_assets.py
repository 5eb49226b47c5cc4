"""Vendored browser assets: checksums are enforced, the cache is reused, nothing half-written."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile

import pytest

import figgen.assets as assets
from figgen.errors import FiggenError


def fake_tarball(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def sri(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


@pytest.fixture
def fake_registry(monkeypatch):
    data = fake_tarball({"package/build/x.min.js": b"console.log(1)", "package/dist/fonts/A.woff2": b"font",
                         "package/dist/fonts/A.ttf": b"ttf", "package/README.md": b"no"})
    calls = []

    class Response(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def urlopen(url, timeout):
        calls.append(url)
        return Response(data)

    monkeypatch.setattr(assets.urllib.request, "urlopen", urlopen)
    monkeypatch.setattr(assets, "PACKAGES", {"x": ("1.0.0", sri(data), {
        "package/build/x.min.js": "assets/vendor/x/x.min.js",
        "package/dist/fonts/": "assets/vendor/x/fonts/"})})
    return data, calls


def test_vendor_extracts_only_wanted_files_and_caches(fake_registry, tmp_path):
    _, calls = fake_registry
    out = assets.vendor_assets(tmp_path)
    assert set(out) == {"assets/vendor/x/x.min.js", "assets/vendor/x/fonts/A.woff2"}
    assert out["assets/vendor/x/x.min.js"].read_bytes() == b"console.log(1)"
    assert assets.vendor_assets(tmp_path) == out and len(calls) == 1  # second call: from the cache
    assert calls[0] == "https://registry.npmjs.org/x/-/x-1.0.0.tgz"


def test_checksum_mismatch_is_refused(fake_registry, tmp_path, monkeypatch):
    version, _, wanted = assets.PACKAGES["x"]
    monkeypatch.setattr(assets, "PACKAGES", {"x": (version, sri(b"something else"), wanted)})
    with pytest.raises(FiggenError, match="checksum mismatch"):
        assets.vendor_assets(tmp_path)
    assert not any(tmp_path.rglob("*.js"))


def test_download_failure_is_one_line(tmp_path, monkeypatch):
    def urlopen(url, timeout):
        raise OSError("network unreachable")

    monkeypatch.setattr(assets.urllib.request, "urlopen", urlopen)
    with pytest.raises(FiggenError, match="could not download") as err:
        assets.vendor_assets(tmp_path)
    assert "\n" not in str(err.value)


def test_pinned_packages_are_complete():
    for name, (version, integrity, wanted) in assets.PACKAGES.items():
        assert integrity.startswith("sha512-") and version[0].isdigit()
        assert all(src.startswith("package/") for src in wanted)


def test_vendored_vega_reports_its_pinned_version():
    """vega-embed checks Vega's own `version` against the compiled spec's major version: vega 6.3.0's
    build files said 5.33.1, so every chart logged a mismatch warning."""
    import re

    from figgen.assets import PACKAGES, vendor_assets

    from .sitetools import ROOT

    try:
        files = vendor_assets(ROOT / ".cache" / "figgen" / "assets")  # the site build's cache
    except FiggenError as err:
        pytest.skip(f"vendored assets unavailable: {err}")
    text = files["assets/vendor/vega/vega.min.js"].read_text(encoding="utf-8")
    assert re.findall(r'\bversion="(\d+\.\d+\.\d+)"', text) == [PACKAGES["vega"][0]]
    assert PACKAGES["vega"][0].split(".")[0] == PACKAGES["vega-lite"][0].split(".")[0]  # v6 specs, Vega 6
