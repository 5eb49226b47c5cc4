"""Lighter notebook pages: drop the Blueprint rules from mkdocs-jupyter's inlined JupyterLab CSS.

mkdocs-jupyter inlines JupyterLab's whole stylesheet (≈ 575 KB) into every notebook page; ≈ 345 KB
of it styles Blueprint widgets (`.bp3-…` classes: JupyterLab's dialogs, menus, inputs), which a
static notebook page never contains. Rules whose selectors all name a Blueprint class go; a
selector list keeps its other selectors; everything else (at-rules, custom properties, the rules
for cells and outputs) is left byte for byte.
"""

from __future__ import annotations

import re

_STYLE = re.compile(r"(<style[^>]*>)(.*?)(</style>)", re.S | re.I)
_BLUEPRINT = re.compile(r"\.bp\d+-")
_NESTING = ("@media", "@supports", "@layer", "@container", "@document")


def drop_unused_notebook_css(html: str) -> str:
    """`html` with Blueprint rules removed from its inline <style> elements."""
    return _STYLE.sub(lambda m: m.group(1) + drop_rules(m.group(2), _BLUEPRINT) + m.group(3), html)


def drop_rules(css: str, pattern: re.Pattern) -> str:
    """`css` without the selectors that match `pattern` (outside any parentheses, so `:not(.x)` does
    not count; nor do comments), and without rules left with no selector. Strings and comments may
    hold braces."""
    out: list[str] = []
    i = 0
    while i < len(css):
        brace = _find(css, "{;}", i)
        if brace == -1 or css[brace] == "}":  # trailing text, or a stray "}" (kept as written)
            end = len(css) if brace == -1 else brace + 1
            out.append(css[i:end])
            i = end
            continue
        if css[brace] == ";":  # a statement at-rule (@charset, @import)
            out.append(css[i:brace + 1])
            i = brace + 1
            continue
        close = _matching(css, brace)
        prelude, body = css[i:brace], css[brace + 1:close]
        head = prelude.strip().lower()
        if head.startswith(_NESTING):
            out.append(f"{prelude}{{{drop_rules(body, pattern)}}}")
        elif head.startswith("@"):  # @keyframes, @font-face …: kept whole
            out.append(css[i:close + 1])
        else:
            selectors = _split_selectors(prelude)
            kept = [s for s in selectors if not pattern.search(_outside_parentheses(s))]
            if len(kept) == len(selectors):
                out.append(css[i:close + 1])
            elif kept:
                lead = prelude[:len(prelude) - len(prelude.lstrip())]
                out.append(f"{lead}{','.join(s.strip() for s in kept)}{{{body}}}")
        i = close + 1
    return "".join(out)


def _skip(css: str, i: int) -> int:
    """The index after a string or comment starting at `i` (or `i` itself if none starts there)."""
    if css.startswith("/*", i):
        end = css.find("*/", i + 2)
        return len(css) if end == -1 else end + 2
    if css[i] in "\"'":
        quote, j = css[i], i + 1
        while j < len(css) and css[j] != quote:
            j += 2 if css[j] == "\\" else 1
        return j + 1
    return i


def _find(css: str, chars: str, i: int) -> int:
    """The first of `chars` at or after `i` outside strings and comments, or -1."""
    while i < len(css):
        j = _skip(css, i)
        if j != i:
            i = j
        elif css[i] in chars:
            return i
        else:
            i += 1
    return -1


def _matching(css: str, open_: int) -> int:
    """The "}" closing the "{" at `open_` (or the end of the text)."""
    depth, i = 0, open_
    while i < len(css):
        j = _skip(css, i)
        if j != i:
            i = j
            continue
        if css[i] == "{":
            depth += 1
        elif css[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return len(css) - 1


def _split_selectors(prelude: str) -> list[str]:
    parts, depth, start, i = [], 0, 0, 0
    while i < len(prelude):
        j = _skip(prelude, i)
        if j != i:
            i = j
            continue
        c = prelude[i]
        depth += c in "(["
        depth -= c in ")]"
        if c == "," and depth == 0:
            parts.append(prelude[start:i])
            start = i + 1
        i += 1
    parts.append(prelude[start:])
    return parts


_COMMENT_OR_STRING = re.compile(r"/\*.*?\*/|\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'", re.S)


def _outside_parentheses(selector: str) -> str:
    """The selector's own text: without comments, strings and anything inside parentheses."""
    out, depth = [], 0
    for c in _COMMENT_OR_STRING.sub("", selector):
        depth += c == "("
        if depth == 0:
            out.append(c)
        depth -= c == ")" and depth > 0
    return "".join(out)
