"""The day circuit beyond single heads (seed 002): the in-vitro arithmetic on hand-built arrays and a tiny
random model, the post's steps and sets on mini, months and numbers, and the claims' predicates."""

from __future__ import annotations

import numpy as np
import pytest

from figgen import claims, interventions as iv
from figgen.analysis import circuit as C
from figgen.analysis import circuit_vitro as V
from figgen.analysis import processing as P
from figgen.context import NumpyWeights
from figgen.figures import day_circuit_vitro as D
from figgen.figures import day_task as T

IDS = ("day-circuit.subsets", "day-circuit.in-vitro", "day-circuit.generalisation", "day-circuit.month-distribution",
       "day-circuit.successor-ov")


# --- analysis, on hand-built arrays ------------------------------------------------------------------------


def test_setup_names_cut_and_size():
    s = V.Setup(((10, 3), (9, 1)), feed=0, after=9)
    assert s.cut == 9 and s.size == 4
    assert s.components() == ["mlp0", "L9H1", "L10H3", "mlp9"]
    assert s.text() == "embedding → MLP 0 → L9H1 + L10H3 → MLP 9 → unembedding"
    assert V.Setup(((0, 1),)).text() == "embedding → L0H1 → unembedding" and V.Setup(((0, 1),)).size == 1


def test_offset_profile():
    n = 5
    succ = np.zeros((n, n))
    for i in range(n):
        succ[i, (i + 1) % n] = 1.0
    p = V.offset_profile(succ)
    assert p.argmax() == 1 and p[1] == 1.0 and np.allclose(np.delete(p, 1), 0)


# --- the setup from the weights = the engine's InVitro run, on a tiny random model -----------------------------


