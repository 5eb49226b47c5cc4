"""The day-circuit deep dive in vivo (seed 002): the analysis on hand-built arrays, TransformerLens's weight
processing by hand, the figures on mini against single-prompt traces and edited runs, and the claims'
predicates. (Every per-head number is also compared with TransformerLens itself: test_transformer_lens.py.)"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from figgen import claims, interventions as iv, trace
from figgen.analysis import circuit as C
from figgen.analysis import processing as P
from figgen.figures import day_circuit as D
from figgen.figures import day_task as T
from figgen.figures.registry import PAGES

IDS = ("day-circuit.task", "day-circuit.ablation", "day-circuit.successor", "day-circuit.day-distribution",
       "day-circuit.head-lens", "day-circuit.attention", "day-circuit.streams", "day-circuit.layer-lens",
       "day-circuit.steering", "day-circuit.mlps")


# --- analysis, on hand-built arrays ---------------------------------------------------------------------


def test_correct_probs_and_deltas():
    logits = np.log(np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]))  # (batch 2, vocab 3)
    targets = [0, 2]
    assert np.allclose(C.correct_probs(logits, targets), [0.7, 0.8])
    sweep = np.broadcast_to(logits, (2, 1, 2, 2, 3)).copy()  # (kind, layer, head, batch, vocab)
    sweep[1, 0, 1] = np.log([[0.5, 0.25, 0.25], [0.2, 0.2, 0.6]])
    d = C.ablation_deltas(C.correct_probs(sweep, targets), C.correct_probs(logits, targets))
    assert d.shape == (2, 1, 2)
    assert np.allclose(d[0], 0) and np.isclose(d[1, 0, 0], 0) and np.isclose(d[1, 0, 1], -0.2)


def test_top_heads_threshold_and_order():
    delta = np.array([[0.01, -0.30], [0.20, -0.06]])
    assert C.top_heads(delta, 0.05, 5) == [(0, 1, -0.30), (1, 0, 0.20), (1, 1, -0.06)]
    assert C.top_heads(delta, 0.05, 2) == [(0, 1, -0.30), (1, 0, 0.20)]
    assert C.top_heads(delta, 0.5, 5) == []


def test_datasets_replace_only_their_slots():
    words = C.space_words(["If", " house", " dog", "x", " two words", " 12", " Tree"])
    assert words.tolist() == [1, 2, 6]
    ids = C.random_word_ids(words, 50, 3, seed=1)
    assert ids.shape == (50, 3) and set(ids.ravel()) <= {1, 2, 6}
    assert (C.random_word_ids(words, 50, 3, seed=1) == ids).all()  # seeded
    template = np.arange(8) + 100
    data = C.dataset(template, (2, 4, 6), ids)
    assert data.shape == (50, 8)
    assert (data[:, [0, 1, 3, 5, 7]] == template[[0, 1, 3, 5, 7]]).all() and (data[:, [2, 4, 6]] == ids).all()


def test_successor_scores_and_day_distribution():
    n = 7
    logits = np.zeros((2, 2, n, n))  # (layer, head, prompt, day)
    for b in range(n):
        logits[1, 0, b, (b + 1) % n] = 1.0  # a perfect successor head
        logits[0, 1, b, b] = 1.0  # a copying head
        logits[0, 0, b, b] = 0.5  # copies the day …
    for b in range(3):
        logits[0, 0, b, b + 1] = 1.0  # … except on 3 prompts, where the next day wins
    logits[1, 1] = np.random.default_rng(0).normal(size=(n, n))
    logits[1, 1, :, 1:] -= 10  # Monday always first: right on the Sunday prompt only
    scores = C.successor_scores(logits)
    assert scores[1, 0] == 7 and scores[0, 1] == 0 and scores[0, 0] == 3 and scores[1, 1] == 1
    assert C.successor_heads(scores, 7) == [(1, 0)]
    z = C.day_distribution(np.random.default_rng(1).normal(size=(n, n)) * 5 + 2)
    assert np.allclose(z.mean(-1), 0) and np.allclose(z.std(-1), 1)


def test_lens_read_is_the_lens_softmax_over_the_vocabulary():
    rng = np.random.default_rng(2)
    d, V = 8, 30
    w, b, W_U = rng.uniform(0.5, 2, d), rng.normal(size=d), rng.normal(size=(d, V)).astype(np.float32)
    x = rng.normal(size=(3, 5, d)) * 4
    ids = rng.integers(0, V, size=(3, 5, 2))
    probs, logits, top = C.lens_read(x, w, b, W_U, 1e-5, ids, chunk=4)  # chunks that split the rows
    assert probs.shape == (3, 5, 2) and top.shape == (3, 5)
    v = x[2, 3]
    n = (v - v.mean()) / np.sqrt(((v - v.mean()) ** 2).mean() + 1e-5) * w + b
    z = n @ W_U.astype(np.float64)
    assert np.allclose(logits[2, 3], z[ids[2, 3]], atol=1e-4)
    assert np.allclose(probs[2, 3], C.softmax(z)[ids[2, 3]], atol=1e-5) and top[2, 3] == z.argmax()
    # ids broadcast: one id set for every vector
    p1, _, _ = C.lens_read(x, w, b, W_U, 1e-5, np.array([4, 7]))
    assert np.allclose(p1[1, 0], C.softmax(((x[1, 0] - x[1, 0].mean()) / np.sqrt(x[1, 0].var() + 1e-5) * w + b)
                                           @ W_U.astype(np.float64))[[4, 7]], atol=1e-5)


def test_lens_read_with_the_streams_scale_and_without_beta():
    rng = np.random.default_rng(4)
    d, V = 8, 20
    w, b, W_U = rng.uniform(0.5, 2, d), rng.normal(size=d), rng.normal(size=(d, V)).astype(np.float32)
    x, scale = rng.normal(size=(3, d)), np.array([2.0, 5.0, 0.5])
    probs, logits, top = C.lens_read(x, w, b, W_U, 1e-5, np.array([1, 3]), scale=scale, bias=False)
    z = ((x - x.mean(-1, keepdims=True)) / scale[:, None] * w) @ W_U.astype(np.float64)
    assert np.allclose(probs, C.softmax(z)[:, [1, 3]], atol=1e-5) and (top == z.argmax(-1)).all()
    cols = C.lens_logits(x, w, b, W_U[:, [1, 3]], 1e-5)
    own = C.lens_read(x, w, b, W_U, 1e-5, np.array([1, 3]))[1]
    assert np.allclose(cols, own, atol=1e-4)


def test_value_bias_is_what_transformer_lens_folds_out_of_a_head():
    """(b_V + β₁·W_V)·W_O: with pattern rows summing to 1, a head's result is LN1 without β, times W_V W_O,
    plus exactly that constant (checked on an explicit one-head computation)."""
    rng = np.random.default_rng(5)
    H, d, e, n = 2, 6, 3, 4
    W = {"blocks.0.attn.W_V": rng.normal(size=(H, d, e)), "blocks.0.attn.b_V": rng.normal(size=(H, e)),
         "blocks.0.attn.W_O": rng.normal(size=(H, e, d)), "blocks.0.ln1.w": rng.uniform(0.5, 2, d),
         "blocks.0.ln1.b": rng.normal(size=d)}
    x = rng.normal(size=(n, d))
    c = x - x.mean(-1, keepdims=True)
    c = c / np.sqrt((c ** 2).mean(-1, keepdims=True) + 1e-5)
    pattern = rng.dirichlet(np.ones(n))  # one query's attention row
    vb = P.value_bias(W, 0)
    for h in range(H):
        v = (c * W["blocks.0.ln1.w"] + W["blocks.0.ln1.b"]) @ W["blocks.0.attn.W_V"][h] + W["blocks.0.attn.b_V"][h]
        result = pattern @ v @ W["blocks.0.attn.W_O"][h]
        folded = pattern @ (c * W["blocks.0.ln1.w"]) @ W["blocks.0.attn.W_V"][h] @ W["blocks.0.attn.W_O"][h]
        assert np.allclose(result, folded + vb[h])
    r = P.processed_results(rng.normal(size=(5, H, d)), vb)
    assert np.allclose(r.mean(-1), 0)


def test_the_post_heads_are_followed_on_gpt2s_shape_only():
    assert T.has_post_heads(SimpleNamespace(dims=SimpleNamespace(n_layers=12, n_heads=12)))
    assert not T.has_post_heads(SimpleNamespace(dims=SimpleNamespace(n_layers=24, n_heads=16)))  # gpt2-medium
    assert not T.has_post_heads(SimpleNamespace(dims=SimpleNamespace(n_layers=4, n_heads=4)))  # mini
    assert T.head_at([[1, 2], [3, 4]], 1, 0) == 3 and T.head_at([[1, 2]], 9, 1) is None


# --- the figures on mini -----------------------------------------------------------------------------


def _head(label: str) -> tuple[int, int]:
    return int(label[1:label.index("H")]), int(label[label.index("H") + 1:])


def _days(mini):
    tokens = iv.tokenize_batch(mini, list(D.PROMPTS))
    day_ids = [mini.tokenizer.encode(" " + d)[0] for d in D.DAYS]
    targets = [day_ids[(i + 1) % 7] for i in range(7)]
    return tokens, day_ids, targets


def _weights(mini):
    return {k: v.detach().cpu().numpy().astype(np.float64) for k, v in mini.weights.items()}


def test_page_is_registered():
    assert PAGES["day-circuit"] == "deep-dives/day-circuit/"
    assert len(D.PROMPTS) == 7 and D.PROMPTS[0] == "If today is Monday, tomorrow is"


def test_task_probs_match_the_trace(mini, mini_site):
    data = mini_site["day-circuit.task"]["figure"].data
    assert data["n_prompts"] == 7 and data["single_token_days"]
    assert iv.tokenize_batch(mini, list(D.PROMPTS)).shape == (7, data["n_tokens"])
    for i in (0, 6):  # Monday → Tuesday, Sunday → Monday: one forward pass per prompt, not batched
        t = trace(mini, D.PROMPTS[i])
        target = mini.tokenizer.encode(" " + D.DAYS[(i + 1) % 7])[0]
        assert data["probs"][i] == pytest.approx(C.softmax(t["logits"][-1])[target], abs=1e-4)
    assert data["n_top1"] <= 7 and 0 <= data["min_prob"] <= data["mean_prob"] <= 1


def test_ablation_table_matches_single_runs(mini, mini_site):
    """The sweep's Δ for the most harmful head: under zero ablation (its value-bias term kept) and under mean
    ablation, equal to edited runs of that head alone."""
    data = mini_site["day-circuit.ablation"]["figure"].data
    m = mini_site.ctx.analysis(T.dataset_means)
    L, H = mini.weights.dims.n_layers, mini.weights.dims.n_heads
    for kind in T.ABLATIONS:
        assert np.asarray(data[kind]["delta"]).shape == (L, H) and len(data[kind]["top"]) <= D.TOP_K
        assert all(abs(np.asarray(data[kind]["delta"])[_head(s)]) >= D.THRESHOLD for s in data[kind]["top"])
    tokens, _, targets = _days(mini)
    clean = C.correct_probs(iv.run(mini, tokens, final_only=True).logits[:, -1], targets)
    for kind, value in (("zero", lambda l, h: P.value_bias(_weights(mini), l)[h].astype(np.float32)),
                        ("mean", lambda l, h: m["mean"][l, :, h])):
        l, h = _head(data[kind]["most_harmful"])
        out = iv.run(mini, tokens, edits=[iv.ReplaceHead(l, h, value(l, h))], final_only=True).logits[:, -1]
        assert data[kind]["most_harmful_delta"] == pytest.approx((C.correct_probs(out, targets) - clean).mean(), abs=1e-4)
    assert data["n_dataset"] == T.N_DATASET and data["example_mean"].startswith("If today is ")
    z = data["zero_convention"]
    assert z["head"] == data["zero"]["most_harmful"] or z["kept"] != z["removed"]  # the two conventions differ


def _own_day_logits(mini, l: int, h: int) -> np.ndarray:
    """(prompt, 7): head (l, h)'s output from single-prompt traces, its value-bias term out, through the final
    LayerNorm with its own scale, γ and β, at the day tokens — by hand."""
    W = _weights(mini)
    _, day_ids, _ = _days(mini)
    vb = P.value_bias(W, l)[h]
    rows = []
    for prompt in D.PROMPTS:
        r = trace(mini, prompt)[f"blocks.{l}.attn.hook_result"][-1, h] - vb
        x = (r - r.mean()) / np.sqrt(((r - r.mean()) ** 2).mean() + mini.cfg.layer_norm_epsilon)
        rows.append((x * W["ln_final.w"] + W["ln_final.b"]) @ W["W_U"])
    return np.array(rows), day_ids


def test_successor_scores_match_the_trace(mini, mini_site):
    """The best head's score and day table recomputed from single-prompt traces and the weights by hand."""
    data = mini_site["day-circuit.successor"]["figure"].data
    l, h = _head(data["best"])
    logits, day_ids = _own_day_logits(mini, l, h)
    days = logits[:, day_ids]
    assert int((days.argmax(-1) == (np.arange(7) + 1) % 7).sum()) == data["best_score"] == data["scores"][l][h]
    assert data["n_all_seven"] == len(data["all_seven"]) == int((np.asarray(data["scores"]) == 7).sum())
    dist = mini_site["day-circuit.day-distribution"]["figure"].data
    c = mini_site.ctx.analysis(T.circuit_heads)
    assert dist["head"] == D.head_label(*c["successor"]) and np.asarray(dist["table"]).shape == (7, 7)
    assert np.allclose(np.asarray(dist["table"]).mean(-1), 0, atol=1e-3)


