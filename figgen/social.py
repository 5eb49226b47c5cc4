"""The site's social card (og:image): the top of the poster — prompt, tokens, embeddings — 1200 × 630.

Link previews crop or shrink a tall image to about 1.91:1, so the whole poster (≈ 1:2.2) arrives as
an unreadable sliver. The card is cut from the poster's own PNG at build time: scaled to the card's
width, its top kept, and ended in a horizontal gap between two blocks rather than through one (the
rest is background). Same PNG in, same bytes out (no metadata is written).
"""

from __future__ import annotations

import io

SIZE = (1200, 630)
PAD = 36  # px of background around the cut (none below: the cut ends in a gap)


def social_card(png: bytes, size: tuple[int, int] = SIZE) -> bytes:
    """The top of an image as an opaque `size` PNG: scaled to the card's width, cut at the last gap
    (rows of background) in the lower half of what fits, the rest filled with the background."""
    import numpy as np
    from PIL import Image  # matplotlib's own dependency

    card_width, height = size
    width, inner = card_width - 2 * PAD, height - PAD  # a margin: the poster's title starts at its edge
    with Image.open(io.BytesIO(png)) as source:
        image = source.convert("RGB")
    scale = width / image.width
    rows = min(image.height, round(inner / scale))  # the source rows that would fill the card
    rows = _last_gap(np.asarray(image)[:rows], start=rows // 2) or rows
    top = image.crop((0, 0, image.width, rows)).resize((width, min(inner, round(rows * scale))),
                                                        Image.Resampling.LANCZOS)
    card = Image.new("RGB", size, image.getpixel((0, 0)))
    card.paste(top, (PAD, PAD))
    out = io.BytesIO()
    card.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _last_gap(pixels, start: int, min_rows: int = 8, max_ink: float = 0.05) -> int | None:
    """The middle row of the last run of ≥ `min_rows` rows below `start` that are background (the
    top-left colour) but for at most `max_ink` of their width (a thin vertical rule may cross a gap)."""
    ink = (pixels != pixels[0, 0]).any(axis=2).mean(axis=1)
    blank = ink <= max_ink
    end = len(blank)
    while end > start:
        if not blank[end - 1]:
            end -= 1
            continue
        begin = end
        while begin > start and blank[begin - 1]:
            begin -= 1
        if end - begin >= min_rows and end < len(blank):  # a gap with something below it
            return (begin + end) // 2
        end = begin
    return None
