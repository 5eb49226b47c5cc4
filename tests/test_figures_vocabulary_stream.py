"""The vocabulary page's second half: neurons and token evolution (figgen/analysis/vocab.py below "the
stream", figgen/figures/vocabulary_stream.py): the choices, the readings against the core's kNN, the lens
beside them, what the figures say on mini, and hostile token strings."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from figgen.analysis import lens as L
from figgen.analysis import vocab as V
from figgen.context import Context
from figgen.figures import vocabulary_stream as VS

from .conftest import make_tokenizer
from .figtools import render, specs_of

IDS = {"vocabulary.neurons", "vocabulary.evolution"}


# --- choosing neurons (hand-built activations) -------------------------------------------------------


def test_firing_neurons_are_the_largest_on_a_word_per_layer():
    post = np.zeros((2, 4, 6), np.float32)
    post[0, 0, 0] = 50.0  # on the BOS only: not "firing on a word"
    post[0, 2, 3], post[0, 1, 1], post[0, 3, 5] = 4.0, 3.0, 2.0
    post[1, 1, 2], post[1, 3, 4] = 1.0, 1.0  # a tie: the lower index first
    c = V.choose_neurons(post, n_firing=2)
    assert c.firing.tolist() == [[0, 3], [0, 1], [1, 2], [1, 4]]
    assert c.firing_value.tolist() == [4.0, 3.0, 1.0, 1.0]


def test_bos_criterion_needs_silence_elsewhere_and_strength():
    post = np.full((2, 3, 5), -0.05, np.float32)  # GELU's small negative outputs everywhere
    post[0, :, 0] = [10.0, 1.0, 0.5]   # 10 ≥ 5 × 1: passes
    post[0, :, 1] = [4.0, 1.0, -0.1]   # 4 < 5 × 1: fires elsewhere too
    post[0, :, 2] = [0.5, -0.1, -0.1]  # silent elsewhere, but below layer 0's largest word activation (1.0)
    post[0, :, 3] = [1.0, -0.1, -0.1]  # silent elsewhere and = the layer's largest on a word: passes
    post[1, :, 0] = [2.0, -0.2, -0.1]  # layer 1: words reach only −0.05 … passes
    post[1, :, 4] = [-0.1, -0.2, -0.3]  # negative on the BOS: never
    c = V.choose_neurons(post, ratio=5.0)
    assert c.bos_only.tolist() == [[0, 0], [1, 0], [0, 3]]  # by BOS activation, largest first
    np.testing.assert_allclose(c.bos_value, [10.0, 2.0, 1.0])
    np.testing.assert_allclose(c.bos_other, [1.0, -0.1, -0.1], atol=1e-6)  # each one's own largest elsewhere
    assert c.peak == (0, 0, 0) and c.peak_value == 10.0


# --- the readings are the core's kNN -----------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_ctx(tiny):
    return Context.from_model(tiny, VS.PROMPT)


@pytest.mark.parametrize("name", ["blocks.0.ln1", "blocks.1.ln2", "ln_final"])
def test_read_in_equals_the_core_read(tiny_ctx, name):
    rng = np.random.default_rng(3)
    q = rng.normal(size=(7, tiny_ctx.dims.d_model)).astype(np.float32)
    want = V.in_ln_space(tiny_ctx, name).read(q, 10)
    got = V.read_in(tiny_ctx, name, q, k=10)
    np.testing.assert_array_equal(got.ids, want.ids)
    np.testing.assert_allclose(got.cosines, want.cosines, atol=1e-5)
    np.testing.assert_array_equal(got.high, want.high)
    np.testing.assert_allclose(got.mean_z, want.mean_z, atol=1e-6)


def test_read_in_asks_for_more_words_than_there_are(tiny_ctx):
    n_words = int(tiny_ctx.analysis(V.vocabulary).keep.sum())
    r = V.read_in(tiny_ctx, "blocks.0.ln1", np.ones((2, tiny_ctx.dims.d_model)), k=n_words + 50)
    assert r.ids.shape == (2, n_words) and len(set(r.ids[0].tolist())) == n_words


def test_neurons_read_input_in_ln2_space_and_output_raw(tiny_ctx):
    t = tiny_ctx.trace
    W = tiny_ctx.weights
    post = V.mlp_post(t, tiny_ctx.dims.n_layers)
    chosen = np.array([[1, 5], [0, 7], [1, 2]])
    r = V.read_neurons(tiny_ctx, chosen, post, k=6)
    for i, (l, n) in enumerate(chosen):
        inp = V.in_ln_space(tiny_ctx, f"blocks.{l}.ln2").read(W[f"blocks.{l}.mlp.W_in"][:, n][None], 6)
        out = tiny_ctx.analysis(V.vocabulary).read(W[f"blocks.{l}.mlp.W_out"][n][None], 6)
        np.testing.assert_array_equal(r.inputs.ids[i], inp.ids[0])
        np.testing.assert_array_equal(r.outputs.ids[i], out.ids[0])
        np.testing.assert_allclose(r.acts[i], t[f"blocks.{l}.mlp.hook_post"][:, n])
    # The activation is the GELU of the neuron's input weights against the stream as ln2 leaves it.
    l, n = chosen[0]
    pre = t[f"blocks.{l}.ln2.hook_normalized"] @ W[f"blocks.{l}.mlp.W_in"][:, n] + W[f"blocks.{l}.mlp.b_in"][n]
    np.testing.assert_allclose(pre, t[f"blocks.{l}.mlp.hook_pre"][:, n], atol=1e-4)


def test_evolution_reads_each_layer_input_as_the_layer_does(tiny_ctx):
    t, W = tiny_ctx.trace_of(VS.PROMPT), tiny_ctx.weights
    eps = float(tiny_ctx.model.cfg.layer_norm_epsilon)
    ev = V.evolution(tiny_ctx, VS.PROMPT, k=4)
    for l in range(tiny_ctx.dims.n_layers):
        x = V.stream_as_read(t, W, l, eps)
        np.testing.assert_allclose(x, t[f"blocks.{l}.ln1.hook_normalized"], atol=1e-4)  # internal consistency
        want = V.in_ln_space(tiny_ctx, f"blocks.{l}.ln1").read(x, 4)
        np.testing.assert_array_equal(ev.ids[l], want.ids)
        np.testing.assert_array_equal(ev.high[l], want.high)
    np.testing.assert_array_equal(ev.predicted, t["logits"].argmax(-1))


def test_evolution_lens_is_the_logit_lens(tiny_ctx):
    t = tiny_ctx.trace_of(VS.PROMPT)
    ev = V.evolution(tiny_ctx, VS.PROMPT)
    n_layers = tiny_ctx.dims.n_layers
    lz = L.lens(L.stream_points(t, n_layers), t.tokens, tiny_ctx.weights, tiny_ctx.model.cfg.layer_norm_epsilon)
    # Point l of the lens is the stream entering layer l (the input, then after layer l − 1).
    np.testing.assert_array_equal(ev.lens_top, lz.top_ids[:n_layers, :, 0])
    assert (lz.final_top == ev.predicted).all()  # its last point is the model's output
    keep = tiny_ctx.analysis(V.vocabulary).keep
    assert keep[ev.lens_word_top].all()
    same = keep[ev.lens_top]
    np.testing.assert_array_equal(ev.lens_word_top[same], ev.lens_top[same])


# --- the figures on mini -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mini_out(mini):
    ctx = Context.from_model(mini, VS.PROMPT)
    specs = specs_of(IDS)
    return ctx, {fid: render(spec, ctx) for fid, spec in specs.items()}


def test_prompt_is_the_seeds_tokens(mini_out):
    ctx, out = mini_out
    d = out["vocabulary.neurons"]["figure"].data
    assert d["prompt_tokens"][:3] == ["<|endoftext|>", "␣The", "␣baseball"]  # " The", as the seed's printouts
    assert out["vocabulary.evolution"]["figure"].prompts == [VS.PROMPT]


def test_neuron_figure_follows_the_choice(mini_out):
    ctx, out = mini_out
    d = out["vocabulary.neurons"]["figure"].data
    post = V.mlp_post(ctx.trace_of(VS.PROMPT), ctx.dims.n_layers)
    c = V.choose_neurons(post)
    assert d["n_bos_only"] == len(c.bos_only) > 0 and d["n_bos_shown"] == min(V.N_BOS_SHOWN, len(c.bos_only))
    for l, n, bos, other in d["bos_only"]:  # every listed neuron passes the criterion as stated on the page
        assert bos >= V.BOS_RATIO * max(other, 0) - 1e-3 and bos >= d["layer_max_other"][l] - 1e-3
    assert d["strongest_bos"]["bos"] == pytest.approx(post[:, 0].max(), abs=1e-3) or not d["peak"]["bos_only"]
    peak = d["peak"]
    assert post[peak["layer"], peak["position"], peak["neuron"]] == pytest.approx(post.max(), abs=1e-3)
    assert d["n_read"] == len({(l, n) for l, n in c.firing} | {(l, n) for l, n, *_ in d["bos_only"][:V.N_BOS_SHOWN]})
    assert d["n_read"] < d["n_neurons_total"]  # only the chosen neurons are read
    assert d["groups"][0] == VS.BOS_GROUP and d["groups"][1:] == [f"layer {l}" for l in range(ctx.dims.n_layers)]
    vl = json.dumps(out["vocabulary.neurons"]["vl"])
    assert '"range": "diverging"' in vl and '"range": "similarity"' in vl and "scheme" not in vl
    assert "group" in {p["name"] for p in out["vocabulary.neurons"]["vl"]["params"]}


def test_seed_examples_only_where_the_model_has_them(mini_out, tiny_ctx, monkeypatch):
    from figgen.claims import BY_ID

    ctx, out = mini_out
    d = out["vocabulary.neurons"]["figure"].data
    assert d["seed_examples"] == {} and VS.EXAMPLES_GROUP not in d["groups"]  # mini: 4 layers of 512
    assert "do not exist" in d["seed_examples_verdict"]
    assert BY_ID["vocabulary.baseball-player"].compute(d["seed_examples"]) is None
    # A model that has them: they are read (all k words) and make their own group.
    words = tiny_ctx.token_strs(tiny_ctx.analysis(V.vocabulary).keep.nonzero()[0][:2])
    monkeypatch.setattr(VS, "SEED_EXAMPLES", ((1, 5, words[0], words[1]), (0, 7, words[0], words[1])))
    tiny = Context.from_model(tiny_ctx.model, VS.PROMPT)
    tiny.theme = "light"
    fig = VS.neurons(tiny)
    ex = fig.data["seed_examples"]
    assert set(ex) == {"L1N5", "L0N7"} and fig.data["groups"][-1] == VS.EXAMPLES_GROUP
    r = V.read_neurons(tiny, np.array([[1, 5]]), V.mlp_post(tiny.trace_of(VS.PROMPT), tiny.dims.n_layers))
    assert ex["L1N5"]["reads"] == tiny.token_strs(r.inputs.ids[0])
    assert ex["L1N5"]["writes"] == tiny.token_strs(r.outputs.ids[0])
    claim = BY_ID["vocabulary.baseball-player"]
    assert claim.compute({"L10N2361": {"reads": ["␣baseball"], "writes": ["␣team"]}}) == [True, False]
    assert not claim.predicate([True, False]) and claim.predicate([True, True])


def test_evolution_figure_counts_what_it_says(mini_out):
    ctx, out = mini_out
    d = out["vocabulary.evolution"]["figure"].data
    t = ctx.trace_of(VS.PROMPT)
    pred = t["logits"].argmax(-1)
    right = pred[:-1] == t.tokens[1:]
    assert d["n_predicted"] == len(t.tokens) - 1 == 7
    assert d["n_correct"] == int(right.sum()) and d["accuracy_line"].startswith(f"{int(right.sum())} of 7")
    assert d["predicted"] == ctx.token_strs(pred) and d["predicted_text"] == " ".join(d["predicted"])
    ev = V.evolution(ctx, VS.PROMPT)
    assert d["agree_lens"] == pytest.approx(float((ev.ids[..., 0] == ev.lens_top).mean()), abs=1e-4)
    assert 0 <= d["agree_lens"] <= 1 and len(d["agree_lens_by_layer"]) == ctx.dims.n_layers
    assert d["n_high_bias"] == int(ev.high.sum())
    assert d["tied_text"] == "does too"  # “… and mini does too”: mini ties W_U = W_Eᵀ, as GPT-2
    # Position 3 (“ player”): is “ hit” among the nearest words at some layer's input?
    assert d["next_in_topk"][3] == bool((ev.ids[:, 3] == t.tokens[4]).any()) and len(d["next_in_topk"]) == 7
    changed = ev.ids[-1, :, 0] != pred
    assert d["last_layer_changes"] == int(changed.sum()) and d["last_layer_change_share"] == round(changed.mean(), 4)
    svg = out["vocabulary.evolution"]["vl.svg"]
    assert "prediction" in svg and "next token" in svg and "✓" in svg
    # The caption's counts, over the cells as shown ("(high bias)" is neither the own nor the next token).
    shown = np.where(ev.high, -1, ev.ids[..., 0])
    assert d["own_first"] == int((shown[0] == t.tokens).sum())
    assert d["next_last"] == int((shown[-1, :-1] == t.tokens[1:]).sum())
    assert f"at {d['next_ever_top1']} of the 7 positions" in d["finding"]


def test_neuron_finding_in_words():
    assert VS.neuron_finding(14, 2048, "L3N64", 30.046, "<|endoftext|>", 0, True) == (
        "14 of the 2,048 MLP neurons fire on the BOS only, and the neuron with the largest activation anywhere on "
        "the prompt, L3N64 (30.0 on the BOS), is one of them")
    assert VS.neuron_finding(1, 36864, "L5N7", 12.0, "␣run", 7, False).endswith(
        "fires on the BOS only, and the neuron with the largest activation anywhere on the prompt, L5N7 (12.0 on ␣run, "
        "position 7), is not one of them")
    assert VS.neuron_finding(0, 36864, "L5N7", 12.0, "␣run", 7, False).startswith("no MLP neuron fires on the BOS only")


# --- hostile token strings stay text --------------------------------------------------------------------

HOSTILE = ["<script>", "{{", "|", "*", "</b>"]


@pytest.fixture(scope="module")
def hostile_model(tmp_path_factory):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    import figgen

    path = tmp_path_factory.mktemp("hostile")
    tok = make_tokenizer()
    tok.add_tokens(HOSTILE)
    torch.manual_seed(0)
    hf = GPT2LMHeadModel(GPT2Config(n_layer=2, n_head=4, n_embd=64, n_positions=32, vocab_size=len(tok),
                                    bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id))
    hf.save_pretrained(path)
    tok.save_pretrained(path)
    return figgen.load_model(str(path))


def _strings_in_expressions(obj, found: list) -> list:
    """Every expression string of a Vega-Lite spec (filters, calculates, labelExpr, ExprRefs)."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key in {"expr", "labelExpr", "filter", "calculate", "test"} and isinstance(value, str):
                found.append(value)
            _strings_in_expressions(value, found)
    elif isinstance(obj, list):
        for value in obj:
            _strings_in_expressions(value, found)
    return found


