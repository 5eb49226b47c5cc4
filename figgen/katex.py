"""Math typeset at build time: arithmatex's TeX → KaTeX's HTML (and MathML), in the page itself.

Pages then need KaTeX's stylesheet and fonts (~25 KB + the fonts a page uses), not its 270 KB of
JavaScript. The KaTeX that renders here is the vendored one (figgen/assets.py), run in QuickJS
(the `quickjs` wheel: no Node.js needed), so a build renders exactly what KaTeX in the browser
would. arithmatex's generic output is `<span class="arithmatex">\\(…\\)</span>` and
`<div class="arithmatex">\\[…\\]</div>`; the wrapper stays and gets KaTeX's output inside, in a
`<span>` as auto-render (KaTeX in the browser) left it.
Only those elements are touched: a token string quoted in the prose that contains "\\(" or "$$" is
text, not math (mkdocs_plugin._format escapes it so arithmatex never wraps it).
"""

from __future__ import annotations

import html
import re
from pathlib import Path

MATH = re.compile(r'<(span|div) class="arithmatex">(.*?)</\1>', re.S)
DELIMITERS = {"\\(": ("\\)", False), "\\[": ("\\]", True)}


class KatexError(ValueError):
    pass


class Katex:
    """One KaTeX in one QuickJS context (not thread-safe: a build renders pages one at a time)."""

    def __init__(self, script: Path):
        import quickjs

        self._ctx = quickjs.Context()
        self._ctx.eval("globalThis.self = globalThis;")  # KaTeX's UMD wrapper sets self.katex
        self._ctx.eval(Path(script).read_text(encoding="utf-8"))
        self._render = self._ctx.eval(
            "(tex, display) => katex.renderToString(tex, {displayMode: display, throwOnError: true,"
            " output: 'htmlAndMathml'})")

    def render(self, tex: str, display: bool) -> str:
        import quickjs

        try:
            return self._render(tex, display)
        except quickjs.JSException as err:
            raise KatexError(str(err).splitlines()[0]) from None

    def typeset(self, html_text: str, warn=None) -> tuple[str, int]:
        """`html_text` with every arithmatex element's TeX replaced by KaTeX's markup, and how many
        were typeset. A formula KaTeX rejects stays as TeX and is passed to `warn(message)`."""
        count = 0

        def replace(m: re.Match) -> str:
            nonlocal count
            tag, body = m.groups()
            tex = html.unescape(body).strip()
            closing, display = DELIMITERS.get(tex[:2], (None, False))
            if closing is None or not tex.endswith(closing):
                if warn:
                    warn(f"math without \\( \\) or \\[ \\] delimiters: {tex[:60]!r}")
                return m.group(0)
            try:
                out = self.render(tex[2:-2], display)
            except KatexError as err:
                if warn:
                    warn(f"KaTeX cannot typeset {tex[:60]!r}: {err}")
                return m.group(0)
            count += 1
            # The search index (Material's) reads the formula's glyphs once, from KaTeX's HTML: not
            # again from the MathML, nor the TeX source in its annotation ("μ\\muμ"). (Excluding
            # the HTML instead does not work: Material's parser loses the mark at the first inner span.)
            out = out.replace('<math xmlns="http://www.w3.org/1998/Math/MathML"',
                              '<math xmlns="http://www.w3.org/1998/Math/MathML" data-search-exclude', 1)
            # In a plain <span>, as KaTeX's auto-render put it in the browser (Material's CSS for
            # `div.arithmatex > *` centres and pads that span).
            return f'<{tag} class="arithmatex"><span>{out}</span></{tag}>'

        return MATH.sub(replace, html_text), count
