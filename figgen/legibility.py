"""How large a figure's text renders where it is read: the site's content column.

A static figure is an <img> (or <object>) at most as wide as the column and never wider than its
own natural size, so its text renders at  font-size × (displayed width / viewBox width), with

    natural width (CSS px) = the SVG's width attribute (pt → px at 96/72)
    displayed width        = min(natural width, COLUMN_PX)

COLUMN_PX is Material's content column beside the table of contents at a 1280 px window. The
convention (DESIGN.md): every text ≥ MIN_TEXT_PX there, aim for 11 px.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

COLUMN_PX = 690
MIN_TEXT_PX = 10.0
_UNITS = {"": 1.0, "px": 1.0, "pt": 96 / 72, "in": 96.0}
_LENGTH = re.compile(r"^\s*([0-9.]+)\s*(px|pt|in)?\s*$")
_FONT_SIZE = re.compile(r"font-size\s*:\s*([0-9.]+)px")
_FONT_SHORTHAND = re.compile(r"(?:^|;)\s*font\s*:[^;]*?([0-9.]+)px")


@dataclass(frozen=True)
class TextSize:
    """smallest_px: the smallest text as rendered in the column (None: the SVG has no text);
    natural_px: the SVG's own width in CSS px; scale: rendered px per SVG user unit."""

    smallest_px: float | None
    natural_px: float
    scale: float
    sample: str  # the smallest text itself, to find it


def _length(value: str | None) -> float | None:
    m = _LENGTH.match(value or "")
    return float(m.group(1)) * _UNITS[m.group(2) or ""] if m else None


def text_size(svg: bytes, column_px: float = COLUMN_PX) -> TextSize:
    """The smallest text of one SVG as rendered at most `column_px` wide."""
    root = ET.fromstring(svg)
    view = [float(v) for v in (root.get("viewBox") or "").replace(",", " ").split()] or None
    natural = _length(root.get("width")) or (view[2] if view else column_px)
    units_wide = view[2] if view else natural
    scale = min(natural, column_px) / units_wide
    smallest, sample = None, ""
    for el in root.iter():
        if not el.tag.endswith("text"):
            continue
        size = _font_size(el)
        text = "".join(el.itertext()).strip()
        if size is None or not text:
            continue
        if smallest is None or size < smallest:
            smallest, sample = size, text
    return TextSize(None if smallest is None else round(smallest * scale, 2), round(natural, 1),
                    round(scale, 4), sample[:40])


def _font_size(el) -> float | None:
    """font-size of a <text> element: attribute, style property or `font:` shorthand (matplotlib)."""
    if el.get("font-size"):
        return _length(el.get("font-size"))
    style = el.get("style") or ""
    m = _FONT_SIZE.search(style) or _FONT_SHORTHAND.search(style)
    return float(m.group(1)) if m else None
