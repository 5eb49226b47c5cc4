"""The MLP, unembedding and decoding sections: decoding maths on hand-built logits, the figures'
computed checks on real traces."""

from __future__ import annotations

import numpy as np
import pytest

import json

from figgen.analysis.decoding import entropy, most_uncertain, sampling_distribution, softmax
from figgen.figures.decoding import CANDIDATES, interactive_chart, packed_logits, unpacked_logits
from figgen.figures.gelu import gelu_erf, gelu_tanh, quantile_sample
from figgen.figures.save import vegalite_spec


SECTION_FIGURES = {"mlp.writes", "up-projection.pre", "up-projection.top-neurons", "gelu.curve",
                   "down-projection.neurons", "unembedding.top", "unembedding.similarity",
                   "decoding.interactive", "decoding.settings"}


def test_softmax_temperature():
    logits = np.array([2.0, 1.0, 0.0])
    assert np.allclose(softmax(logits), np.exp(logits) / np.exp(logits).sum())
    assert softmax(logits, 0.1)[0] > softmax(logits)[0] > softmax(logits, 10)[0]
    assert np.allclose(softmax(logits, 1e6), 1 / 3, atol=1e-5)
    with pytest.raises(ValueError):
        softmax(logits, 0)


def test_top_k_and_top_p_known_answers():
    logits = np.log(np.array([0.5, 0.2, 0.2, 0.1]))  # probabilities at T = 1
    assert np.allclose(sampling_distribution(logits), [0.5, 0.2, 0.2, 0.1])
    assert np.allclose(sampling_distribution(logits, top_k=2), [0.5 / 0.7, 0.2 / 0.7, 0, 0])
    # top-p keeps the token that crosses p: 0.5 < 0.6, 0.5 + 0.2 ≥ 0.6 → two tokens
    assert np.allclose(sampling_distribution(logits, top_p=0.6), [0.5 / 0.7, 0.2 / 0.7, 0, 0])
    assert np.allclose(sampling_distribution(logits, top_p=0.5), [1, 0, 0, 0])
    assert np.allclose(sampling_distribution(logits, top_p=0.05), [1, 0, 0, 0])
    # ties broken by id: token 1 before token 2
    assert np.nonzero(sampling_distribution(logits, top_k=2))[0].tolist() == [0, 1]
    assert np.count_nonzero(sampling_distribution(logits, top_k=2, top_p=0.99)) == 2
    assert np.isclose(entropy([0.5, 0.5]), np.log(2)) and entropy([1.0, 0.0]) == 0.0


def test_gelu_reference_values():
    x = np.array([-3.0, -0.7525, 0.0, 1.0, 3.0])
    assert np.allclose(gelu_tanh(x), gelu_erf(x), atol=1e-3)
    assert gelu_tanh(np.array([0.0]))[0] == 0.0 and abs(gelu_tanh(np.array([1.0]))[0] - 0.8412) < 1e-3
    assert np.isclose(gelu_tanh(np.linspace(-3, 0, 30001)).min(), -0.17, atol=1e-3)
    s = quantile_sample(np.arange(1000.0)[::-1], 11)
    assert s[0] == 0 and s[-1] == 999 and len(s) == 11 and (np.diff(s) > 0).all()


def test_packed_logits_round_trip_every_logit():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, 500).astype(np.float32)
    logits[[3, 7]] = logits[11]  # ties
    row = packed_logits(logits)
    shipped = unpacked_logits(row)
    assert len(shipped) == len(logits)  # every logit, not a top slice
    expected = np.round(np.sort(logits.astype(np.float64))[::-1] * 1000) / 1000
    assert np.array_equal(np.round(shipped, 6), np.round(expected, 6))
    assert np.abs(shipped - np.sort(logits.astype(np.float64))[::-1]).max() <= 0.0005 + 1e-9
    assert all(d.isdigit() for d in row["drops"].split())  # drops are non-negative integers


def test_most_uncertain_picks_the_highest_entropy():
    flat, sharp, mid = np.zeros(4), np.array([9.0, 0, 0, 0]), np.array([2.0, 1, 0, 0])
    choice = most_uncertain(["a", "b", "c"], np.stack([sharp, flat, mid]))
    assert choice.prompt == "b" and np.isclose(choice.entropy, np.log(4))
    assert most_uncertain(["x", "y"], np.stack([flat, flat])).prompt == "x"  # ties: the first
    with pytest.raises(ValueError):
        most_uncertain(["x"], np.stack([flat, flat]))


# The interactive chart's transforms are run by Vega itself (vl-convert), with the sliders set to
# each of these, and the bars it draws are compared with the Python reference.
SLIDERS = [(1.0, None, 1.0), (3.0, None, 1.0), (0.5, 5, 1.0), (1.0, None, 0.5), (2.0, 50, 0.9),
           (0.1, None, 0.05), (3.0, 1, 1.0), (1.5, 200, 0.95)]


