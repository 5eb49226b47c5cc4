"""Deterministic, atomic output: same inputs → byte-identical files, never a half-written one."""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
from pathlib import Path

# No Date/Creator: matplotlib would otherwise stamp every SVG differently.
SVG_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a temp file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; outputs are meant to be served
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def json_bytes(obj) -> bytes:
    """Sorted, stable JSON (UTF-8, newline-terminated)."""
    return (json.dumps(obj, sort_keys=True, ensure_ascii=False, indent=1, allow_nan=False) + "\n").encode()


def svg_bytes(fig) -> bytes:
    """A matplotlib figure as deterministic SVG (rcParams must set svg.hashsalt; style.rc does).

    Links (artists' `set_url`) open in the page showing the figure, not a new tab: matplotlib writes
    target="_blank"; a figure embedded with <object> needs "_top" to navigate the page itself."""
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata=SVG_METADATA, bbox_inches="tight")
    return buf.getvalue().replace(b' target="_blank"', b' target="_top"')


def png_bytes(fig, facecolor: str, dpi: int = 96) -> bytes:
    """A matplotlib figure as deterministic PNG on an opaque `facecolor` (no Software stamp), at the
    figure's own size (no tight bounding box: that would draw the figure twice)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None}, facecolor=facecolor,
                transparent=False)
    return buf.getvalue()


_AUTO_NAME = re.compile(r"\b(param|view|concat|layer)_(\d+)\b")


def vegalite_spec(chart) -> dict:
    """An altair chart as a Vega-Lite dict whose auto-generated names don't depend on build order.

    altair numbers unnamed params and views with a process-wide counter (param_7, view_3), so the
    same chart gets different names depending on what was built before it; renumber from 1.
    """
    text = json.dumps(chart.to_dict(), sort_keys=True)
    seen: dict[str, str] = {}

    def rename(m: re.Match) -> str:
        key = m.group(0)
        if key not in seen:
            n = sum(1 for k in seen if k.startswith(m.group(1) + "_")) + 1
            seen[key] = f"{m.group(1)}_{n}"
        return seen[key]

    spec = _named_ranges(_printable_strings(json.loads(_AUTO_NAME.sub(rename, text))))
    # Each theme's config travels with the spec; the page script passes the one of the palette in use.
    from . import style

    spec.setdefault("usermeta", {})["figgen"] = {"themes": {t: style.vega_config(t) for t in style.THEMES}}
    return spec


def _named_ranges(obj):
    """["figgen-range:NAME"] (style.vega_range) → "NAME": a range named in the themes' config."""
    from .style import _RANGE_TAG

    if isinstance(obj, dict):
        return {k: (v[0].removeprefix(_RANGE_TAG) if k == "range" and isinstance(v, list) and len(v) == 1
                    and isinstance(v[0], str) and v[0].startswith(_RANGE_TAG) else _named_ranges(v))
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [_named_ranges(v) for v in obj]
    return obj


def themed(spec: dict, theme: str) -> dict:
    """`spec` with `theme`'s config under its own (the spec's explicit config wins, as in vega-embed)."""
    base = spec.get("usermeta", {}).get("figgen", {}).get("themes", {}).get(theme, {})
    return {**spec, "config": _merge(base, spec.get("config", {}))}


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _printable_strings(obj):
    """Make control characters visible in every string of a spec: vl-convert aborts the whole
    process on characters XML forbids, and token strings can contain any of them."""
    from ..context import printable

    if isinstance(obj, dict):
        return {k: _printable_strings(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_printable_strings(v) for v in obj]
    return printable(obj) if isinstance(obj, str) else obj


#: The Vega-Lite that compiles the site's charts: vl-convert's copy of the version vendored for the
#: browser before (figgen/assets.py), whose Vega (6.2.0) draws both the charts and their fallbacks.
VEGALITE_VERSION = "6.4"


def vega_specs(vl_json: bytes) -> dict[str, bytes]:
    """A chart's Vega-Lite spec (the .vl.json) compiled to Vega once per theme, as compact JSON.

    Each theme's config (usermeta.figgen.themes) is applied as vega-embed applied it in the browser:
    vega-themes' dark theme under the palette's config under the spec's own, with a transparent
    background (the page shows through). The compiled spec needs neither usermeta nor Vega-Lite."""
    import vl_convert as vlc

    from . import style

    spec = json.loads(vl_json)
    out = {}
    for theme in style.THEMES:
        vg = vlc.vegalite_to_vega(themed(spec, theme), vl_version=VEGALITE_VERSION, config={"background": None},
                                  theme="dark" if theme == "dark" else None)
        vg.pop("usermeta", None)
        out[theme] = json.dumps(vg, separators=(",", ":"), ensure_ascii=False).encode()
    return out


def vegalite_svg(spec: dict, theme: str) -> bytes:
    """Static SVG fallback of a Vega-Lite spec (vl-convert), in the light or dark theme."""
    import vl_convert as vlc

    svg = vlc.vegalite_to_svg(themed(spec, theme), theme="dark" if theme == "dark" else None)
    if theme == "dark":  # vl-convert's dark theme paints an opaque background; let the page show
        svg = svg.replace('fill="#333"', 'fill="none"', 1)
    return _renumber_gradients(svg).encode()


def _renumber_gradients(svg: str) -> str:
    """Vega numbers gradient ids with a counter that lives as long as the process, so the same chart got
    `gradient_4` after three other gradient charts and `gradient_0` alone: bytes that depended on what the
    build computed before it (a cached or --only build). Number them from 0 in order of appearance."""
    names: dict[str, str] = {}
    return re.sub(r"gradient_\d+", lambda m: names.setdefault(m.group(0), f"gradient_{len(names)}"), svg)
