"""The day-circuit deep dive (seed 002): the analysis on hand-built arrays, the figures on mini, and the
claims' predicates."""

from __future__ import annotations

import numpy as np
import pytest

from figgen import claims, interventions as iv, trace
from figgen.analysis import circuit as C
from figgen.figures import day_circuit as D
from figgen.figures.registry import PAGES

IDS = ("day-circuit.task", "day-circuit.ablation", "day-circuit.successor", "day-circuit.day-distribution",
       "day-circuit.head-lens", "day-circuit.attention", "day-circuit.streams", "day-circuit.layer-lens",
       "day-circuit.steering", "day-circuit.mlps", "day-circuit.subsets")
IN_VIVO = {"day-circuit.copy-l10h3", "day-circuit.copy-l6h9", "day-circuit.copy-l7h10", "day-circuit.copy-l8h1",
           "day-circuit.successor-attention", "day-circuit.copying-attention", "day-circuit.fixed-attention-helps",
           "day-circuit.subject-stream", "day-circuit.tomorrow-top", "day-circuit.peak-layer",
           "day-circuit.steer-m5", "day-circuit.steer-m1", "day-circuit.steer-5", "day-circuit.steer-100",
           "day-circuit.mlp9-decopies", "day-circuit.mlp7-harmful", "day-circuit.mlp0-ablation"}


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


def test_head_day_logits_centre_gamma_and_value_bias():
    rng = np.random.default_rng(0)
    d, V = 6, 10
    results = rng.normal(size=(2, 3, 2, d))  # (layer, batch, head, d_model)
    gamma, W_U = rng.uniform(0.5, 2, d), rng.normal(size=(d, V))
    days = [1, 4, 7]
    out = C.head_day_logits(results, gamma, W_U, days)
    assert out.shape == (2, 2, 3, 3)
    r = results[1, 2, 0]
    assert np.allclose(out[1, 0, 2], ((r - r.mean()) * gamma) @ W_U[:, days])
    # adding a constant to every component (what LayerNorm removes) changes nothing
    assert np.allclose(C.head_day_logits(results + 3.0, gamma, W_U, days), out)
    vb = rng.normal(size=(2, 2, d))
    folded = C.head_day_logits(results, gamma, W_U, days, value_bias=vb)
    r2 = results[0, 1, 1] - vb[0, 1]
    assert np.allclose(folded[0, 1, 1], ((r2 - r2.mean()) * gamma) @ W_U[:, days])


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


# --- the figures on mini -----------------------------------------------------------------------------


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
        p = C.softmax(t["logits"][-1])[target]
        assert data["probs"][i] == pytest.approx(p, abs=1e-4)
    assert data["n_top1"] <= 7 and 0 <= data["min_prob"] <= data["mean_prob"] <= 1


def test_ablation_table_matches_a_single_run(mini, mini_site):
    """The sweep's Δ for the most harmful head under zero ablation equals an edited run of that head alone."""
    data = mini_site["day-circuit.ablation"]["figure"].data
    L, H = mini.weights.dims.n_layers, mini.weights.dims.n_heads
    for kind in D.KINDS:
        assert np.asarray(data[kind]["delta"]).shape == (L, H)
        assert all(abs(np.asarray(data[kind]["delta"])[int(s[1:s.index("H")]), int(s[s.index("H") + 1:])])
                   >= D.THRESHOLD for s in data[kind]["top"])
        assert len(data[kind]["top"]) <= D.TOP_K
    head = data["zero"]["most_harmful"]
    l, h = int(head[1:head.index("H")]), int(head[head.index("H") + 1:])
    tokens = iv.tokenize_batch(mini, list(D.PROMPTS))
    targets = [mini.tokenizer.encode(" " + D.DAYS[(i + 1) % 7])[0] for i in range(7)]
    clean = C.correct_probs(iv.run(mini, tokens, final_only=True).logits[:, -1], targets)
    ablated = C.correct_probs(iv.run(mini, tokens, edits=[iv.ReplaceHead(l, h, 0.0)], final_only=True).logits[:, -1],
                              targets)
    assert data["zero"]["most_harmful_delta"] == pytest.approx((ablated - clean).mean(), abs=1e-4)
    assert data["n_dataset"] == D.N_DATASET and data["example_mean"].startswith("If today is ")