def run_chart(spec: dict, temperature: float, top_k: int | None, top_p: float) -> tuple[dict, set]:
    """Render the chart with its sliders at these values; return {rank: probability} of its bars and
    the legend's texts, read from the bars' ARIA labels (full precision)."""
    import copy
    import html
    import re

    import vl_convert as vlc

    spec = copy.deepcopy(spec)
    d_vocab = next(p["bind"]["max"] for p in spec["params"] if p["name"] == "top_k")
    values = {"temperature": temperature, "top_k": d_vocab if top_k is None else top_k, "top_p": top_p}
    for param in spec["params"]:
        param["value"] = values[param["name"]]
    svg = vlc.vegalite_to_svg(spec)
    bars, status = {}, set()
    for label in re.findall(r'aria-label="([^"]*; status: [^"]*)"', svg):  # the front (pink) bars
        fields = dict(part.split(": ", 1) for part in html.unescape(label).split("; ") if ": " in part)
        bars[int(fields["rank"])] = float(fields["probability"])  # the y value, unrounded
        status.add(fields["status"])
    return bars, status


def check_chart(spec: dict, logits: np.ndarray, n_shown: int, sliders=SLIDERS):
    (row,) = spec["data"]["values"]
    shipped = unpacked_logits(row)
    assert len(shipped) == len(logits)  # the chart carries every logit of the vocabulary
    true_sorted = np.sort(logits.astype(np.float64))[::-1]
    for T, k, p in sliders:
        bars, status = run_chart(spec, T, k, p)
        assert sorted(bars) == list(range(1, n_shown + 1))
        ref = sampling_distribution(shipped, T, k, p)  # on the logits the chart has
        got = np.array([bars[r] for r in range(1, n_shown + 1)])
        assert np.allclose(got, ref[:n_shown], rtol=1e-9, atol=1e-12), (T, k, p)
        # ... which are the model's to the 3-decimal rounding of the logits.
        assert np.allclose(got, sampling_distribution(true_sorted, T, k, p)[:n_shown], rtol=0.01, atol=1e-6)
        n = int((ref > 0).sum())
        assert f"can be sampled: {n:,} token{'s' if n != 1 else ''}" in status, (T, k, p, status)


def test_interactive_chart_is_exact_at_gpt2_size():
    """50,257 tokens, as GPT-2's: the chart ships them all and gets every setting right."""
    rng = np.random.default_rng(0)
    logits = (rng.normal(-80, 3, 50257) + np.where(rng.random(50257) < 0.001, 15, 0)).astype(np.float32)
    chart = interactive_chart(logits, [f"t{i}" for i in range(20)], len(logits))
    spec = vegalite_spec(chart)
    assert next(p for p in spec["params"] if p["name"] == "top_k")["bind"]["max"] == 50257
    assert len(json.dumps(spec)) < 150_000  # ~2 bytes per token
    check_chart(spec, logits, 20, sliders=[(1.0, None, 1.0), (3.0, None, 1.0), (1.0, None, 0.9), (3.0, None, 0.9), (2.0, 1000, 0.95), (0.7, 40, 0.8)])


@pytest.fixture(scope="module")
def mini_out(mini_site):
    return mini_site.ctx, {fid: mini_site[fid] for fid in SECTION_FIGURES}


def test_computed_checks_on_mini(mini_out):
    ctx, out = mini_out
    data = {fid: o["figure"].data for fid, o in out.items()}
    assert data["up-projection.pre"]["max_diff"] <= 1e-4  # hook_pre = LN2(x) W_in + b_in
    assert data["gelu.curve"]["max_diff"] <= 1e-4  # hook_post = GELU_tanh(hook_pre)
    assert data["down-projection.neurons"]["max_diff"] <= 1e-4  # Σ a_n W_out[n] + b_out = mlp_out
    sim = data["unembedding.similarity"]
    assert sim["tied"] and sim["tied_max_diff"] == 0.0  # W_U is exactly W_Eᵀ
    assert sim["logit_vs_dot_max_diff"] <= 1e-4  # logits = LN_f(x) · W_E[t]
    assert abs(data["gelu.curve"]["gelu_min"] + 0.17) < 1e-3


def test_gelu_zooms_to_the_bulk_and_counts_the_rest(mini_out):
    ctx, out = mini_out
    g = out["gelu.curve"]["figure"].data
    pre = np.stack([ctx.trace[f"blocks.{l}.mlp.hook_pre"] for l in range(ctx.dims.n_layers)])
    assert g["zoom_lo"] <= -4 and g["zoom_hi"] >= 4  # the dip near −0.75 is always in view
    assert g["n_outside"] == int(((pre < g["zoom_lo"]) | (pre > g["zoom_hi"])).sum())
    assert g["share_inside"] >= 0.99 and g["share_inside"] == round(1 - g["n_outside"] / pre.size, 4)
    assert g["pre_min"] == round(float(pre.min()), 4) and g["pre_max"] == round(float(pre.max()), 4)


