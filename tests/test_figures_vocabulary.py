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


# --- the post's named heads: measured on those heads only, None where the model lacks them -----------------


def test_post_heads_are_none_on_mini_and_never_reproduce(mini):
    from figgen.claims import BY_ID, computed_value

    ctx = Context.from_model(mini, F.PROMPT)
    figs = {fid: {"data": render(spec, ctx)["figure"].data} for fid, spec in specs_of(IDS).items()}
    post = figs["vocabulary.patterns-messages"]["data"]["post"]
    assert all(v == {"overlap": None, "baseball_share": None} for v in post["repeating"].values())
    assert set(post["repeating"]) == {"L11H3", "L4H8", "L7H1", "L9H8", "L10H0"}
    assert set(post["identity"]) == {"L6H9", "L7H10", "L9H9", "L8H11"} and set(post["identity"].values()) == {None}
    assert post["alliteration"]["ratio"] is None and post["recurring"]["named_positions"] is None
    assert post["text"]["repeating"] == "this model has no L11H3 (4 layers of 4 heads)"
    assert post["text"]["identity"].startswith("this model has none of L6H9, L7H10, L9H9 and L8H11")
    tri = figs["vocabulary.attended"]["data"]["trifecta"]
    assert tri["n_queries"] is None and tri["position"] == 3 and "no L5H10" in tri["text"]
    for cid in ("vocabulary.l11h3-baseball", "vocabulary.repeating-heads", "vocabulary.l8h11-alliteration",
                "vocabulary.identity-heads", "vocabulary.l6h6-recurring", "vocabulary.l5h10-trifecta"):
        claim = BY_ID[cid]
        value = computed_value(claim, figs)  # every key is there …
        assert not claim.predicate(value), cid  # … and a missing head is never "reproduced"


def test_post_head_scores_recompute_on_heads_mini_has(mini, monkeypatch):
    """The same scores on heads mini does have (the post's constants patched), against loops over the lists."""
    monkeypatch.setattr(F, "REPEATING", ((3, 1), (0, 0), (1, 2), (2, 3), (3, 0)))
    monkeypatch.setattr(F, "IDENTITY", ((0, 1), (1, 1), (2, 2), (3, 3)))
    monkeypatch.setattr(F, "ALLITERATION", (2, 0))
    monkeypatch.setattr(F, "RECURRING", (1, 3))
    monkeypatch.setattr(F, "RECURRING_WORDS", (" hit", " home", " run"))
    ctx = Context.from_model(mini, F.PROMPT)
    post = F.post_heads(ctx)
    r = ctx.analysis(V.head_readings, F.PROMPT, F.K)
    tokens, P = ctx.trace.tokens, len(ctx.trace.tokens)
    voc = ctx.analysis(V.vocabulary)
    words = ctx.analysis(V.decoded_vocabulary)
    bb = ctx.tokenizer.encode(F.BASEBALL)[0]
    context = set(voc.read(voc.W_E[[bb]], F.N_CONTEXT).ids[0].tolist())
    overlaps = F.list_overlap(r.messages)
    for l, h in F.REPEATING:
        got = post["repeating"][f"L{l}H{h}"]
        assert got["overlap"] == pytest.approx(overlaps[l, h], abs=1e-4)
        share = np.mean([not r.messages.high[l, h, p] and len(context & set(r.messages.ids[l, h, p].tolist()))
                         >= F.CONTEXT_MIN for p in range(1, P)])
        assert got["baseball_share"] == pytest.approx(share, abs=1e-4)
    for l, h in F.IDENTITY:
        want = np.mean([not r.messages.high[l, h, p] and tokens[p] in r.messages.ids[l, h, p] for p in range(1, P)])
        assert post["identity"][f"L{l}H{h}"] == pytest.approx(want, abs=1e-4)
    a = post["alliteration"]
    positions = [2, 3, 4, 7]  # ␣baseball ␣player ␣hit ␣run in mini's tokens too
    assert [ctx.token_str(tokens[p]) for p in positions] == a["words"]
    for p, src, n, found in zip(positions, F.ALLITERATION_WORDS, a["counts"], a["found"]):
        listed = [] if r.messages.high[2, 0, p] else [words[i] for i in r.messages.ids[2, 0, p]]
        assert n == len(found) == sum(w[1:2].isupper() and w[1] == src[1].upper() and
                                      not w[1:].lower().startswith(src[1:]) for w in listed)
    assert a["n_words_with"] == sum(c > 0 for c in a["counts"])
    rec = post["recurring"]
    for word, n in zip(F.RECURRING_WORDS, rec["named_positions"]):
        i = ctx.tokenizer.encode(word)[0]
        assert n == sum(not r.patterns.high[1, 3, p] and i in r.patterns.ids[1, 3, p] for p in range(1, P))
    assert post["text"]["repeating"].startswith("L3H1's message lists share")


