"""Vocabulary space, part 1 (figgen/figures/vocabulary.py, vocab.py's heads section): patterns and messages
recomputed from the trace, their readings, the figures' data, and hostile token strings."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import figgen
from figgen.analysis import vocab as V
from figgen.context import Context
from figgen.figures import vocabulary as F

from .conftest import make_tokenizer
from .figtools import render, specs_of

IDS = {"vocabulary.bias", "vocabulary.patterns-messages", "vocabulary.home", "vocabulary.attended"}


@pytest.fixture(scope="module")
def tiny_trace(tiny):
    return figgen.trace(tiny, F.PROMPT), Context.from_model(tiny, F.PROMPT).weights


def test_patterns_recompute_the_attention_scores(tiny, tiny_trace):
    """q_i · k_j = x_i · p_j + b_Q[h] · k_j, with x_i the ln1 output, for every head and every pair, and
    the trace's attention scores are that over √d_head (internal consistency)."""
    t, W = tiny_trace
    d_head = tiny.cfg.n_embd // tiny.cfg.n_head
    for l in range(tiny.cfg.n_layer):
        p = V.head_patterns(t, W, l)  # (head, pos, d_model)
        x = t[f"blocks.{l}.ln1.hook_normalized"]  # (pos, d_model)
        q, k = t[f"blocks.{l}.attn.hook_q"], t[f"blocks.{l}.attn.hook_k"]  # (pos, head, d_head)
        b_Q = W[f"blocks.{l}.attn.b_Q"]  # (head, d_head)
        want = np.einsum("qhe,khe->hqk", q, k)
        got = np.einsum("qd,hkd->hqk", x, p) + np.einsum("he,khe->hk", b_Q, k)[:, None, :]
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)
        scores = t[f"blocks.{l}.attn.hook_attn_scores"]
        lower = np.tril(np.ones(scores.shape[1:], bool))
        np.testing.assert_allclose((got / math.sqrt(d_head))[:, lower], scores[:, lower], atol=1e-4, rtol=1e-4)


