"""The day circuit in vitro (seed 002): the setup arithmetic on hand-built arrays and tiny random models, the
search, the figures on mini, and the claims' predicates."""

from __future__ import annotations

import numpy as np
import pytest

from figgen import claims, interventions as iv
from figgen.analysis import circuit as C
from figgen.analysis import circuit_vitro as V
from figgen.figures import day_circuit_vitro as D

IDS = ("day-circuit.in-vitro", "day-circuit.generalisation", "day-circuit.month-distribution",
       "day-circuit.successor-ov")


# --- analysis, on hand-built arrays ------------------------------------------------------------------------


def test_setup_names_cut_and_size():
    s = V.Setup(((10, 3), (9, 1)), feed=0, after=9)
    assert s.cut == 9 and s.size == 4
    assert s.components() == ["mlp0", "L9H1", "L10H3", "mlp9"]
    assert s.text() == "embedding → MLP 0 → L9H1 + L10H3 → MLP 9 → unembedding"
    assert V.Setup(((0, 1),)).text() == "embedding → L0H1 → unembedding" and V.Setup(((0, 1),)).size == 1


def test_candidate_setups_follow_the_seeds_form():
    setups = V.candidate_setups((9, 1), [(10, 3), (11, 0)], n_layers=12)
    sizes = [s.size for s in setups]
    assert sizes == sorted(sizes) and setups[0] == V.Setup(((9, 1),))
    assert all(s.heads[0] == (9, 1) and len(s.heads) <= 2 for s in setups)
    assert all((s.feed is None or s.feed < s.cut) and (s.after is None or s.after >= s.cut) for s in setups)
    # 3 head sets × (1 + 9 feeding choices) × (1 + 3 read-out choices), no duplicates
    assert len(setups) == len(set(setups)) == 3 * 10 * 4
    assert V.Setup(((9, 1), (10, 3)), 0, 9) in setups


def test_search_stops_at_the_first_size_that_solves_and_keeps_its_best():
    targets = [0, 1]
    good = np.log(np.array([[0.9, 0.1], [0.1, 0.9]]))
    ok = np.log(np.array([[0.6, 0.4], [0.4, 0.6]]))
    bad = np.log(np.array([[0.1, 0.9], [0.1, 0.9]]))
    a, b, c, d = (V.Setup(((1, 0),)), V.Setup(((1, 0),), None, 1), V.Setup(((1, 0),), 0, None),
                  V.Setup(((1, 0),), 0, 1))
    table = {a: bad, b: ok, c: good, d: good}
    seen = []

    def evaluate(s):
        seen.append(s)
        return table[s]

    r = V.search([a, b, c, d], evaluate, targets)
    assert r.solved and r.chosen == c  # size 2: both solve; c has the higher mean probability
    assert d not in seen  # size 3 is never tried
    assert r.best_by_size[1][1] == 1 and r.best_by_size[2][1] == 2
    r = V.search([a], evaluate, targets)  # nothing solves: the best is kept, marked unsolved
    assert not r.solved and r.chosen == a


def test_offset_profile_and_lens_probs():
    n = 5
    succ = np.zeros((n, n))
    for i in range(n):
        succ[i, (i + 1) % n] = 1.0
    p = V.offset_profile(succ)
    assert p.argmax() == 1 and p[1] == 1.0 and np.allclose(np.delete(p, 1), 0)
    rng = np.random.default_rng(0)
    d, vocab = 6, 9
    vec, W_U = rng.normal(size=(3, d)), rng.normal(size=(d, vocab))
    gamma, beta = rng.uniform(0.5, 2, d), rng.normal(size=d)
    probs = V.lens_probs(vec, gamma, beta, W_U, [2, 5], 1e-5, chunk=2)
    x = vec - vec.mean(-1, keepdims=True)
    full = C.softmax((x / np.sqrt((x ** 2).mean(-1, keepdims=True) + 1e-5) * gamma + beta) @ W_U)
    assert np.allclose(probs, full[:, [2, 5]])


# --- the setup computed from the weights = the engine's InVitro run, on a tiny random model ---------------