def test_head_lens_matches_the_trace(mini, mini_site):
    """The head with the highest P(subject day): recomputed from single-prompt traces with the lens by hand."""
    data = mini_site["day-circuit.head-lens"]["figure"].data
    L, H = mini.weights.dims.n_layers, mini.weights.dims.n_heads
    assert np.asarray(data["subject_mean"]).shape == (L, H) == np.asarray(data["subject_mean_stream"]).shape
    l, h = _head(data["best_subject"])
    logits, day_ids = _own_day_logits(mini, l, h)
    p = [C.softmax(logits[i])[day_ids[i]] for i in range(7)]
    assert data["best_subject_prob"] == pytest.approx(np.mean(p), abs=1e-4)
    assert data["top"][l][h] == [mini_site.ctx.token_str(int(i)) for i in logits.argmax(-1)]
    sm = np.asarray(data["subject_mean"])
    assert data["n_copying"] == int((sm >= T.COPY_THRESHOLD).sum()) == len(data["copying"])
    assert data["named"] is None  # mini has not the post's heads


def test_attention_and_fixed_pattern_on_mini(mini, mini_site):
    """mini's day circuit: its successor head reads the day (> half its attention), and a row fixed on the day
    equals a single-prompt run with that SetPattern."""
    a = mini_site["day-circuit.attention"]["figure"].data
    st = mini_site["day-circuit.streams"]["figure"].data
    tokens, day_ids, targets = _days(mini)
    assert a["subject_position"] == 4 and tokens[0, 4] == day_ids[0] and not a["follows_post"]
    l, h = _head(a["successor"])
    pat = np.stack([trace(mini, p)[f"blocks.{l}.attn.hook_pattern"][h, -1, 4] for p in D.PROMPTS])
    assert a["successor_attention"] == pytest.approx(pat.mean(), abs=1e-4)
    assert a["successor_attention"] > 0.5  # mini's L0H1 reads the day: meaning, not only plumbing
    for i in (0, 3):
        out = iv.run(mini, tokens[i:i + 1], edits=[iv.SetPattern(l, h, -1, 4)], final_only=True).logits[:, -1]
        assert st["successor_fixed"][i] == pytest.approx(C.correct_probs(out, [targets[i]])[0], abs=1e-4)
    assert st["both_best_is_subject"]  # on mini too, the day is the position that works
    assert st["both_fixed_mean"] > st["both_other_best"]