def test_predictions_on_mini(mini_out):
    ctx, out = mini_out
    data = {fid: o["figure"].data for fid, o in out.items()}
    top = data["unembedding.top"]
    probs = softmax(ctx.trace["logits"][-1])
    order = np.argsort(-probs, kind="stable")
    assert top["predicted"] == ctx.token_str(order[0]) == "␣Tuesday" and top["predicted_prob"] > 0.5
    assert np.isclose(top["predicted_prob"], probs.max(), atol=1e-4)
    assert top["runner_up"] == ctx.token_str(order[1]) and np.isclose(top["runner_up_prob"], probs[order[1]], rtol=1e-3)
    # A log axis, so that the runners-up are visible however sure the model is.
    spec = json.dumps(out["unembedding.top"]["vl"])
    assert '"type": "log"' in spec
    sim = data["unembedding.similarity"]
    assert sim["top_cosine_rank"] >= 1 and (sim["top_cosine_rank"] == 1) == ("no other" in sim["cosine_rank_text"])
    f = data["mlp.writes"]
    mlp_last = np.array(f["mlp_norms"])[:, -1]
    assert f["focus_layer"] == int(np.argmax(mlp_last))
    assert data["down-projection.neurons"]["layer"] == f["focus_layer"]
    mlp, attn = np.array(f["mlp_norms"]), np.array(f["attn_norms"])
    assert np.isclose(f["mlp_over_attn"], mlp.sum() / attn.sum(), rtol=1e-3)
    assert np.isclose(f["mlp_over_attn_after_first"], mlp[:, 1:].sum() / attn[:, 1:].sum(), rtol=1e-3)
    # mlp.writes draws both panels on one colour scale: a single colour bar.
    assert out["mlp.writes"]["light"].count("vector length (log scale)") == 1


def test_top_neurons_are_the_largest_readings(mini_out):
    ctx, out = mini_out
    d = out["up-projection.top-neurons"]["figure"].data
    for l, top in d["top"].items():
        pre = ctx.trace[f"blocks.{l}.mlp.hook_pre"][-1]
        assert [n for n, *_ in top] == np.argsort(-pre, kind="stable")[:d["k"]].tolist()
    assert d["best_pre"] == max(v[0][1] for v in d["top"].values())
    pre = out["up-projection.pre"]["figure"].data
    assert ("“no”" in pre["reading"]) == (pre["frac_positive"] < 0.5)


def test_down_projection_lists_tokens_on_a_themed_axis(mini_out):
    ctx, out = mini_out
    d = out["down-projection.neurons"]["figure"].data
    spec = {k: v for k, v in out["down-projection.neurons"]["vl"].items() if k != "usermeta"}

    def marks(node):
        if isinstance(node, dict):
            if "mark" in node:
                yield node["mark"]["type"] if isinstance(node["mark"], dict) else node["mark"]
            for v in node.values():
                yield from marks(v)
        elif isinstance(node, list):
            for v in node:
                yield from marks(v)

    # No text marks (their colour would need the page's theme): the tokens are axis labels.
    assert "text" not in set(marks(spec)) and {"bar", "tick"} <= set(marks(spec))
    for row in d["top"]:
        assert " · ".join(row["promotes"]) in out["down-projection.neurons"]["vl.svg"]


def test_decoding_uses_the_most_uncertain_candidate(mini_out):
    import figgen

    ctx, out = mini_out
    dec = out["decoding.settings"]["figure"].data
    # Independently of the batched logits: one full trace per candidate.
    logits = np.stack([figgen.trace(ctx.model, p)["logits"][-1] for p in CANDIDATES])
    h = [entropy(softmax(row)) for row in logits]
    best = int(np.argmax(h))
    assert dec["prompt"] == CANDIDATES[best] == out["decoding.interactive"]["figure"].data["prompt"]
    assert np.isclose(dec["entropy"], h[best], atol=1e-3)
    assert dec["entropy"] > 1.0  # mini is not sure after it (the site prompt: < 0.01 nats)
    chosen = logits[best]
    probs = softmax(chosen)
    assert dec["greedy"] == ctx.token_str(int(np.argmax(probs)))
    assert dec["nucleus_090"] == int((sampling_distribution(chosen, top_p=0.9) > 0).sum())
    assert dec["nucleus_090_tokens"].startswith(f"{dec['nucleus_090']:,} token")
    sets = {s["label"]: s for s in dec["settings"]}
    assert sets["T=1, k=3, p=1"]["support"] == 3
    assert sets["T=0.5, k=all, p=1"]["top_prob"] >= sets["T=1, k=all, p=1"]["top_prob"] >= sets["T=2, k=all, p=1"]["top_prob"]
    inter = out["decoding.interactive"]
    assert inter["figure"].data["n_shipped"] == ctx.dims.d_vocab
    names = {p["name"] for p in inter["vl"]["params"]}
    assert {"temperature", "top_k", "top_p"} <= names
    assert f"the {inter['figure'].data['n_shown']} likeliest" in inter["figure"].caption


def test_interactive_chart_is_exact_on_mini(mini_out):
    ctx, out = mini_out
    import figgen

    prompt = out["decoding.interactive"]["figure"].data["prompt"]
    logits = figgen.trace(ctx.model, prompt)["logits"][-1]
    check_chart(out["decoding.interactive"]["vl"], logits, out["decoding.interactive"]["figure"].data["n_shown"])
