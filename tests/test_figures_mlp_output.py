"""The MLP, unembedding and decoding sections: decoding maths on hand-built logits, the figures'
computed checks on real traces."""

from __future__ import annotations

import numpy as np
import pytest

from figgen.analysis.decoding import entropy, sampling_distribution, softmax
from figgen.figures.gelu import gelu_erf, gelu_tanh, quantile_sample


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


def _vega_like(rows, T, k, p):
    """What the interactive chart's transforms compute (mirrors decoding.interactive)."""
    logit = np.array([r["logit"] for r in rows])
    rank = np.array([r["rank"] for r in rows])
    e = np.exp(logit / T - (logit / T).max())
    pT = e / e.sum()
    ek = np.where(rank <= k, pT, 0)
    pk = ek / ek.sum()
    cum = np.cumsum(pk[np.argsort(rank)])[np.argsort(np.argsort(rank))]
    kept = (rank <= k) & ((cum - pk < p) | (rank == 1))
    ep = np.where(kept, pk, 0)
    return ep / ep.sum()


@pytest.mark.parametrize("T,k,p", [(1.0, 50, 1.0), (2.0, 50, 1.0), (3.0, 5, 1.0), (3.0, 50, 0.5), (0.5, 3, 0.9)])
def test_interactive_transforms_follow_the_reference(T, k, p):
    rng = np.random.default_rng(0)
    logits = np.sort(rng.normal(0, 2, 50))[::-1]
    rows = [{"rank": i + 1, "logit": float(v)} for i, v in enumerate(logits)]
    assert np.allclose(_vega_like(rows, T, k, p), sampling_distribution(logits, T, k, p), atol=1e-12)


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


def test_predictions_and_decoding_on_mini(mini_out):
    ctx, out = mini_out
    data = {fid: o["figure"].data for fid, o in out.items()}
    top = data["unembedding.top"]
    assert top["predicted"] == " Tuesday" and top["predicted_prob"] > 0.5
    probs = softmax(ctx.trace["logits"][-1])
    assert np.isclose(top["predicted_prob"], probs.max(), atol=1e-4)
    dec = data["decoding.settings"]
    assert dec["greedy"] == " Tuesday" and np.isclose(dec["entropy"], entropy(probs), atol=1e-3)
    sets = {s["label"]: s for s in dec["settings"]}
    assert sets["T=1, k=3, p=1"]["support"] == 3
    assert sets["T=0.5, k=all, p=1"]["top_prob"] >= sets["T=1, k=all, p=1"]["top_prob"] >= sets["T=2, k=all, p=1"]["top_prob"]
    assert data["decoding.interactive"]["n_shipped"] == 50
    f = data["mlp.writes"]
    mlp_last = np.array(f["mlp_norms"])[:, -1]
    assert f["focus_layer"] == int(np.argmax(mlp_last))
    assert data["down-projection.neurons"]["layer"] == f["focus_layer"]
    # the interactive spec carries the three parameters and compiles to SVG (render did that)
    names = {p["name"] for p in out["decoding.interactive"]["vl"]["params"]}
    assert {"temperature", "top_k", "top_p"} <= names