def test_layer_lens_ends_at_the_output(mini_site):
    """The lens after the last layer is the model's own output: its correct probability is the task's."""
    ll = mini_site["day-circuit.layer-lens"]["figure"].data
    task = mini_site["day-circuit.task"]["figure"].data
    assert ll["last_prob"] == pytest.approx(task["mean_prob"], abs=2e-4)
    assert ll["correct_mean"][ll["peak_layer"]] == ll["peak_prob"] >= ll["last_prob"]
    assert all(top == "␣" + D.DAYS[(i + 1) % 7] for i, top in enumerate(ll["top"][-1]))  # mini solves all 7
    assert ll["correct_first_misses"][-1] == []  # …so the correct day is also first among the days at the end


def test_steering_on_mini(mini, mini_site):
    """α = 0 is the clean attention; α = 5 recomputed as one whole edited run (the vector built by hand)."""
    st = mini_site["day-circuit.steering"]["figure"].data
    a = mini_site["day-circuit.attention"]["figure"].data
    assert st["head"] == a["successor"] and st["attention_0"] == pytest.approx(a["successor_attention"], abs=1e-4)
    l, h = _head(st["head"])
    assert st["hook"] == f"blocks.{l}.hook_resid_pre"
    W = _weights(mini)
    t = mini.tokenizer.encode(" tomorrow")[0]
    u = W["ln_final.w"] * (W["W_U"][:, t] - W["W_U"].mean(1))
    tokens, _, _ = _days(mini)
    out = iv.run(mini, tokens, edits=[iv.AddResid(st["hook"], (5 * u).astype(np.float32))],
                 keep=[f"blocks.{l}.attn.hook_pattern"], final_only=True)
    assert st["attention_5"] == pytest.approx(out[f"blocks.{l}.attn.hook_pattern"][:, h, -1, 4].mean(), abs=1e-4)
    assert st["norm"] == pytest.approx(np.linalg.norm(u), abs=1e-3)


