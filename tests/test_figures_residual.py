"""The input-embeddings, residual-stream and layernorm sections: direct logit attribution on hand-built
arrays, the figures on real traces, and the checks they compute."""

from __future__ import annotations


import numpy as np
import pytest

from figgen.analysis import attribution
from figgen.context import Context


SITE_PROMPT = "If today is Monday, tomorrow is"
SECTION_FIGURES = {"input-embeddings.strips", "input-embeddings.norms", "residual-stream.norms",
                   "residual-stream.writers", "residual-stream.heads", "layernorm.steps", "layernorm.scales"}


# --- direct logit attribution on hand-built arrays --------------------------------------------------


def test_direct_logit_attribution_known_answer():
    writers = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 3.0]])  # (2 writers, d_model 3)
    gamma, beta, u = np.array([1.0, 2.0, 1.0]), np.array([0.5, 0.0, 0.0]), np.array([1.0, 1.0, 0.0])
    a = attribution.direct_logit_attribution(writers, 2.0, gamma, beta, u)
    # centred: [-1, 0, 1] and [-1, -1, 2]; · γ·u/2 = [0.5, 1, 0]
    assert a.contributions.tolist() == [-0.5, -1.5]
    assert a.ln_bias == 0.5 and a.total == -1.5 and a.scale == 2.0


def test_attribution_sums_to_layernorm_logit():
    rng = np.random.default_rng(0)
    writers = rng.standard_normal((7, 16)) * rng.uniform(0.1, 5, (7, 1))  # (writer, d_model)
    gamma, beta, u = rng.standard_normal(16), rng.standard_normal(16), rng.standard_normal(16)
    x = writers.sum(0)
    scale = np.sqrt(x.var() + 1e-5)
    logit = ((x - x.mean()) / scale * gamma + beta) @ u  # the real LayerNorm, then the unembedding
    a = attribution.direct_logit_attribution(writers, scale, gamma, beta, u)
    assert a.total == pytest.approx(logit, abs=1e-10)
    # The scale is frozen: with another one the terms no longer add up to the logit.
    assert attribution.direct_logit_attribution(writers, 2 * scale, gamma, beta, u).total != pytest.approx(logit)


def test_collect_writers_order_and_sum():
    rng = np.random.default_rng(1)
    pos, d, H = 3, 4, 2
    trace = {"hook_embed": rng.standard_normal((pos, d)), "hook_pos_embed": rng.standard_normal((pos, d))}
    b_O = [rng.standard_normal(d) for _ in range(2)]
    for l in range(2):
        trace[f"blocks.{l}.attn.hook_result"] = rng.standard_normal((pos, H, d))
        trace[f"blocks.{l}.hook_mlp_out"] = rng.standard_normal((pos, d))
    w = attribution.collect_writers(trace, b_O, 2)
    assert w.labels == ["embed", "L0H0", "L0H1", "L0 b_O", "L0 MLP", "L1H0", "L1H1", "L1 b_O", "L1 MLP"]
    assert w.kinds[:5] == ["embed", "head", "head", "b_O", "mlp"]
    assert w.layers.tolist() == [-1, 0, 0, 0, 0, 1, 1, 1, 1] and w.heads.tolist() == [-1, 0, 1, -1, -1, 0, 1, -1, -1]
    expected = trace["hook_embed"][2] + trace["hook_pos_embed"][2] + sum(
        trace[f"blocks.{l}.attn.hook_result"][2].sum(0) + b_O[l] + trace[f"blocks.{l}.hook_mlp_out"][2]
        for l in range(2))
    assert np.allclose(w.vectors.sum(0), expected)
    assert np.array_equal(w.vectors[6], trace["blocks.1.attn.hook_result"][2, 1])