def test_hostile_tokens_stay_text(hostile_model, monkeypatch):
    prompt = " The <script> baseball {{ player | hit * a </b> home run"
    monkeypatch.setattr(VS, "PROMPT", prompt)
    ctx = Context.from_model(hostile_model, prompt)
    shown = ctx.token_strs(ctx.trace_of(prompt).tokens)
    assert set(HOSTILE) <= set(shown)  # each is one token of the prompt
    for fid, spec in specs_of(IDS).items():
        out = render(spec, ctx)
        assert out["figure"].alt.strip() and out["figure"].data
        svg = out["vl.svg"]
        ET.fromstring(svg.encode())  # well-formed: markup in tokens is escaped
        assert "<script>" not in svg and "</b>" not in svg and "&lt;script&gt;" in svg, fid
        for expr in _strings_in_expressions(out["vl"], []):  # tokens travel as data, never as code
            assert not any(h in expr for h in ("<script>", "</b>")), (fid, expr)
        data = json.dumps(out["vl"]["datasets"] if "datasets" in out["vl"] else out["vl"])
        assert "<script>" in data  # … as data, which Vega draws as text


def test_seed_bos_neurons_output_bias(mini_out, monkeypatch):
    """The post's three BOS neurons are read whatever the choice (none on mini: 512 neurons per layer); patched
    onto neurons mini has, their output words and mean bias are the core's read of W_out's rows."""
    from figgen.claims import BY_ID

    ctx, out = mini_out
    d = out["vocabulary.neurons"]["figure"].data["seed_bos"]
    assert d["writes_z"] == [None, None, None] and "do not exist" in d["text"]
    claim = BY_ID["vocabulary.bos-neurons-high-bias"]
    assert not claim.predicate(d["writes_z"]) and claim.predicate([1.2, -3.0, 1.01])
    assert not claim.predicate([1.2, 0.5, 2.0])
    monkeypatch.setattr(VS, "SEED_BOS", ((2, 66), (0, 5), (3, 511)))
    fresh = Context.from_model(ctx.model, VS.PROMPT)
    d = VS.neurons(fresh).data["seed_bos"]
    W = fresh.weights
    for (l, n), z in zip(VS.SEED_BOS, d["writes_z"]):
        want = fresh.analysis(V.vocabulary).read(W[f"blocks.{l}.mlp.W_out"][n][None], 10)
        got = d["readings"][f"L{l}N{n}"]
        assert z == pytest.approx(float(want.mean_z[0]), abs=1e-4) and got["writes_high"] == bool(want.high[0])
        assert got["writes"] == fresh.token_strs(want.ids[0, :VS.K_SHOWN])
    assert d["text"].startswith("have output words whose mean bias is z = ")