def test_messages_weighted_by_attention_are_the_head_outputs(tiny, tiny_trace):
    """Σ_j A[i, j] m_j = hook_result[i, h]: what a head writes is its attention-weighted messages."""
    t, W = tiny_trace
    for l in range(tiny.cfg.n_layer):
        m = V.head_messages(t, W, l)  # (head, pos, d_model)
        A = t[f"blocks.{l}.attn.hook_pattern"]  # (head, q, k)
        np.testing.assert_allclose(np.einsum("hqk,hkd->qhd", A, m), t[f"blocks.{l}.attn.hook_result"],
                                   atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("chunk", [7, 8192])
def test_one_pass_over_many_layernorms_equals_one_space_at_a_time(monkeypatch, chunk):
    monkeypatch.setattr(V, "CHUNK", chunk)
    rng = np.random.default_rng(3)
    W_E = rng.normal(size=(90, 12)).astype(np.float32)
    keep = rng.random(90) < 0.7
    voc = V.Vocabulary(W_E, keep, np.zeros(90, np.float32))
    lns = [(rng.normal(size=12), rng.normal(size=12)) for _ in range(3)]
    queries, space = rng.normal(size=(9, 12)), np.arange(9) % 3
    got = V.nearest_in_ln_spaces(voc, lns, 1e-5, queries, space, k=5)
    for i in range(9):
        want = voc.with_ln(*lns[space[i]], 1e-5).nearest(queries[i:i + 1], 5)
        np.testing.assert_array_equal(got.ids[i], want.ids[0])
        np.testing.assert_allclose(got.cosines[i], want.cosines[0], atol=1e-5)


def test_head_readings_read_each_kind_in_its_space(mini):
    """Patterns against each layer's ln1 space, messages against the raw rows: the batched readings equal
    one-vector reads, and their shapes are (layer, head, pos, k)."""
    ctx = Context.from_model(mini, F.PROMPT)
    r = ctx.analysis(V.head_readings, F.PROMPT, 7)
    L, H, P = mini.cfg.n_layer, mini.cfg.n_head, len(ctx.trace.tokens)
    assert r.patterns.ids.shape == r.messages.ids.shape == (L, H, P, 7)
    assert r.patterns.high.shape == (L, H, P)
    t = ctx.trace
    for l in range(L):  # every pattern of every layer, as one-space reads
        pats = V.head_patterns(t, ctx.weights, l).reshape(H * P, -1)
        one = V.in_ln_space(ctx, f"blocks.{l}.ln1").read(pats, 7)
        np.testing.assert_array_equal(one.ids.reshape(H, P, 7), r.patterns.ids[l])
        np.testing.assert_allclose(one.cosines.reshape(H, P, 7), r.patterns.cosines[l], atol=1e-5)
        np.testing.assert_array_equal(one.high.reshape(H, P), r.patterns.high[l])
    for l, h, p in [(0, 0, 6), (L - 1, H - 1, 2)]:
        pat = V.head_patterns(t, ctx.weights, l)[h, p]
        one = V.in_ln_space(ctx, f"blocks.{l}.ln1").read(pat[None], 7)
        np.testing.assert_array_equal(one.ids[0], r.patterns.ids[l, h, p])
        raw = ctx.analysis(V.vocabulary).read(pat[None], 7)
        assert raw.cosines[0, 0] != pytest.approx(one.cosines[0, 0])  # the space matters
        msg = V.head_messages(t, ctx.weights, l)[h, p]
        np.testing.assert_array_equal(ctx.analysis(V.vocabulary).read(msg[None], 7).ids[0], r.messages.ids[l, h, p])
    voc = ctx.analysis(V.vocabulary)
    assert voc.keep[r.patterns.ids].all() and voc.keep[r.messages.ids].all()  # whole words only


def test_self_attention_leaves_the_bos_query_out():
    A = np.zeros((2, 3, 3))
    A[:, 0, 0] = 1
    A[0] = [[1, 0, 0], [0.2, 0.8, 0], [0.5, 0.1, 0.4]]
    A[1] = [[1, 0, 0], [1, 0, 0], [1, 0, 0]]
    np.testing.assert_allclose(V.self_attention(A), [0.6, 0.0])


def test_home_scores_on_hand_built_lists():
    ids = np.zeros((1, 4, 3, 3), dtype=np.int64)
    ids[0, :, 2] = [[5, 1, 2], [3, 5, 4], [1, 2, 3], [6, 7, 8]]  # head 0: itself first; 1: second; 2, 3: absent
    high = np.zeros((1, 4, 3), bool)
    high[0, 3, 2] = True  # head 3's list is high bias: counts as neither
    reading = V.Reading(ids, np.zeros(ids.shape), np.zeros(high.shape), high, 1.0)
    s = F.home_scores(V.HeadReadings(reading, reading, np.arange(3)), 2, word_id=5, baseball_id=2)
    assert s["rank"] == [1, 2, None, None]
    assert s["elsewhere"] == [2] and s["itself"] == [0] and s["baseball_l0h0"] is True


def test_figures_on_mini(mini):
    ctx = Context.from_model(mini, F.PROMPT)
    specs = specs_of(IDS)
    out = {fid: render(spec, ctx) for fid, spec in specs.items()}
    r = ctx.analysis(V.head_readings, F.PROMPT, F.K)
    L, H, P = r.patterns.high.shape
    bias = out["vocabulary.bias"]["figure"].data
    assert bias["n_lists"] == 2 * L * H * P
    assert bias["n_high_patterns"] == int(r.patterns.high.sum()) and bias["threshold"] == V.HIGH_BIAS_Z
    assert bias["n_words"] == 320 and bias["d_vocab"] == 1283
    pm = out["vocabulary.patterns-messages"]
    vl = pm["vl"]
    values = vl["datasets"][next(iter(vl["datasets"]))] if "datasets" in vl else vl["data"]["values"]
    assert len(values) == L * H * P  # one row per table row; the chart folds pattern and message into cells
    cell = next(v for v in values if v["layer"] == 0 and v["head"] == 0 and v["row"].startswith("6:"))["message"]
    first = ctx.token_str(r.messages.ids[0, 0, 6, 0])
    assert cell["matches"].startswith(f"{first} {r.messages.cosines[0, 0, 6, 0]:.2f}")  # tooltip: word and cosine
    flagged = [v[kind] for v in values for kind in ("pattern", "message") if v[kind]["high"]]
    assert flagged and all(c["words"] == "(high bias)" for c in flagged)
    assert len(flagged) == int(r.patterns.high.sum() + r.messages.high.sum())
    assert '"fold"' in json.dumps(vl) and '"calculate": "datum.cell.words"' in json.dumps(vl)
    home = out["vocabulary.home"]["figure"].data
    assert home["word"] == "␣home" and home["position"] == 6
    assert home["n_elsewhere"] + home["n_high"] + sum(x is not None for x in home["ranks"]) == H
    att = out["vocabulary.attended"]["figure"].data
    self_ = np.array(att["self"])
    assert att["most_self"] == f"L{np.unravel_index(self_.argmax(), self_.shape)[0]}H{np.unravel_index(self_.argmax(), self_.shape)[1]}"
    spec = json.dumps(out["vocabulary.attended"]["vl"])
    assert '"name": "layer"' in spec and '"name": "head"' in spec  # the pickers
    rows = out["vocabulary.attended"]["vl"]["data"]["values"]
    t = ctx.trace
    row = next(v for v in rows if v["layer"] == 1 and v["head"] == 2 and v["row"].startswith("3:"))
    A = t["blocks.1.attn.hook_pattern"][2]
    assert row["a"][:3] == [None] * 3 and row["a"][3:] == [round(float(a), 3) for a in A[3:, 3]]  # queries ≥ key
    for o in out.values():
        for key in ("light", "dark", "vl.svg"):
            if key in o:
                ET.fromstring(o[key].encode())


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A tiny model whose vocabulary holds hostile strings as tokens of their own."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    tok = make_tokenizer()
    tok.add_tokens(["<script>", "{{", "|", "*"])
    torch.manual_seed(0)
    hf = GPT2LMHeadModel(GPT2Config(n_layer=2, n_head=4, n_embd=64, n_positions=48, vocab_size=len(tok),
                                    bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id))
    path = tmp_path_factory.mktemp("hostile")
    hf.save_pretrained(path)
    tok.save_pretrained(path)
    return figgen.load_model(str(path))


def test_hostile_token_strings_stay_text(hostile, monkeypatch):
    prompt = "The <script> {{ | * home run"
    monkeypatch.setattr(F, "PROMPT", prompt)
    ctx = Context.from_model(hostile, prompt)
    shown = ctx.token_strs(ctx.trace.tokens)
    assert "<script>" in shown and "{{" in shown and "|" in shown and "*" in shown
    for fid, spec in specs_of(IDS).items():
        out = render(spec, ctx)
        for key in ("light", "dark", "vl.svg"):
            if key in out:
                svg = out[key]
                ET.fromstring(svg.encode())  # still well-formed XML
                assert "<script>" not in svg, (fid, key)
        if "vl.svg" in out and fid != "vocabulary.home":
            assert "&lt;script&gt;" in out["vl.svg"], fid  # shown, as text
        assert "<script>" in json.dumps(out.get("vl", {}), ensure_ascii=False) or fid in {"vocabulary.bias", "vocabulary.home"}