# --- figures on real traces -------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["tiny", "mini"])
def test_attribution_reconstructs_the_logit(which, request):
    """The computed check: writers' direct contributions + the LN bias term = the traced logit."""
    from figgen.figures.residual_stream import final_attribution

    ctx = Context.from_model(request.getfixturevalue(which), SITE_PROMPT)
    a = final_attribution(ctx)
    t = ctx.trace
    token = int(np.argmax(t["logits"][-1]))
    assert a["token"] == token
    assert abs(a["attr"].contributions.sum() + a["attr"].ln_bias - t["logits"][-1, token]) < 1e-3
    n = ctx.dims.n_layers
    assert len(a["writers"].labels) == 1 + n * (ctx.dims.n_heads + 2)
    assert a["writers_sum_error"] < 1e-3


@pytest.fixture(scope="module")
def mini_data(mini_site):
    return mini_site.ctx, {fid: mini_site[fid]["figure"].data for fid in SECTION_FIGURES}


def test_input_embeddings_data(mini_data):
    ctx, data = mini_data
    t = ctx.trace
    strips = data["input-embeddings.strips"]
    assert strips["n_positions"] == len(t.tokens) == 8
    assert strips["max_diff_sum_vs_resid_pre"] < 1e-5 and strips["max_diff_embed_vs_W_E"] < 1e-6
    norms = data["input-embeddings.norms"]
    W_E, W_pos = ctx.weights["W_E"], ctx.weights["W_pos"]
    assert np.allclose(norms["token_norms"], np.linalg.norm(W_E[t.tokens], axis=-1), atol=1e-3)
    assert np.allclose(norms["pos_norms"], np.linalg.norm(W_pos[:8], axis=-1), atol=1e-3)
    assert np.allclose(norms["input_norms"], np.linalg.norm(t["blocks.0.hook_resid_pre"], axis=-1), atol=1e-3)


def test_residual_stream_data(mini_data, mini_site):
    ctx, data = mini_data
    t, L = ctx.trace, ctx.dims.n_layers
    rn = data["residual-stream.norms"]
    assert rn["n_stages"] == 2 * L + 1 and rn["stages"][-1] == f"L{L - 1} post"
    assert np.allclose(rn["final_norms"], np.linalg.norm(t[f"blocks.{L - 1}.hook_resid_post"], axis=-1), atol=1e-3)
    final = np.asarray(rn["final_norms"])
    assert rn["first_over_median"] == pytest.approx(final[0] / np.median(final[1:]), rel=1e-3)
    cut = rn["stands_out_threshold"]
    assert rn["first_stands_out"] == (rn["first_over_median"] >= cut or rn["first_over_median"] <= 1 / cut)
    # The sentence follows the verdict, and names every other position that passes the same test.
    assert ("does not stand out" in rn["first_note"]) == (not rn["first_stands_out"])
    assert len(rn["also_over_threshold"]) == int((final[1:] >= cut * np.median(final[1:])).sum()) \
        if rn["first_over_median"] >= cut else rn["also_over_threshold"] == []
    pattern = np.stack([t[f"blocks.{l}.attn.hook_pattern"] for l in range(L)])  # (L, H, q, k)
    share = pattern[:, :, 1:, 0].mean(-1)
    assert rn["n_sink_heads"] == int((share >= rn["sink_threshold"]).sum())
    assert rn["sink_best_share"] == pytest.approx(share.max(), abs=1e-3)
    w = data["residual-stream.writers"]
    assert w["predicted_token"] == ctx.token_str(int(np.argmax(t["logits"][-1])))
    assert w["logit"] == pytest.approx(float(t["logits"][-1].max()), abs=1e-3)
    assert w["reconstruction_error"] < 1e-3 and abs(w["sum_of_terms"] - w["logit"]) < 1e-3
    assert w["ln_scale"] == pytest.approx(float(t["ln_final.hook_scale"][-1, 0]), abs=1e-3)
    values = [v for _, v in w["top"]]
    assert len(values) == 15 and all(abs(a) >= abs(b) - 1e-9 for a, b in zip(values, values[1:]))
    # The legend lists exactly the kinds that have a bar; the caption names the others.
    chart = mini_site["residual-stream.writers"]["vl"]
    legend = [layer for layer in chart["layer"] if "color" in layer.get("encoding", {})][0]
    domain = legend["encoding"]["color"]["scale"]["domain"]
    shown = {row["kind"] for row in chart["layer"][0]["data"]["values"]} if "data" in chart["layer"][0] \
        else {row["kind"] for row in chart["data"]["values"]}
    assert set(domain) == shown == set(w["kinds_shown"]) and not set(domain) & set(w["kinds_not_shown"])
    assert sum(w["by_kind"].values()) + w["ln_bias"] == pytest.approx(w["logit"], abs=1e-3)
    heads = data["residual-stream.heads"]
    grid = np.asarray(heads["contributions"])
    assert grid.shape == (L, ctx.dims.n_heads)
    assert heads["sum_heads"] == pytest.approx(w["by_kind"]["head"], abs=1e-3)
    assert grid.max() == pytest.approx(heads["max_value"]) and grid.min() == pytest.approx(heads["min_value"])


