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
    # The charts are compiled by vl-convert's Vega-Lite (v6 specs) and their fallbacks drawn by its Vega:
    # the browser runs that same Vega and vega-embed.
    import vl_convert

    from figgen.figures.save import VEGALITE_VERSION

    assert vl_convert.get_vega_version() == PACKAGES["vega"][0]
    assert vl_convert.get_vega_embed_version() == PACKAGES["vega-embed"][0]
    assert VEGALITE_VERSION in vl_convert.get_vegalite_versions()
    assert PACKAGES["vega"][0].split(".")[0] == VEGALITE_VERSION.split(".")[0]  # v6 specs, Vega 6


def test_build_only_files_are_not_published(fake_registry, tmp_path, monkeypatch):
    """A file vendored for the build itself (KaTeX's script) is extracted but is no site asset."""
    data, _ = fake_registry
    monkeypatch.setattr(assets, "PACKAGES", {"x": ("1.0.0", sri(data), {
        "package/build/x.min.js": "build/x/x.min.js",
        "package/dist/fonts/": "assets/vendor/x/fonts/"})})
    assert set(assets.vendor_assets(tmp_path)) == {"assets/vendor/x/fonts/A.woff2"}
    assert (tmp_path / "x-1.0.0" / "build" / "x" / "x.min.js").read_bytes() == b"console.log(1)"


def test_changed_selection_extracts_again(fake_registry, tmp_path, monkeypatch):
    """The cache stamp covers the selection of files: asking for another file of a cached package
    extracts it (a stale stamp would leave it missing)."""
    data, calls = fake_registry
    assets.vendor_assets(tmp_path)
    monkeypatch.setattr(assets, "PACKAGES", {"x": ("1.0.0", sri(data), {
        "package/build/x.min.js": "build/x/x.min.js"})})
    assert assets._vendor_files(tmp_path)["build/x/x.min.js"].read_bytes() == b"console.log(1)"
    assert len(calls) == 2


def test_katex_typesets_arithmatex_output(tmp_path):
    """figgen/katex.py runs the vendored KaTeX: arithmatex's inline and display math become KaTeX's
    markup (HTML and MathML) in a plain span; HTML entities in the TeX are decoded first; a formula
    KaTeX rejects stays as it was and is reported."""
    pytest.importorskip("quickjs")
    from figgen.assets import katex_script
    from figgen.katex import Katex

    from .sitetools import ROOT

    try:
        script = katex_script(ROOT / ".cache" / "figgen" / "assets")
    except FiggenError as err:
        pytest.skip(f"vendored KaTeX unavailable: {err}")
    katex = Katex(script)
    page = ('<p>Let <span class="arithmatex">\\(a &lt; b_{i}\\)</span> and</p>\n'
            '<div class="arithmatex">\\[\\frac{1}{d}\\]</div>\n'
            '<span class="arithmatex">\\(\\nosuchmacro\\)</span> <p>\\(not math\\)</p>')
    problems = []
    out, count = katex.typeset(page, warn=problems.append)
    assert count == 2
    assert out.startswith('<p>Let <span class="arithmatex"><span><span class="katex"><span class="katex-mathml"><math')
    assert "data-search-exclude" in out and "<mo>&lt;</mo>" in out and "<msub><mi>b</mi><mi>i</mi></msub>" in out
    assert '<div class="arithmatex"><span><span class="katex-display">' in out and "<mfrac>" in out
    assert '<span class="arithmatex">\\(\\nosuchmacro\\)</span>' in out and "<p>\\(not math\\)</p>" in out
    assert len(problems) == 1 and "nosuchmacro" in problems[0]