def test_mlps_on_mini(mini, mini_site):
    """The zero-ablation bar of the most needed MLP equals a ReplaceMLP run; on mini that is MLP 0, without
    which the task fails."""
    m = mini_site["day-circuit.mlps"]["figure"].data
    L = mini.weights.dims.n_layers
    assert len(m["local"]) == len(m["ablated"]) == L
    tokens, _, targets = _days(mini)
    clean = C.correct_probs(iv.run(mini, tokens, final_only=True).logits[:, -1], targets)
    abl = C.correct_probs(iv.run(mini, tokens, edits=[iv.ReplaceMLP(m["needed"], 0.0)], final_only=True).logits[:, -1],
                          targets)
    assert m["needed_delta"] == pytest.approx((abl - clean).mean(), abs=1e-4)
    assert m["needed"] == 0 and m["needed_delta"] < -0.5
    assert m["local"][m["helpful"]] == max(m["local"]) and m["local"][m["harmful"]] == min(m["local"])
    assert m["helpful_decopies"] == (m["subject_after"] < m["subject_before"] and m["correct_after"] > m["correct_before"])


@pytest.mark.parametrize("fid", IDS)
def test_figures_are_well_formed(mini_site, fid):
    from .figtools import assert_well_formed

    assert_well_formed(mini_site[fid], fid)


