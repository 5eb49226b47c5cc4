"""The first three sections: their analyses on hand-built inputs, their figures on real traces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from figgen.analysis.params import allocation
from figgen.analysis.tokenization import bpe, merge_ranks, most_merged_word
from figgen.analysis.vocab import nearest
from figgen.context import printable

from .figtools import GPT2

SHARED_TOKENIZER = Path(__file__).resolve().parents[2] / "shared" / "data" / "gpt2-tokenizer"
SECTION_FIGURES = {"tokenizer.tokens", "tokenizer.merges", "embedding.vectors", "embedding.params",
                   "embedding.neighbours", "positional.heatmap", "positional.similarity", "positional.rows"}


def test_bpe_replays_lowest_rank_first():
    ranks = {("a", "b"): 1, ("b", "c"): 0, ("a", "bc"): 2}
    steps = bpe("abc", ranks)
    assert steps.parts == [["a", "b", "c"], ["a", "bc"], ["abc"]]
    assert steps.merged == [("b", "c"), ("a", "bc")] and steps.ranks == [0, 2]
    assert bpe("xyz", ranks).parts == [["x", "y", "z"]]


@pytest.mark.skipif(not SHARED_TOKENIZER.is_dir(), reason="GPT-2 tokenizer data not present")
def test_bpe_matches_real_gpt2_tokenizer():
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(SHARED_TOKENIZER)
    assert len(merge_ranks(tok)) == 50_000
    steps = most_merged_word(tok, "Transformer tokens")
    expected = tok.convert_ids_to_tokens(tok(steps.word)["input_ids"])
    assert steps.parts[-1] == expected


def test_nearest_neighbours_known_answer():
    m = np.array([[1, 0], [0.9, 0.1], [0, 1], [-1, 0], [0.7, 0.7]], dtype=np.float32)
    res = nearest(m, m[[0, 2]], k=2, exclude=np.array([0, 2]))
    assert res.ids.tolist() == [[1, 4], [4, 1]]
    assert np.allclose(res.cosines[0, 0], 0.9 / np.hypot(0.9, 0.1), atol=1e-6)


def test_nearest_is_chunk_independent(monkeypatch):
    import figgen.analysis.vocab as vocab

    rng = np.random.default_rng(0)
    m = rng.standard_normal((1000, 16)).astype(np.float32)
    full = nearest(m, m[:7], k=5, exclude=np.arange(7))
    monkeypatch.setattr(vocab, "CHUNK", 64)
    chunked = nearest(m, m[:7], k=5, exclude=np.arange(7))
    assert (full.ids == chunked.ids).all() and (full.ids != np.arange(7)[:, None]).all()


def test_allocation_gpt2_124m():
    alloc = allocation(GPT2)
    assert alloc.total == 124_439_808
    assert dict(alloc.components)["W_E (token embedding)"] == 38_597_376
    assert round(alloc.share("W_E (token embedding)"), 2) == 0.31


def test_allocation_equals_hf_parameter_count(tiny, mini):
    for model in (tiny, mini):
        assert allocation(model.weights.dims).total == model.n_params


def test_printable_makes_controls_visible():
    assert printable("a\x00b\n\x7f\x85\t") == "a\\x00b↵\\x7f\\x85⇥"


def test_section_figure_data(mini, mini_site):
    ctx = mini_site.ctx
    t = ctx.trace
    data = {fid: mini_site[fid]["figure"].data for fid in SECTION_FIGURES}
    assert data["tokenizer.tokens"]["n_tokens"] == len(t.tokens) == 8
    assert data["tokenizer.tokens"]["tokens"][3] == "Ġis"
    params = data["embedding.params"]
    assert params["n_params"] == mini.n_params == params["n_params_counted"]
    assert params["W_E_params"] == mini.cfg.vocab_size * mini.cfg.n_embd
    vec = data["embedding.vectors"]
    assert np.allclose(vec["norms"], np.linalg.norm(ctx.weights["W_E"][t.tokens], axis=-1), atol=1e-3)
    neigh = data["embedding.neighbours"]["neighbours"]
    assert " Monday" in neigh and len(neigh[" Monday"]) == 5 and " Monday" not in [n for n, _ in neigh[" Monday"]]
    assert data["positional.rows"]["n_positions"] == len(t.tokens)
    assert data["positional.heatmap"]["n_ctx"] == mini.cfg.n_positions
    merges = data["tokenizer.merges"]
    assert merges["n_merges"] == len(merges["ranks"]) and "".join(merges["pieces"]) == merges["word"]


def test_days_cluster_in_mini_embedding(mini):
    """Meaning, not just shapes: mini's nearest embedding neighbours of a day are mostly days."""
    from figgen.mini.prompts import DAYS

    ids = [mini.tokenizer(" " + d)["input_ids"][0] for d in DAYS]
    W_E = mini.weights["W_E"].numpy()
    res = nearest(W_E, W_E[ids], k=3, exclude=np.asarray(ids))
    days = set(ids)
    share = np.isin(res.ids, list(days)).mean()
    assert share >= 0.5, share
