"""How figures write heads, tokens and numbers: labels, rounding and text formats.

Used across the section modules: `head_label` and `token_labels` name heads and positions the same
way in every figure; `rounded` and `sig` round the numbers a figure's data carries (so the JSON and
the drawings depend only on the values); `cell_text` writes values on altair heatmap cells in the
ink that reads on each cell;
`SUPERSCRIPT` and `power_of_ten` write powers of ten without mathtext.
"""

from __future__ import annotations

import altair as alt
import numpy as np

from . import style



def join_words(items: list[str], word: str = "and") -> str:
    """'' , 'a', 'a and b', 'a, b and c' (or with `word` 'or')."""
    if not items:
        return ""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" {word} " + items[-1]


def head_label(layer: int, head: int) -> str:
    return f"L{layer}H{head}"


def token_labels(ctx) -> list[str]:
    """'position: token' for each position of the site prompt, tokens as the site shows them (␣ for a space)."""
    return [f"{p}: {s}" for p, s in enumerate(ctx.token_strs())]


def sig(x: float, digits: int = 4) -> float:
    """x rounded to `digits` significant digits (values spanning many magnitudes, e.g. spectra)."""
    return float(f"{x:.{digits}g}")


def rounded(a) -> list:
    """An array as nested lists of floats rounded to 4 decimals (via float64: no float32 tails)."""
    return np.round(np.asarray(a, np.float64), 4).tolist()


def cell_ink(field: str, ramp: str, domain: tuple[float, float], bins: int = 10):
    """A colour encoding for labels on cells coloured by `field` with `ramp` over `domain`: each label black
    or white, whichever contrasts more with its cell, in each theme (a threshold scale over `bins` steps
    whose range is the named Vega range "<ramp>-labels", set per theme by `style.vega_config`)."""
    lo, hi = domain
    edges = [round(lo + (hi - lo) * i / bins, 6) for i in range(1, bins)]
    return alt.Color(f"{field}:Q", legend=None,
                     scale=alt.Scale(type="threshold", domain=edges, range=style.vega_range(f"{ramp}-labels")))


def cell_text(base, field: str, fmt: str, ramp: str, domain: tuple[float, float], bins: int = 10):
    """Text for an altair heatmap's cells coloured by `ramp` over `domain`, in the ink that reads on each
    cell (`cell_ink`)."""
    return base.mark_text(fontSize=11).encode(text=alt.Text(f"{field}:Q", format=fmt),
                                              color=cell_ink(field, ramp, domain, bins))


SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_of_ten(value: float, _pos=None) -> str:
    """Log-axis tick label 10ᵏ in Unicode superscripts (a matplotlib FuncFormatter)."""
    if value <= 0:
        return ""
    k = np.log10(value)
    return f"10{str(int(round(k))).translate(SUPERSCRIPT)}" if abs(k - round(k)) < 1e-6 else ""
