"""Every figure built at GPT-2 124M's shapes (a random GPT2Config() model: 50,257 tokens, 12 × 12 heads,
d_model 768, d_mlp 3,072): the build works, and every figure stays legible in the column at that size,
where mini's 4 layers and 1,283 tokens would hide what grows with the model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from figgen.legibility import COLUMN_PX, MIN_TEXT_PX, text_size

SHARED_TOKENIZER = Path(__file__).resolve().parents[2] / "shared" / "data" / "gpt2-tokenizer"
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not SHARED_TOKENIZER.is_dir(), reason="needs ../shared/data/gpt2-tokenizer")]


@pytest.fixture(scope="module")
def gpt2_build(tmp_path_factory):
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    from figgen.build import build

    folder = tmp_path_factory.mktemp("gpt2-shapes")
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config()).save_pretrained(folder / "model")
    AutoTokenizer.from_pretrained(SHARED_TOKENIZER).save_pretrained(folder / "model")
    result = build(model=str(folder / "model"), out=folder / "out", cache_dir=None, progress=False)
    return folder / "out", result.manifest


def test_every_figure_builds_at_gpt2_size(gpt2_build):
    out, manifest = gpt2_build
    assert manifest["model"]["d_vocab"] == 50257 and manifest["model"]["n_head"] == 12
    from figgen.figures.registry import load_all

    assert [f["id"] for f in manifest["figures"]] == list(load_all())
    assert all((out / name).is_file() for f in manifest["figures"] for name in f["files"])


def test_every_figure_is_legible_at_gpt2_size(gpt2_build):
    out, manifest = gpt2_build
    small, wide = [], []
    for entry in manifest["figures"]:
        for name in entry["files"]:
            if not name.endswith(".svg"):
                continue
            size = text_size((out / name).read_bytes())
            if size.smallest_px is not None and size.smallest_px < MIN_TEXT_PX:
                small.append((name, size.smallest_px, size.sample))
            if ".vl." in name and size.natural_px > COLUMN_PX + 1:
                wide.append((name, size.natural_px))
    assert not small, small
    assert not wide, wide


def test_claims_are_computed_at_gpt2_size(gpt2_build):
    _, manifest = gpt2_build
    assert all(c["status"] != "not computed" for c in manifest["claims"]), json.dumps(manifest["claims"])[:500]