def test_successor_scores_match_the_trace(mini, mini_site):
    """Every head's score recomputed from single-prompt traces (not the batched run) and the weights."""
    data = mini_site["day-circuit.successor"]["figure"].data
    L = mini.weights.dims.n_layers
    W = {k: v.detach().cpu().numpy() for k, v in mini.weights.items()}
    days = [mini.tokenizer.encode(" " + d)[0] for d in D.DAYS]
    res = np.stack([np.stack([trace(mini, p)[f"blocks.{l}.attn.hook_result"][-1] for p in D.PROMPTS])
                    for l in range(L)])  # (layer, 7, head, d_model)
    scores = C.successor_scores(C.head_day_logits(res, W["ln_final.w"], W["W_U"], days))
    assert scores.tolist() == data["scores"]
    assert data["n_all_seven"] == len(data["all_seven"]) == int((scores == 7).sum())
    assert data["best_score"] == scores.max()
    dist = mini_site["day-circuit.day-distribution"]["figure"].data
    assert dist["head"] == data["best"] and np.asarray(dist["table"]).shape == (7, 7)
    assert np.allclose(np.asarray(dist["table"]).mean(-1), 0, atol=1e-3)


@pytest.mark.parametrize("fid", IDS)
def test_figures_are_well_formed(mini_site, fid):
    from .figtools import assert_well_formed

    assert_well_formed(mini_site[fid], fid)


# --- claims ----------------------------------------------------------------------------------------------


def test_claims_registered_with_the_seed():
    ours = [c for c in claims.CLAIMS if c.section == "day-circuit"]
    assert {c.id for c in ours} >= {"day-circuit.solves-all", "day-circuit.l10h3-ablation",
                                    "day-circuit.successor-head"} | IN_VIVO
    assert all(c.source.seed == claims.SEED_002.seed and c.source.section and c.about == claims.GPT2_SMALL
               for c in ours)
    succ = claims.BY_ID["day-circuit.successor-head"]
    assert succ.predicate(["L9H1"]) and not succ.predicate(["L9H1", "L10H3"]) and not succ.predicate([])
    abl = claims.BY_ID["day-circuit.l10h3-ablation"]
    assert abl.predicate(["L10H3", "L10H3"]) and not abl.predicate(["L10H3", "L0H1"])
    assert claims.BY_ID["day-circuit.solves-all"].predicate(7) and not claims.BY_ID["day-circuit.solves-all"].predicate(6)


def test_claims_on_mini_are_other_model(mini_site):
    figures = [{"id": f, "data": mini_site[f]["figure"].data} for f in IDS]
    manifest = {"figures": figures, "model": {"name": "mini", "is_gpt2_small": False}}
    records = {r["id"]: r for r in claims.evaluate(manifest)
               if r["section"] == "day-circuit" and set(r["figures"]) <= set(IDS)}  # this module's figures
    assert {r["status"] for r in records.values()} == {"other model"}
    assert records["day-circuit.successor-head"]["computed"] == mini_site["day-circuit.successor"]["figure"].data[
        "all_seven_folded"]
    as_gpt2 = {"figures": figures, "model": {"name": "gpt2", "is_gpt2_small": True}}
    assert {r["id"]: r["status"] for r in claims.evaluate(as_gpt2)}["day-circuit.solves-all"] == (
        "reproduced" if mini_site["day-circuit.task"]["figure"].data["n_top1"] == 7 else "not reproduced")


# --- in vivo: lens on heads, layers and MLPs; attention; steering ------------------------------------------


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


def test_ranked_heads_subject_position_direction_and_mean_z():
    score = np.array([[0.1, 0.8], [0.45, 0.3]])
    assert C.ranked_heads(score, 0.3) == [(0, 1, 0.8), (1, 0, 0.45), (1, 1, 0.3)]
    assert C.ranked_heads(score, 0.9) == []
    tokens = np.array([[0, 5, 9, 3], [0, 5, 8, 3]])
    assert C.subject_position(tokens, [9, 8]) == 2
    with pytest.raises(ValueError):
        C.subject_position(tokens, [9, 7])
    with pytest.raises(ValueError):
        C.subject_position(np.array([[0, 9, 1], [0, 1, 8]]), [9, 8])
    rng = np.random.default_rng(3)
    W_U, g = rng.normal(size=(4, 6)), rng.uniform(0.5, 2, 4)
    u = C.unembedding_direction(W_U, g, 2)
    processed = g[:, None] * W_U  # fold_ln
    processed = processed - processed.mean(1, keepdims=True)  # center_unembed
    assert np.allclose(u, processed[:, 2])
    table = np.arange(12.0).reshape(3, 4)
    assert C.mean_z(table, [0, 1, 3]) == pytest.approx((0 + 5 + 11) / 3)


def _head(label: str) -> tuple[int, int]:
    return int(label[1:label.index("H")]), int(label[label.index("H") + 1:])


def _days(mini):
    tokens = iv.tokenize_batch(mini, list(D.PROMPTS))
    day_ids = [mini.tokenizer.encode(" " + d)[0] for d in D.DAYS]
    targets = [day_ids[(i + 1) % 7] for i in range(7)]
    return tokens, day_ids, targets


