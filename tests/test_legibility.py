"""Every figure is legible where it is read (figgen.legibility; DESIGN.md, Conventions): in the
≈ 690 px content column every text renders at ≥ 10 px, in both themes, static and interactive."""

from __future__ import annotations

import json

import pytest

from figgen.figures import style
from figgen.figures.registry import load_all
from figgen.legibility import COLUMN_PX, MIN_TEXT_PX, text_size

IDS = sorted(load_all())


@pytest.mark.parametrize("fid", IDS)
def test_text_is_at_least_10px_in_the_column(fid, mini_site):
    out = mini_site[fid]
    for key in ("light", "dark", "vl.svg"):
        if key in out:
            size = text_size(out[key].encode())
            assert size.smallest_px is None or size.smallest_px >= MIN_TEXT_PX, (
                f"{fid} ({key}): {size.sample!r} renders at {size.smallest_px} px (natural width "
                f"{size.natural_px} px)")


@pytest.mark.parametrize("fid", [i for i in IDS if i != "overview.poster"])
def test_charts_fit_the_column(fid, mini_site):
    """An interactive chart is drawn at its own size, so it must not be wider than the column, and no
    text of its spec may be set below the site's chart font size."""
    out = mini_site[fid]
    if "vl" not in out:
        pytest.skip("not a chart")
    assert text_size(out["vl.svg"].encode()).natural_px <= COLUMN_PX + 1, f"{fid} is wider than the column"
    small = [m for m in _font_sizes(out["vl"]) if m < 11]
    assert not small, f"{fid}: font sizes {small} below 11 px"


def _font_sizes(spec) -> list[float]:
    text = json.dumps({k: v for k, v in spec.items() if k != "usermeta"})
    found = []
    for key in ("fontSize", "labelFontSize", "titleFontSize"):
        for part in text.split(f'"{key}": ')[1:]:
            num = part.split(",")[0].split("}")[0].strip()
            try:
                found.append(float(num))
            except ValueError:
                pass
    return found


def test_label_inks_reach_4_5_to_1_on_every_ramp():
    import numpy as np

    for name in style.RAMPS:
        for theme in style.THEMES:
            ramp = style.cmap(name, theme)
            worst = min(style.contrast(style.label_colour(ramp(x)), ramp(x)) for x in np.linspace(0, 1, 201))
            assert worst >= 4.5, (name, theme, worst)


def test_dark_ramps_start_near_the_page():
    """Low values look like the page in both themes: no white slabs on the dark palette."""
    for name in style.RAMPS:
        for theme in style.THEMES:
            low = style.RAMPS[name][theme][2 if name == "diverging" else 0]
            assert style.contrast(low, style.background(theme)) < 1.3, (name, theme, low)


def test_text_size_reads_matplotlib_and_vega_svgs():
    mpl = (b'<svg xmlns="http://www.w3.org/2000/svg" width="540pt" height="100pt" viewBox="0 0 540 100">'
           b'<text style="font-size: 8px; font-family: \'DejaVu Sans\'">a</text>'
           b'<text style="font: 6px \'DejaVu Sans\'">tiny</text></svg>')
    size = text_size(mpl)  # 720 px natural → shown at 690 px: 690/540 px per unit
    assert size.natural_px == 720 and size.sample == "tiny" and abs(size.smallest_px - 6 * 690 / 540) < 0.01
    vega = b'<svg xmlns="http://www.w3.org/2000/svg" width="300" height="100" viewBox="0 0 300 100"><text font-size="11px">x</text></svg>'
    assert text_size(vega).smallest_px == 11.0