# --- claims ----------------------------------------------------------------------------------------------


def test_claims_registered_with_the_post():
    ours = [c for c in claims.CLAIMS if c.section == "day-circuit"]
    assert len(ours) >= 36
    assert all(c.source.seed == claims.SEED_002.seed and c.source.section and c.about == claims.GPT2_SMALL
               for c in ours)
    assert all(c.checked.startswith(("TransformerLens", "transformers")) for c in ours)  # each names its check
    from figgen.claims import day_circuit

    assert f"over {T.N_DATASET:,} prompts" in day_circuit.DATASETS  # the conventions say the size used


def _table():
    return [[0.0] * 12 for _ in range(12)]


def test_in_vivo_claims_predicates():
    by = claims.BY_ID
    assert by["day-circuit.successor-head"].predicate(["L9H1"]) and not by["day-circuit.successor-head"].predicate(["L9H1", "L10H3"])
    assert by["day-circuit.l10h3-ablation"].predicate(["L10H3", "L10H3"]) and not by["day-circuit.l10h3-ablation"].predicate(["L10H3", "L0H1"])
    assert by["day-circuit.copy-l10h3"].compute([[0.0] * 4] * 4) is None  # a model without L10H3
    table = _table()
    table[10][3] = 0.59
    assert by["day-circuit.copy-l10h3"].compute(table) == 0.59 and by["day-circuit.copy-l10h3"].predicate(0.59)
    top = by["day-circuit.l10h3-top-token"]
    right = ["␣Monday", "␣Wednesday", "␣Wednesday", "␣Thursday", "␣Friday", "␣Saturday", "␣Sunday"]
    assert top.predicate(right) and not top.predicate(["␣Monday", "␣Tuesday", *right[2:]]) and not top.predicate(None)
    named = {"L10H3": {"zero": -0.4, "mean": -0.3, "random": -0.3}, "L0H8": {"zero": -0.3, "mean": 0, "random": 0},
             "L11H0": {"zero": -0.1, "mean": 0, "random": 0}, "L8H9": {"zero": 0.01, "mean": 0.02, "random": 0.01},
             "L10H7": {"zero": 0.02, "mean": 0.03, "random": -0.01}, "L8H1": {"zero": 0, "mean": -0.1, "random": -0.1},
             "L8H6": {"zero": 0, "mean": -0.1, "random": -0.1}, "L8H8": {"zero": 0, "mean": -0.1, "random": -0.2}}
    peers, bad, helpers = (by[f"day-circuit.{x}"] for x in ("zero-ablation-peers", "destructive-heads", "layer8-helpers"))
    assert not peers.predicate(peers.compute(named))  # L11H0 only a quarter of L10H3's
    named["L11H0"]["zero"] = -0.25
    assert peers.predicate(peers.compute(named))
    assert not bad.predicate(bad.compute(named))  # L10H7 under random ablation helps
    named["L10H7"]["random"] = 0.01
    assert bad.predicate(bad.compute(named)) and helpers.predicate(helpers.compute(named))
    assert peers.compute(None) is None and not peers.predicate(None)
    ranks = by["day-circuit.day-ranks-by-layer"]
    misses = [[]] * 12
    misses = misses[:9] + [["Monday"]] + misses[10:]
    assert ranks.predicate(ranks.compute([8, 9], misses)) and not ranks.predicate(ranks.compute([9], misses))
    assert by["day-circuit.tomorrow-top"].predicate([8, 9]) and not by["day-circuit.tomorrow-top"].predicate([8])
    assert by["day-circuit.mlp9-decopies"].predicate([9, True]) and not by["day-circuit.mlp9-decopies"].predicate([9, False])
    assert by["day-circuit.mlp0-ablation"].predicate(0) and not by["day-circuit.mlp0-ablation"].predicate(1)
    assert by["day-circuit.subject-stream"].predicate(by["day-circuit.subject-stream"].compute("4: ␣⟨day⟩", True))
    assert not by["day-circuit.subject-stream"].predicate(by["day-circuit.subject-stream"].compute("4: ␣⟨day⟩", False))
    gpt2 = {"name": "gpt2", "is_gpt2_small": True}
    steer = by["day-circuit.steer-100"]
    assert claims.status(steer, steer.compute(0.76, True), gpt2) == "reproduced"
    assert claims.status(steer, steer.compute(0.70, True), gpt2) == "not reproduced"
    assert claims.status(steer, steer.compute(0.75, False), gpt2) == "not reproduced"  # not the post's head


def test_claims_on_mini_are_other_model(mini_site):
    figures = [{"id": f, "data": mini_site[f]["figure"].data} for f in IDS]
    manifest = {"figures": figures, "model": {"name": "mini", "is_gpt2_small": False}}
    records = {r["id"]: r for r in claims.evaluate(manifest)
               if r["section"] == "day-circuit" and set(r["figures"]) <= set(IDS)}  # this module's figures
    assert len(records) >= 25 and {r["status"] for r in records.values()} == {"other model"}
    assert records["day-circuit.successor-head"]["computed"] == mini_site["day-circuit.successor"]["figure"].data[
        "own"]["all_seven"]
    as_gpt2 = {"figures": figures, "model": {"name": "gpt2", "is_gpt2_small": True}}
    assert {r["id"]: r["status"] for r in claims.evaluate(as_gpt2)}["day-circuit.solves-all"] == (
        "reproduced" if mini_site["day-circuit.task"]["figure"].data["n_top1"] == 7 else "not reproduced")