def test_fixed_heads_and_readout_equal_the_engine(tiny):
    """MLP 0's layer alone fed to heads whose attention is one-hot on the subject, their outputs (without their
    value-bias terms) summed without the stream they read, then a read-out MLP: the numpy arithmetic equals an
    InVitro + SetPattern run of the engine."""
    W = NumpyWeights(tiny.weights)
    dims = tiny.weights.dims
    L = dims.n_layers
    eps, act = tiny.cfg.layer_norm_epsilon, tiny.cfg.activation_function
    tokens = np.random.default_rng(0).integers(0, dims.d_vocab, size=(3, 6))
    subject = 2
    setup = V.Setup(((1, 0), (L - 1, 1)), feed=0, after=L - 1)
    vb = P.value_biases(W, L)
    e = W["W_E"][tokens[:, subject]].astype(np.float64) + W["W_pos"][subject]
    x = e + W["blocks.0.attn.b_O"] + vb[0].sum(0)  # layer 0: its heads zero-ablated, their value biases stay
    x = x + V.mlp(x, W, 0, eps, act)
    engine_x = iv.run(tiny, tokens, edits=[iv.InVitro(frozenset({"mlp0", "L1H0"}), cut=1)],
                      keep=["blocks.1.ln1.hook_normalized"])["blocks.1.ln1.hook_normalized"][:, subject]
    xc = x - x.mean(-1, keepdims=True)
    assert np.allclose(engine_x, xc / np.sqrt((xc ** 2).mean(-1, keepdims=True) + eps) * W["blocks.1.ln1.w"]
                       + W["blocks.1.ln1.b"], atol=1e-4)  # the heads read exactly that stream
    outs = V.fixed_head_outputs(x, W, setup.heads, eps)
    summed = V.summed_outputs(setup, outs)
    edits = [iv.InVitro(frozenset({"mlp0", "L1H0", f"L{L - 1}H1"}), cut=setup.cut),
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


# --- keeping only a few heads ---------------------------------------------------------------------------------


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


def test_greedy_step_and_fixed_sets_equal_a_hand_loop(tiny, monkeypatch):
    """keep_only_probs (batched, chunked), one greedy step and a path of fixed sets against single runs with
    explicit edits."""
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
    assert path[0]["heads"] == start and path[0]["added"] == []
    if int(path[0]["lens_top1"].sum()) < len(tokens):
        added = path[1]["added"][0]
        assert len(path) == 2 and path[1]["heads"] == start + [added]
        assert hand_means[options.index(added)] >= hand_means.max() - 1e-6  # the best (ties: within noise)
    fixed = D.fixed_path(probe, (((0, 0),), ((0, 1), (0, 2))))
    assert [p["heads"] for p in fixed] == [[(0, 0)], [(0, 0), (0, 1), (0, 2)]]
    out, lens = _keep_only_by_hand(tiny, tokens, targets, means, [(0, 0), (0, 1), (0, 2)], hook, read)
    assert np.allclose(fixed[1]["output"], out, atol=1e-5) and np.allclose(fixed[1]["lens"], lens, atol=1e-5)


def test_subsets_on_mini(mini, mini_site):
    """The kept sets' probabilities, recomputed with explicit edits one prompt at a time, are the figure's."""
    data = mini_site["day-circuit.subsets"]["figure"].data
    ctx = mini_site.ctx
    t, m, c = ctx.analysis(T.task), ctx.analysis(T.dataset_means), ctx.analysis(T.circuit_heads)
    layer = data["lens_layer"]
    assert layer == min(c["successor"][0] + 1, mini.weights.dims.n_layers - 1)
    assert not data["post_sets"] and data["post"] is None  # mini: a greedy search from its own heads
    W = ctx.weights
    read = lambda x, ids: C.lens_read(x, W["ln_final.w"], W["ln_final.b"], W["W_U"], mini.cfg.layer_norm_epsilon, ids)
    targets = np.asarray(t["targets"])
    for kind in D.SUBSET_KINDS:
        d = data[kind]
        assert d["heads"][:len(data["start"])] == data["start"] and d["size"] <= data["cap"]
        assert d["solved"] or d["size"] == data["cap"]
        found = [(int(h[1:h.index("H")]), int(h[h.index("H") + 1:])) for h in d["heads"]]
        out, lens = _keep_only_by_hand(mini, t["tokens"], targets, m[kind], found, f"blocks.{layer}.hook_resid_post", read)
        assert d["final_output"] == pytest.approx(out.mean(), abs=1e-4)
        assert d["final_lens"] == pytest.approx(lens.mean(), abs=1e-4)


# --- in vitro on mini -------------------------------------------------------------------------------------------


def test_in_vitro_steps_on_mini(mini, mini_site):
    """mini's circuit: its followed heads, the MLPs the post's tests pick; the last step from the weights equals
    the engine's run, and the read-out MLP is what makes it work."""
    data = mini_site["day-circuit.in-vitro"]["figure"].data
    ctx = mini_site.ctx
    c, e = ctx.analysis(T.circuit_heads), ctx.analysis(T.mlp_effects)
    assert data["heads"][0] == f"L{c['successor'][0]}H{c['successor'][1]}" and not data["post_setup"]
    cut = data["cut"]
    assert data["after"] == cut + int(np.argmax(e["local"][cut:]))
    assert data["feed"] is None if cut == 0 else data["feed"] == int(np.argmin(e["ablated"][:cut]))
    assert data["engine_vs_weights"] < 1e-3
    for step in D.STEPS:
        s = data[step]
        assert s["n_top1"] + len(s["wrong"]) == data["n_prompts"] == 7 and len(s["probs"]) == 7
    assert data["readout"]["mean_prob"] > data["fed"]["mean_prob"]  # mini's MLP 0 reads the head's output into days
    assert (data["note_text"] != "") == (cut == 0)


def test_in_vitro_step_against_a_hand_run(mini, mini_site):
    """The "zero" step: the engine's InVitro run = heads reading the stream of a model whose earlier heads are
    zero-ablated in TransformerLens's way (each head's result replaced by its value-bias term), MLPs kept."""
    ctx = mini_site.ctx
    setup = ctx.analysis(D.vitro_setup)
    t = ctx.analysis(T.prompts, "day")
    cut = setup.cut
    vb = ctx.analysis(T.value_biases)
    x = iv.run(mini, t["tokens"], edits=[iv.ReplaceHead(l, h, vb[l, h].astype(np.float32)) for l in range(cut)
                                         for h in range(mini.weights.dims.n_heads)],
               keep=[f"blocks.{cut}.hook_resid_pre"])[f"blocks.{cut}.hook_resid_pre"]
    run = iv.run(mini, t["tokens"], edits=[iv.InVitro(frozenset([f"mlp{l}" for l in range(cut)] +
                                                                [f"L{l}H{h}" for l, h in setup.heads]), cut=cut)],
                 keep=[f"blocks.{cut}.hook_resid_pre", f"blocks.{cut}.ln1.hook_normalized"])
    W = ctx.weights
    xc = x - x.mean(-1, keepdims=True)
    ln = xc / np.sqrt((xc ** 2).mean(-1, keepdims=True) + mini.cfg.layer_norm_epsilon) * W[f"blocks.{cut}.ln1.w"] \
        + W[f"blocks.{cut}.ln1.b"]
    assert np.allclose(run[f"blocks.{cut}.ln1.hook_normalized"], ln, atol=1e-4)  # the heads read that stream
    step = ctx.analysis(D.run_step, "day", "zero", setup)
    assert np.allclose(C.correct_probs(run.logits[:, -1], t["targets"]), step["probs"], atol=1e-4)


def test_generalisation_on_mini(mini, mini_site):
    data = mini_site["day-circuit.generalisation"]["figure"].data
    assert data["month"]["n_prompts"] == 12 and data["number"]["n_prompts"] == 100
    for key in ("month", "number", "number_simple", "number_full"):
        d = data[key]
        assert d["n_top1"] + len(d["wrong"]) == d["n_prompts"] and len(d["probs"]) == d["n_prompts"]
        assert d["mean_prob"] == pytest.approx(np.mean(d["probs"]), abs=1e-3)
    assert data["setup_text"] == mini_site["day-circuit.in-vitro"]["figure"].data["setup_text"]
    # the whole model on the numbers: its own logits (mini was trained on this template up to 50)
    t = T.prompts(mini_site.ctx, "number")
    full = C.correct_probs(iv.run(mini, t["tokens"], final_only=True).logits[:, -1], t["targets"])
    assert np.allclose(full, data["number_full"]["probs"], atol=1e-4)
    assert data["simple_beats_full"][0] == pytest.approx(full[:10].mean(), abs=1e-4)


def test_months_from_the_weights_equal_the_engine(mini_site):
    """The generalisation figure computes the setup from the weights; the engine's InVitro run agrees."""
    data = mini_site["day-circuit.generalisation"]["figure"].data
    ctx = mini_site.ctx
    engine = D.run_step(ctx, "month", "readout", ctx.analysis(D.vitro_setup))
    assert np.allclose(engine["probs"], data["month"]["probs"], atol=1e-3)
    assert int((engine["top"] == T.prompts(ctx, "month")["targets"]).sum()) == data["month"]["n_top1"]


def test_month_table_and_ov_on_mini(mini_site):
    month = mini_site["day-circuit.month-distribution"]["figure"].data
    assert np.asarray(month["table"]).shape == (12, 12) and 0 <= month["score"] <= 12
    assert np.allclose(np.asarray(month["table"]).mean(-1), 0, atol=1e-3)
    scores = np.asarray(month["scores"])
    assert month["all_months"] == [f"L{l}H{h}" for l, h in zip(*np.nonzero(scores == 12))]
    assert set(month["all_but_one"]) == {f"L{l}H{h}" for l, h in zip(*np.nonzero(scores >= 11))}
    ov = mini_site["day-circuit.successor-ov"]["figure"].data
    assert ov["head"] == month["head"] == mini_site["day-circuit.in-vitro"]["figure"].data["heads"][0]
    assert np.asarray(ov["day"]["table"]).shape == (7, 7) and np.asarray(ov["month"]["table"]).shape == (12, 12)
    t = np.asarray(ov["day"]["table"])  # the counts follow from the table: argmax on the successor / the token itself
    assert ov["day"]["n_successor"] == sum(t[i].argmax() == (i + 1) % 7 for i in range(7))
    assert ov["day"]["n_copy"] == sum(t[i].argmax() == i for i in range(7))


@pytest.mark.parametrize("fid", IDS)
def test_figures_are_well_formed(mini_site, fid):
    from .figtools import assert_well_formed

    assert_well_formed(mini_site[fid], fid)


# --- claims ------------------------------------------------------------------------------------------------


def test_claims_predicates_can_fail():
    c = claims.BY_ID
    post = {"mean": {"pair": {"lens": 0.2}, "five": {"lens": 0.6}, "six": {"lens": 0.7}},
            "random": {"pair": {"lens": 0.1}, "five": {"lens": 0.3}, "six": {"lens": 0.5}}}
    for name in ("day-circuit.subset-mean", "day-circuit.subset-random"):
        assert c[name].predicate(c[name].compute(post)) and not c[name].predicate(c[name].compute(None))
    post["random"]["six"]["lens"] = 0.2
    assert not c["day-circuit.subset-random"].predicate(c["day-circuit.subset-random"].compute(post))
    zero, fixed = c["day-circuit.vitro-zero-collapses"], c["day-circuit.vitro-fixed-rescues"]
    assert zero.predicate(zero.compute(0.5, 0.1, True)) and not zero.predicate(zero.compute(0.1, 0.5, True))
    assert not zero.predicate(zero.compute(0.5, 0.1, False))  # not the post's setup: no value
    assert fixed.predicate(fixed.compute(0.1, 0.4, True)) and not fixed.predicate(fixed.compute(0.4, 0.1, True))
    wo = c["day-circuit.vitro-without-mlp9"]
    assert wo.predicate(["Monday → Tuesday", "Sunday → ␣Sunday"]) and not wo.predicate(["Monday → ␣Tuesday"])
    assert c["day-circuit.vitro-all-seven"].predicate(7) and not c["day-circuit.vitro-all-seven"].predicate(6)
    assert c["day-circuit.months-but-july"].predicate(["July → ␣Aug"])
    assert not c["day-circuit.months-but-july"].predicate(["July → ␣August"]) and not c["day-circuit.months-but-july"].predicate([])
    ms = c["day-circuit.month-successor"]
    assert ms.predicate([[], ["L9H1"]]) and not ms.predicate([["L9H1"], ["L9H1"]]) and not ms.predicate([[], ["L9H1", "L4H2"]])
    for name in ("day-circuit.numbers-mean-prob", "day-circuit.numbers-top1", "day-circuit.numbers-full-model"):
        assert c[name].not_comparable  # the post's template is lost
        assert claims.status(c[name], 83 if name.endswith("top1") else [0.1, 0.7] if "full" in name else 0.7363,
                             {"name": "gpt2", "is_gpt2_small": True}) == "not comparable"


def test_claims_on_mini_are_other_model(mini_site):
    figures = [{"id": f, "data": mini_site[f]["figure"].data} for f in IDS]
    records = [r for r in claims.evaluate({"figures": figures, "model": {"name": "mini", "is_gpt2_small": False}})
               if r["figures"] and set(r["figures"]) <= set(IDS)]
    assert len(records) >= 10 and {r["status"] for r in records} == {"other model"}
