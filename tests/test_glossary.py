"""The glossary and its tooltips (includes/abbreviations.md, appended to every page): no tooltip in a heading,
every tooltip term defined in the glossary, and the glossary's conventions as DESIGN.md states them."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
ABBR = re.compile(r"^\*\[(.+?)\]:\s*(.+)$")
FENCE = re.compile(r"^\s*(```|~~~)")


def abbreviations() -> dict[str, str]:
    lines = (ROOT / "includes" / "abbreviations.md").read_text(encoding="utf-8").splitlines()
    found = {m.group(1): m.group(2) for m in map(ABBR.match, lines) if m}
    assert len(found) == len([line for line in lines if line.strip()]), "every line is one abbreviation"
    return found


def headings() -> list[tuple[str, str]]:
    """(page, heading text) for every ATX heading of every page, outside fenced code."""
    found = []
    for page in sorted(DOCS.rglob("*.md")):
        fenced = False
        for line in page.read_text(encoding="utf-8").splitlines():
            if FENCE.match(line):
                fenced = not fenced
            elif not fenced and (m := re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)):
                found.append((str(page.relative_to(DOCS)), m.group(1)))
    return found


def test_no_tooltip_lands_in_a_heading():
    """Python-Markdown's abbr wraps every case-sensitive whole-word match, headings included: the plugin
    unwraps them in headings (Material would show a tooltip on the heading and in the table of contents)."""
    import markdown

    from figgen.mkdocs_plugin import strip_heading_tooltips

    abbrs = abbreviations()
    term = next(iter(abbrs))
    md = markdown.Markdown(extensions=["abbr", "toc"])
    html = md.convert(f"# About {term}\n\nText on {term}.\n\n*[{term}]: {abbrs[term]}")
    assert html.count("<abbr") == 2  # the heading's and the text's
    out = strip_heading_tooltips(html)
    assert out.count("<abbr") == 1 and f"About {term}</h1>" in out
    assert len(headings()) > 50  # the pages were read


def test_every_tooltip_term_is_in_the_glossary():
    glossary = (DOCS / "glossary.md").read_text(encoding="utf-8").lower()
    missing = [k for k in abbreviations() if k.lower() not in glossary and k.lower().removesuffix("s") not in glossary]
    assert not missing, missing


def test_glossary_conventions():
    text = (DOCS / "glossary.md").read_text(encoding="utf-8")
    assert r"x_i W_Q W_K^\top x_j^\top" in text  # vectors are rows; the QK circuit is W_Q W_Kᵀ
    assert r"W_Q^h {W_K^h}^\top" in text and r"W_Q^\top W_K\)" not in text.split("**Conventions.**")[1].split("**QK")[1]
    assert "L9H1" in text and "(9, 1)" in text and "Head label (L3H2)" in text
    assert r"**\(d_{vocab}\)**" in text and "n_vocab" not in text
    # DESIGN.md's terms: z is a head's result vector (hook_z), its output vector is hook_result.
    result = text.split("**Result vector (z)**")[1].split("**Output vector**")[0]
    output = text.split("**Output vector**")[1].split("**QK circuit**")[0]
    assert "`hook_z`" in result and "`hook_result`" in output and r"\(b_O\)" in output
