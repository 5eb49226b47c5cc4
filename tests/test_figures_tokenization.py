"""The first three sections: their analyses on hand-built inputs, their figures on real traces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from figgen.analysis.params import allocation
from figgen.analysis.tokenization import bpe, byte_chars, merge_ranks, most_merged_word, piece_text
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


def test_piece_text_undoes_the_byte_level_stand_ins():
    chars = byte_chars()
    assert len(set(chars.values())) == 256 and chars[0x20] == "Ġ" and chars[ord("a")] == "a"
    assert piece_text("Ġtoday") == " today" and piece_text("Ċ") == "\n"
    assert piece_text("ĠÃ©t") == " ét"  # two bytes of one UTF-8 character, then a plain one
    assert piece_text("Ã") == "\\xc3"  # a lone lead byte stays visible as an escape


@pytest.mark.skipif(not SHARED_TOKENIZER.is_dir(), reason="GPT-2 tokenizer data not present")
def test_piece_text_matches_gpt2_decoding():
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(SHARED_TOKENIZER)
    text = " If today is Monday, tomorrow is naïve ✓\n"
    ids = tok(text)["input_ids"]
    assert "".join(piece_text(t) for t in tok.convert_ids_to_tokens(ids)) == text
    assert [piece_text(t) for t in tok.convert_ids_to_tokens(ids[:3])] == [tok.decode([i]) for i in ids[:3]]


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
    tokens = data["tokenizer.tokens"]["tokens"]
    assert tokens[3] == "␣is" and tokens == ctx.token_strs()  # the site's one display, never "Ġis"
    params = data["embedding.params"]
    assert params["n_params"] == mini.n_params == params["n_params_counted"]
    assert params["W_E_params"] == mini.cfg.vocab_size * mini.cfg.n_embd
    assert params["W_E_share"] == pytest.approx(params["W_E_params"] / params["n_params"], abs=1e-6)
    assert sum(params["components"].values()) == params["n_params"]
    vec = data["embedding.vectors"]
    assert np.allclose(vec["norms"], np.linalg.norm(ctx.weights["W_E"][t.tokens], axis=-1), atol=1e-3)
    neigh = data["embedding.neighbours"]["neighbours"]
    assert "␣Monday" in neigh and len(neigh["␣Monday"]) == 5 and "␣Monday" not in [n for n, _ in neigh["␣Monday"]]
    for row in neigh.values():  # " Today" and "Today" must not look alike: every shown neighbour is distinct
        assert len({n for n, _ in row}) == len(row)
    assert not any("Ġ" in n for row in neigh.values() for n, _ in row)
    day = data["embedding.neighbours"]
    assert day["day_token"] == "␣Monday" and day["day_neighbours"] == sum(
        n.lstrip("␣") in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
        for n, _ in neigh["␣Monday"])
    assert data["positional.rows"]["n_positions"] == len(t.tokens)
    heat = data["positional.heatmap"]
    assert heat["n_ctx"] == mini.cfg.n_positions == ctx.dims.n_ctx == heat["n_rows"] == 65
    assert heat["last_position"] == heat["n_ctx"] - 1
    sim = data["positional.similarity"]
    assert sim["neighbours_alike"] == (sim["adjacent_cosine"] >= sim["alike_threshold"]
                                       and sim["adjacent_cosine"] > sim["half_context_cosine"])
    assert sim["least_alike_cosine"] <= sim["adjacent_cosine"]
    merges = data["tokenizer.merges"]
    assert merges["n_merges"] == len(merges["ranks"]) and "".join(merges["pieces"]) == merges["word"]
    assert merges["word"] == "␣tomorrow" and merges["replay_matches"]
    assert merges["result"] == ("one token" if merges["n_pieces"] == 1 else f"{merges['n_pieces']} tokens")
    assert "(s)" not in mini_site["tokenizer.merges"]["figure"].alt


def test_token_figures_show_the_site_display(mini_site):
    """No figure of these sections draws the tokenizer's byte-level spelling (Ġ) of a token."""
    for fid in ("tokenizer.tokens", "tokenizer.merges", "embedding.vectors", "positional.rows"):
        out = mini_site[fid]
        assert "Ġ" not in out["light"] and "Ġ" not in out["figure"].alt, fid
        assert "␣" in out["light"], fid


def test_tokens_wrap_to_the_column(tiny):
    """A long prompt's token boxes wrap onto more lines instead of widening the figure past the column."""
    import matplotlib

    from figgen.context import Context
    from figgen.figures import style
    from figgen.figures.registry import load_all

    ctx = Context.from_model(tiny, "Transformer tokens flow through the residual stream. " * 2)
    with matplotlib.rc_context(style.rc("light")):
        fig = load_all()["tokenizer.tokens"].func(ctx).mpl
    width, height = fig.get_size_inches()
    assert width <= style.COLUMN_IN + 0.05 and height > 1.0


def test_days_cluster_in_mini_embedding(mini):
    """Meaning, not just shapes: mini's nearest embedding neighbours of a day are mostly days."""
    from figgen.mini.prompts import DAYS

    ids = [mini.tokenizer(" " + d)["input_ids"][0] for d in DAYS]
    W_E = mini.weights["W_E"].numpy()
    res = nearest(W_E, W_E[ids], k=3, exclude=np.asarray(ids))
    days = set(ids)
    share = np.isin(res.ids, list(days)).mean()
    assert share >= 0.5, share