def test_fixed_heads_and_readout_equal_the_engine(tiny):
    """Heads with attention one-hot on the subject, reading the stream at the cut, summed without it, then a
    read-out MLP: the numpy arithmetic the search uses equals an InVitro + SetPattern run of the engine."""
    from figgen.context import NumpyWeights

    W = NumpyWeights(tiny.weights)
    dims = tiny.weights.dims
    L = dims.n_layers
    eps, act = tiny.cfg.layer_norm_epsilon, tiny.cfg.activation_function
    tokens = np.random.default_rng(0).integers(0, dims.d_vocab, size=(3, 6))
    subject = 2
    setup = V.Setup(((1, 0), (L - 1, 1)), feed=0, after=L - 1)
    x = iv.run(tiny, tokens, edits=[iv.InVitro(frozenset({"mlp0"}))],
               keep=[f"blocks.{setup.cut}.hook_resid_pre"])[f"blocks.{setup.cut}.hook_resid_pre"][:, subject]
    outs = V.fixed_head_outputs(x, W, setup.heads, eps)
    summed = V.summed_outputs(setup, outs, W, L)
    edits = [iv.InVitro(frozenset({"mlp0", f"L1H0", f"L{L - 1}H1"}), cut=setup.cut),
             *(iv.SetPattern(l, h, -1, subject) for l, h in setup.heads)]
    run = iv.run(tiny, tokens, edits=edits, keep=[f"blocks.{L - 1}.hook_resid_post", "blocks.1.attn.hook_result"])
    assert np.allclose(run[f"blocks.{L - 1}.hook_resid_post"][:, -1], summed, atol=1e-4)
    assert np.allclose(run["blocks.1.attn.hook_result"][:, -1, 0], outs[(1, 0)], atol=1e-4)
    # the read-out MLP: s + MLP(LN2(s)), written out here by hand
    p = f"blocks.{L - 1}."
    s = summed
    h = s - s.mean(-1, keepdims=True)
    h = h / np.sqrt((h ** 2).mean(-1, keepdims=True) + eps) * W[p + "ln2.w"] + W[p + "ln2.b"]
    s2 = s + V.gelu(h @ W[p + "mlp.W_in"] + W[p + "mlp.b_in"], act) @ W[p + "mlp.W_out"] + W[p + "mlp.b_out"]
    f = s2 - s2.mean(-1, keepdims=True)
    logits = (f / np.sqrt((f ** 2).mean(-1, keepdims=True) + eps) * W["ln_final.w"] + W["ln_final.b"]) @ W["W_U"]
    assert np.allclose(V.readout(summed, W, L - 1, eps, act), logits, atol=1e-4)


# --- the figures on mini ------------------------------------------------------------------------------------


def test_in_vitro_on_mini(mini, mini_site):
    """The chosen setup is mini's successor head plus what the search needed; its numbers are an engine run's."""
    data = mini_site["day-circuit.in-vitro"]["figure"].data
    succ = mini_site["day-circuit.successor"]["figure"].data
    assert data["successor"] in succ["all_seven_folded"] or data["successor"] == succ["best_folded"]
    assert data["successor"] in data["components"] and data["n_prompts"] == 7
    assert data["solved"] == (data["n_top1"] == 7)
    if data["solved"]:  # no smaller setup got every prompt
        assert all(v["n_top1"] < 7 for k, v in data["best_by_size"].items() if int(k) < data["size"])
    assert data["engine_vs_weights"] < 1e-3  # the search's arithmetic = the engine's run of the chosen setup
    # recompute the chosen setup's probabilities with a fresh engine run
    setup = V.Setup(tuple((int(c[1:c.index("H")]), int(c[c.index("H") + 1:])) for c in data["components"]
                          if c.startswith("L")), data["feed"], data["after"])
    tokens = iv.tokenize_batch(mini, list(D.DAY_PROMPTS))
    comps = frozenset(c for c in setup.components() if setup.after is None or c != f"mlp{setup.after}")
    L = mini.weights.dims.n_layers
    run = iv.run(mini, tokens, edits=[iv.InVitro(comps, cut=setup.cut),
                                      *(iv.SetPattern(l, h, -1, 4) for l, h in setup.heads)],
                 keep=[f"blocks.{L - 1}.hook_resid_post"])
    from figgen.context import NumpyWeights

    logits = V.readout(run[f"blocks.{L - 1}.hook_resid_post"][:, -1], NumpyWeights(mini.weights), setup.after,
                       mini.cfg.layer_norm_epsilon, mini.cfg.activation_function)
    targets = [mini.tokenizer.encode(" " + D.DAYS[(i + 1) % 7])[0] for i in range(7)]
    assert np.allclose(C.correct_probs(logits, targets), data["probs"], atol=1e-3)
    # mini's circuit really is in vitro: it gets far less than the full model's certainty on some prompt
    assert data["min_prob"] < mini_site["day-circuit.task"]["figure"].data["min_prob"]


def test_generalisation_on_mini(mini_site):
    data = mini_site["day-circuit.generalisation"]["figure"].data
    assert data["month"]["n_prompts"] == 12 and data["number"]["n_prompts"] == 100
    for key in ("month", "number", "number_simple"):
        d = data[key]
        assert d["n_top1"] + len(d["wrong"]) == d["n_prompts"] and len(d["probs"]) == d["n_prompts"]
        assert d["mean_prob"] == pytest.approx(np.mean(d["probs"]), abs=1e-3)
    assert data["setup_text"] == mini_site["day-circuit.in-vitro"]["figure"].data["setup_text"]