def test_head_lens_matches_the_trace(mini, mini_site):
    """One head's P(subject day) recomputed from single-prompt traces with the lens formula by hand."""
    data = mini_site["day-circuit.head-lens"]["figure"].data
    L, H = mini.weights.dims.n_layers, mini.weights.dims.n_heads
    assert np.asarray(data["subject_mean"]).shape == (L, H)
    l, h = _head(data["best_subject"])
    W = {k: v.detach().cpu().numpy().astype(np.float64) for k, v in mini.weights.items()}
    _, day_ids, _ = _days(mini)
    vb = W[f"blocks.{l}.attn.b_V"][h] @ W[f"blocks.{l}.attn.W_O"][h]
    p = []
    for i, prompt in enumerate(D.PROMPTS):
        r = trace(mini, prompt)[f"blocks.{l}.attn.hook_result"][-1, h] - vb
        x = (r - r.mean()) / np.sqrt(((r - r.mean()) ** 2).mean() + mini.cfg.layer_norm_epsilon)
        p.append(C.softmax((x * W["ln_final.w"] + W["ln_final.b"]) @ W["W_U"])[day_ids[i]])
    assert data["best_subject_prob"] == pytest.approx(np.mean(p), abs=1e-4)
    # copying heads are exactly those at or above the threshold
    sm = np.asarray(data["subject_mean"])
    assert data["n_copying"] == int((sm >= D.COPY_THRESHOLD).sum()) == len(data["copying"])


def test_attention_and_fixed_pattern_on_mini(mini, mini_site):
    """mini's day circuit: its successor candidate reads the day (> half its attention), and a row fixed on
    the day equals a single-prompt run with that SetPattern."""
    a = mini_site["day-circuit.attention"]["figure"].data
    st = mini_site["day-circuit.streams"]["figure"].data
    tokens, day_ids, targets = _days(mini)
    assert a["subject_position"] == 4 and tokens[0, 4] == day_ids[0]
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


def test_steering_on_mini(mini, mini_site):
    """α = 0 is the clean attention; α = 5 recomputed as one edited run (the vector built by hand)."""
    st = mini_site["day-circuit.steering"]["figure"].data
    a = mini_site["day-circuit.attention"]["figure"].data
    assert st["head"] == a["successor"] and st["attention_0"] == pytest.approx(a["successor_attention"], abs=1e-4)
    l, h = _head(st["head"])
    assert st["hook"] == f"blocks.{l}.hook_resid_pre"
    W = {k: v.detach().cpu().numpy().astype(np.float64) for k, v in mini.weights.items()}
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


def test_in_vivo_claims_predicates():
    by = claims.BY_ID
    assert by["day-circuit.copy-l10h3"].compute([[0.0] * 4] * 4) is None  # a model without L10H3
    table = [[0.0] * 12 for _ in range(12)]
    table[10][3] = 0.59
    assert by["day-circuit.copy-l10h3"].compute(table) == 0.59
    assert by["day-circuit.tomorrow-top"].predicate([8, 9]) and not by["day-circuit.tomorrow-top"].predicate([8])
    assert by["day-circuit.mlp9-decopies"].predicate([9, True]) and not by["day-circuit.mlp9-decopies"].predicate([9, False])
    assert by["day-circuit.mlp0-ablation"].predicate(0) and not by["day-circuit.mlp0-ablation"].predicate(1)
    assert by["day-circuit.subject-stream"].predicate("4: ␣⟨day⟩") and not by["day-circuit.subject-stream"].predicate("0: x")
    gpt2 = {"name": "gpt2", "is_gpt2_small": True}
    assert claims.status(by["day-circuit.steer-100"], 0.76, gpt2) == "reproduced"
    assert claims.status(by["day-circuit.steer-100"], 0.70, gpt2) == "not reproduced"


# --- keeping only a few heads ---------------------------------------------------------------------------


def _keep_only_by_hand(model, tokens, targets, means, subset, hook, read):
    """One prompt at a time, every head outside `subset` replaced by an explicit ReplaceHead edit."""
    L, _, H, _ = means.shape
    edits = [iv.ReplaceHead(l, h, means[l, :, h]) for l in range(L) for h in range(H) if (l, h) not in subset]
    out, lens = [], []
    for b in range(len(tokens)):
        r = iv.run(model, tokens[b:b + 1], edits=edits, keep=[hook])
        out.append(C.correct_probs(r.logits[:, -1], targets[b:b + 1])[0])
        lens.append(read(r[hook][:, -1], targets[b:b + 1, None])[0][0, 0])
    return np.array(out), np.array(lens)


