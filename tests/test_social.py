"""The social card: 1200 × 630, the top of the poster, cut in a gap, deterministic."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from figgen.social import PAD, SIZE, social_card


def poster(width=1056, height=2400) -> bytes:
    """A white poster with grey blocks separated by 20-row gaps, and a thin rule down the left."""
    a = np.full((height, width, 3), 255, np.uint8)
    for top in range(40, height, 140):
        a[top:top + 120, 60:width - 60] = 200
    a[:, 20:30] = 120  # a vertical rule crossing every gap (≤ 5% of the width)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def test_plugin_states_the_cards_size():
    from figgen.mkdocs_plugin import SOCIAL_SIZE

    assert tuple(SOCIAL_SIZE) == SIZE


def test_card_size_and_determinism():
    png = poster()
    card = social_card(png)
    assert card == social_card(png)
    with Image.open(io.BytesIO(card)) as im:
        assert im.size == SIZE and im.mode == "RGB"


def test_card_ends_in_a_gap_not_through_a_block():
    with Image.open(io.BytesIO(social_card(poster()))) as im:
        a = np.asarray(im)
    # Below the cut the card is background (white, the rule aside); no block is cut in half.
    block_rows = np.where((a[:, 100:-100] != 255).any(axis=(1, 2)))[0]
    last = block_rows.max()
    assert (a[last + 1:, 100:-100] == 255).all()
    scale = (SIZE[0] - 2 * PAD) / 1056  # scaled into the card's margins
    bottoms = [PAD + round((top + 120) * scale) for top in range(40, 2400, 140)]
    assert any(abs(last + 1 - b) <= 3 for b in bottoms), (last, bottoms[:6])


def test_short_image_is_padded():
    a = np.full((100, 600, 3), 255, np.uint8)
    a[10:50, 10:590] = 0
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    with Image.open(io.BytesIO(social_card(buf.getvalue()))) as im:
        assert im.size == SIZE
        assert np.asarray(im)[-1].min() == 255  # padded with the background


def test_card_has_a_margin():
    with Image.open(io.BytesIO(social_card(poster()))) as im:
        a = np.asarray(im)
    assert (a[:PAD] == 255).all() and (a[:, -PAD:] == 255).all()  # nothing touches the top or right edge