def test_month_table_and_ov_on_mini(mini_site):
    month = mini_site["day-circuit.month-distribution"]["figure"].data
    assert np.asarray(month["table"]).shape == (12, 12) and 0 <= month["score"] <= 12
    assert np.allclose(np.asarray(month["table"]).mean(-1), 0, atol=1e-3)
    ov = mini_site["day-circuit.successor-ov"]["figure"].data
    assert ov["head"] == month["head"] == mini_site["day-circuit.in-vitro"]["figure"].data["successor"]
    assert np.asarray(ov["day"]["table"]).shape == (7, 7) and np.asarray(ov["month"]["table"]).shape == (12, 12)
    # the counts follow from the tables: argmax on the successor / on the token itself
    t = np.asarray(ov["day"]["table"])
    assert ov["day"]["n_successor"] == sum(t[i].argmax() == (i + 1) % 7 for i in range(7))
    assert ov["day"]["n_copy"] == sum(t[i].argmax() == i for i in range(7))
    assert ov["day"]["successor_z"] == pytest.approx(np.mean([t[i, (i + 1) % 7] for i in range(7)]), abs=1e-3)


@pytest.mark.parametrize("fid", IDS)
def test_figures_are_well_formed(mini_site, fid):
    from .figtools import assert_well_formed

    assert_well_formed(mini_site[fid], fid)


# --- claims ------------------------------------------------------------------------------------------------


def test_claims_registered_with_predicates_that_can_fail():
    ids = {"day-circuit.vitro-circuit", "day-circuit.vitro-all-seven", "day-circuit.vitro-without-mlp9",
           "day-circuit.months-but-july", "day-circuit.month-successor", "day-circuit.numbers-mean-prob",
           "day-circuit.numbers-top1"}
    assert ids <= set(claims.BY_ID)
    c = claims.BY_ID
    assert c["day-circuit.vitro-circuit"].predicate(["mlp0", "L9H1", "L10H3", "mlp9"])
    assert not c["day-circuit.vitro-circuit"].predicate(["L9H1", "L10H3", "mlp9"])
    assert c["day-circuit.months-but-july"].predicate(["July → ␣Aug"])
    assert not c["day-circuit.months-but-july"].predicate(["July → ␣August"])
    assert not c["day-circuit.months-but-july"].predicate([])
    assert c["day-circuit.month-successor"].predicate(["L9H1", 11]) and not c["day-circuit.month-successor"].predicate(["L9H1", 12])
    assert c["day-circuit.vitro-without-mlp9"].predicate(["Monday", "Sunday"])


def test_claims_on_mini_are_other_model(mini_site):
    figures = [{"id": f, "data": mini_site[f]["figure"].data} for f in IDS]
    records = [r for r in claims.evaluate({"figures": figures, "model": {"name": "mini", "is_gpt2_small": False}})
               if r["figures"] and set(r["figures"]) <= set(IDS)]
    assert len(records) == 7 and {r["status"] for r in records} == {"other model"}


def test_stream_at_cut_equals_the_engines_in_vitro_run(mini, mini_site):
    """The feeding MLP added in numpy to one bare run = an InVitro run that keeps that MLP."""
    ctx = mini_site.ctx
    tokens = iv.tokenize_batch(mini, list(D.DAY_PROMPTS))
    L = mini.weights.dims.n_layers
    for feed, cut in ((0, 1), (1, L - 1), (None, 2)):
        comps = frozenset() if feed is None else frozenset({f"mlp{feed}"})
        name = f"blocks.{cut}.hook_resid_pre"
        engine = iv.run(mini, tokens, edits=[iv.InVitro(comps)], keep=[name])[name][:, 4]
        assert np.allclose(D.stream_at_cut(ctx, "day", feed, cut), engine, atol=1e-4), (feed, cut)


def test_months_from_the_weights_equal_the_engine(mini, mini_site):
    """The generalisation figure computes setups from the weights; the engine's InVitro run agrees."""
    data = mini_site["day-circuit.generalisation"]["figure"].data
    chosen = mini_site.ctx.analysis(D.vitro_search)["result"].chosen
    engine = D.run_setup(mini_site.ctx, "month", chosen)
    assert np.allclose(engine["probs"], data["month"]["probs"], atol=1e-3)
    assert int((engine["top"] == D.prompts(mini_site.ctx, "month")["targets"]).sum()) == data["month"]["n_top1"]