def test_greedy_step_equals_a_hand_loop(tiny, monkeypatch):
    """keep_only_probs (batched, chunked) and one greedy step against single runs with explicit edits."""
    monkeypatch.setattr(D, "SUBSET_CHUNK", 2)  # several chunks
    dims = tiny.weights.dims
    rng = np.random.default_rng(3)
    tokens = rng.integers(0, dims.d_vocab, size=(3, 5))
    targets = rng.integers(0, dims.d_vocab, size=3)
    means = iv.head_results_mean(tiny, rng.integers(0, dims.d_vocab, size=(10, 5)))
    W = {k: tiny.weights[k].detach().cpu().numpy() for k in ("ln_final.w", "ln_final.b", "W_U")}
    read = lambda x, ids: C.lens_read(x, W["ln_final.w"], W["ln_final.b"], W["W_U"], tiny.cfg.layer_norm_epsilon, ids)
    layer = max(dims.n_layers - 2, 0)  # a layer before the output when there is one
    hook = f"blocks.{layer}.hook_resid_post"
    start = [(0, 0)]
    candidates = [(l, h) for l in range(layer + 1) for h in range(dims.n_heads)]  # as the figure: up to the lens
    probe = lambda s: D.keep_only_probs(tiny, tokens, targets, means, s, (layer, read))
    options = [c for c in candidates if c not in start]
    got = probe([start + [c] for c in options])
    by_hand = [_keep_only_by_hand(tiny, tokens, targets, means, start + [c], hook, read) for c in options]
    assert np.allclose(got["output"], [o for o, _ in by_hand], atol=1e-5)
    assert np.allclose(got["lens"], [l_ for _, l_ in by_hand], atol=1e-5)
    assert got["lens"].std() > 1e-6  # the candidates differ: the comparison is not of constants
    path = D.greedy_subset(probe, start, candidates, n=len(tokens), cap=2)
    hand_means = np.array([l_.mean() for _, l_ in by_hand])
    assert path[0]["heads"] == start and path[0]["added"] is None
    if int(path[0]["lens_top1"].sum()) < len(tokens):
        assert len(path) == 2 and path[1]["heads"] == start + [path[1]["added"]]
        assert hand_means[options.index(path[1]["added"])] >= hand_means.max() - 1e-6  # the best (ties: within noise)
        assert np.allclose(path[1]["lens"], by_hand[options.index(path[1]["added"])][1], atol=1e-5)
    else:
        assert len(path) == 1


def test_subsets_on_mini(mini, mini_site):
    """The found sets' probabilities, recomputed with explicit edits one prompt at a time, are the figure's."""
    data = mini_site["day-circuit.subsets"]["figure"].data
    ctx = mini_site.ctx
    t, m, c = ctx.analysis(D.task), ctx.analysis(D.dataset_means), ctx.analysis(D.circuit_heads)
    layer = data["lens_layer"]
    assert layer == min(c["successor"][0] + 1, mini.weights.dims.n_layers - 1)
    assert data["start"] == list(dict.fromkeys([_head_name(c["successor"]), _head_name(c["copying"])]))
    read = lambda x, ids: D._lens(ctx, x, ids)
    targets = np.asarray(t["targets"])
    for kind in D.SUBSET_KINDS:
        d = data[kind]
        assert d["heads"][:len(data["start"])] == data["start"] and d["size"] <= data["cap"]
        assert d["solved"] == (d["final_lens_top1"] == data["n_prompts"])
        assert d["solved"] or d["size"] == data["cap"]
        assert len(d["lens_mean"]) == d["size"] - len(data["start"]) + 1 == len(d["added"]) + 1
        found = [_head(h) for h in d["heads"]]
        out, lens = _keep_only_by_hand(mini, t["tokens"], targets, m[kind], found, f"blocks.{layer}.hook_resid_post", read)
        assert np.allclose(d["final_output_probs"], out, atol=1e-4)
        assert np.allclose(d["final_lens_probs"], lens, atol=1e-4)
        assert d["final_output"] == pytest.approx(out.mean(), abs=1e-4)
    assert m["mean"].shape == (mini.weights.dims.n_layers, t["tokens"].shape[1], mini.weights.dims.n_heads,
                               mini.weights.dims.d_model)


def _head_name(lh) -> str:
    return f"L{lh[0]}H{lh[1]}"


def test_subset_claims_predicates():
    mean, rand = claims.BY_ID["day-circuit.subset-mean"], claims.BY_ID["day-circuit.subset-random"]
    five = ["L9H1", "L10H3", "L8H1", "L8H6", "L8H8"]
    assert mean.predicate(five) and mean.predicate(five + ["L7H2"]) and not mean.predicate(five[:4])
    assert rand.predicate(five + ["L6H9"]) and not rand.predicate(five)