def test_layernorm_data(mini_data):
    ctx, data = mini_data
    t = ctx.trace
    s = data["layernorm.steps"]
    assert abs(s["mean_normed"]) < 1e-6 and abs(s["std_normed"] - 1) < 1e-3
    # ε keeps the normalised standard deviation a hair below 1: the gap the page quotes, from ε and the traced scale.
    x64 = np.asarray(t[f"blocks.{s['layer']}.hook_resid_pre"][-1], np.float64)
    assert s["std_gap"] == pytest.approx(1 - x64.std() / np.sqrt(x64.var() + s["eps"]), rel=1e-2)
    assert 0 < s["std_gap"] < 1e-4 and s["std_gap_traced"] == pytest.approx(s["std_gap"], rel=0.1)
    assert s["gamma_above_1"] + s["gamma_below_1"] <= s["d_model"]
    assert s["max_diff_vs_traced"] < 1e-4 and s["scale_vs_std"] < 1e-3
    x = t[f"blocks.{s['layer']}.hook_resid_pre"][-1]
    assert s["std_before"] == pytest.approx(float(x.std()), abs=1e-3)
    assert s["norm_normed"] == pytest.approx(s["sqrt_d_model"], abs=1e-2)  # unit variance ⇒ length √d
    sc = data["layernorm.scales"]
    L = ctx.dims.n_layers
    assert sc["n_layernorms"] == 2 * L + 1 and sc["names"][-1] == "ln_final"
    scales = np.asarray(sc["scales"])
    assert np.allclose(scales[-1], t["ln_final.hook_scale"][:, 0], atol=1e-3)
    assert np.allclose(scales[1], t["blocks.0.ln2.hook_scale"][:, 0], atol=1e-3)
    assert sc["max_scale"] == pytest.approx(scales.max()) and sc["names"][int(np.argmax(scales.max(1)))] == sc["max_ln"]
    med = np.median(scales, axis=1)
    assert sc["depth_ratio"] == pytest.approx(med[-1] / med[0], rel=1e-2)
    assert sc["grows_with_depth"] == (sc["depth_rank_correlation"] >= sc["grows_rank_threshold"]
                                      and sc["depth_ratio"] >= sc["grows_ratio_threshold"])
    assert ("do not clearly grow" in sc["depth_note"]) == (not sc["grows_with_depth"])


def test_layernorm_steps_centres_gamma_at_one(mini_site):
    """γ's strip is coloured around 1 (the identity), the other strips around 0."""
    import matplotlib
    from matplotlib.colors import TwoSlopeNorm

    from figgen.figures import style
    from figgen.figures.registry import load_all

    ctx = mini_site.ctx
    with matplotlib.rc_context(style.rc("light")):
        fig = load_all()["layernorm.steps"].func(ctx).mpl
    strips = [ax for ax in fig.axes if ax.images and ax.get_title(loc="left")]
    centres = [ax.images[0].norm.vcenter for ax in strips]
    assert centres == [0.0, 0.0, 1.0, 0.0, 0.0]
    assert all(isinstance(ax.images[0].norm, TwoSlopeNorm) for ax in strips)