def test_trifecta_on_a_head_mini_has(mini, monkeypatch):
    monkeypatch.setattr(F, "TRIFECTA", (2, 1))
    ctx = Context.from_model(mini, F.PROMPT)
    r = ctx.analysis(V.head_readings, F.PROMPT, F.K)
    pat = [ctx.tokenizer.decode([int(i)]) for i in r.patterns.ids[2, 1, 3, :2]]
    msg = ctx.tokenizer.decode([int(r.messages.ids[2, 1, 3, 0])])
    monkeypatch.setattr(F, "TRIFECTA_PATTERN", tuple(pat))  # both in its list
    monkeypatch.setattr(F, "TRIFECTA_MESSAGE", (msg, " zzzz"))  # one is not even a token
    d = F.trifecta(ctx)
    A = ctx.trace["blocks.2.attn.hook_pattern"][1]
    assert d["weights"] == [round(float(A[i, 3]), 4) for i in range(4, 8)]
    assert d["n_queries"] == sum(A[i, 3] >= F.ATTEND_MIN and A[i, 3] >= A[i, 1:i + 1].max() for i in range(4, 8))
    assert d["pattern"] is (not r.patterns.high[2, 1, 3]) and d["message"] is False
    assert "lacks ␣zzzz" in d["text"] or "high bias" in d["text"]


def test_filter_effect_shows_what_is_hidden():
    ids = np.zeros((1, 3, 2, 3), np.int64)
    ids[0, :, 1] = [[4, 9, 5], [9, 1, 2], [3, 4, 5]]  # 9 is "␣baseball": second in L0H0's list, first in L0H1's
    high = np.zeros((1, 3, 2), bool)
    high[0, [0, 1], 1] = True
    z = np.zeros((1, 3, 2))
    z[0, :, 1] = [1.5, -2.0, 0.1]
    reading = V.Reading(ids, np.zeros(ids.shape), z, high, 1.0)
    ctx = type("Ctx", (), {"token_str": staticmethod(lambda i: f"w{int(i)}"),
                           "token_strs": staticmethod(lambda ids: [f"w{int(i)}" for i in ids])})()
    d = F.filter_effect(ctx, V.HeadReadings(reading, reading, np.array([0, 7])), 1, baseball_id=9)
    assert d["l0h0_words"] == ["w4", "w9", "w5"] and d["l0h0_high"] and d["l0h0_baseball_rank"] == 2
    assert d["hidden"] == ["L0H0", "L0H1"] and d["baseball_hidden_in"] == ["L0H0", "L0H1"]
    assert "z = +1.50, beyond the threshold, so the table hides it, and ␣baseball is its 2nd word" in d["l0h0_text"]
    assert d["hidden_text"].startswith("the filter hides 2 of layer 0's 3 lists")


def test_head_claims_state_the_figures_thresholds():
    from figgen.claims import BY_ID

    assert F.OVERLAP == 0.5 and "at least 50%" in BY_ID["vocabulary.l11h3-baseball"].criterion
    assert f"the {F.N_CONTEXT} whole words" in BY_ID["vocabulary.l11h3-baseball"].criterion
    assert f"at least {F.CONTEXT_MIN} of their 10" in BY_ID["vocabulary.l11h3-baseball"].criterion
    assert f"at {F.RECUR_MIN} or more positions" in BY_ID["vocabulary.l6h6-recurring"].criterion
    assert f"at least {F.ATTEND_MIN:.0%} of" in BY_ID["vocabulary.l5h10-trifecta"].criterion
    assert f"beyond ±{V.HIGH_BIAS_Z:g} standard" in BY_ID["vocabulary.bos-neurons-high-bias"].criterion
    assert BY_ID["vocabulary.l5h10-trifecta"].predicate([2, True, True])
    assert not BY_ID["vocabulary.l5h10-trifecta"].predicate([1, True, True])
    assert BY_ID["vocabulary.l8h11-alliteration"].predicate([3.0, 4]) and not BY_ID[
        "vocabulary.l8h11-alliteration"].predicate([5.0, 3])


# --- the page's words, decided by counts (hand-built) ----------------------------------------------------------


def test_findings_in_words():
    assert F.head_finding(7, 0, 16) == (
        "7 of the 16 heads leave nearly the same pattern at every position of the prompt, whatever the token, and no "
        "head writes messages that name the word they come from at half of the positions or more")
    assert F.head_finding(0, 1, 144).startswith("no head leaves nearly the same pattern")
    assert F.head_finding(1, 3, 144).startswith("1 of the 144 heads leaves") and "3 heads write messages" in \
        F.head_finding(1, 3, 144)
    assert F.home_heads(4, 4) == ("all 4 heads of layer 0", "")
    assert F.home_heads(7, 12) == ("most heads of layer 0, 7 of 12,", "")
    assert F.home_heads(1, 12) == ("only 1 of layer 0's 12 heads", "s") and F.home_heads(0, 12)[0] == "no head of layer 0"
    assert F.bos_finding(5, 16) == "A minority of its heads, 5 of 16, give the BOS most of their attention"
    assert F.bos_finding(100, 144).startswith("Most of its heads, 100 of 144, give")
    assert F.bos_finding(8, 16).startswith("Half of its heads") and F.bos_finding(0, 16).startswith("None of its")


def test_repeat_caption_names_the_most_repetitive_lists():
    rep = {"pattern": {"head": "L0H0", "overlap": 0.86}, "message": {"head": "L1H2", "overlap": 0.3}}
    assert F.repeat_caption(rep) == "At some heads the lists barely depend on the token: most of all L0H0's patterns."
    rep = {"pattern": {"head": "L0H0", "overlap": 0.2}, "message": {"head": "L11H3", "overlap": 0.7}}
    assert F.repeat_caption(rep).endswith("most of all L11H3's messages.")
    rep = {"pattern": {"head": "L0H0", "overlap": 0.2}, "message": {"head": "L1H2", "overlap": 0.3}}
    assert F.repeat_caption(rep) == "Every head's lists change from position to position."
