"""Output vectors, the QK circuit and the OV circuit: analyses on hand-built arrays, figures on traces."""

from __future__ import annotations


import numpy as np
import pytest

from figgen.analysis import circuits
from figgen.context import Context


SECTION_FIGURES = {"output-vectors.strips", "output-vectors.norms", "output-vectors.w-o", "output-vectors.check",
                   "qk-circuit.matrix", "qk-circuit.positional", "qk-circuit.scaling", "ov-circuit.copying",
                   "ov-circuit.eigenvalues", "ov-circuit.matrix", "ov-circuit.top-tokens"}
SITE_PROMPT = "If today is Monday, tomorrow is"
rng = np.random.default_rng


# --- analyses on hand-built arrays ---------------------------------------------------------------


def test_head_outputs_known_answer():
    z = np.array([[[1.0], [2.0]]])  # (pos 1, head 2, d_head 1)
    W_O = np.array([[[1.0, 0.0]], [[0.0, 3.0]]])  # (head, d_head, d_model 2)
    out = circuits.head_outputs(z, W_O, np.array([10.0, 20.0]))
    assert out.per_head.tolist() == [[[1.0, 0.0], [0.0, 6.0]]]
    assert out.summed.tolist() == [[11.0, 26.0]] == out.concatenated.tolist()


def test_concatenate_then_project_equals_sum_of_heads():
    g = rng(1)
    z, W_O, b_O = g.standard_normal((5, 3, 4)), g.standard_normal((3, 4, 6)), g.standard_normal(6)
    out = circuits.head_outputs(z, W_O, b_O)
    assert np.allclose(out.summed, out.concatenated, atol=1e-12)
    for h in range(3):
        assert np.allclose(out.per_head[:, h], z[:, h] @ W_O[h])
    # A wrong stacking order (d_head-major instead of head-major) would not match.
    wrong = z.reshape(5, 12) @ W_O.transpose(1, 0, 2).reshape(12, 6) + b_O
    assert not np.allclose(wrong, out.summed)


def test_low_rank_product_has_that_rank():
    g = rng(2)
    for r in (1, 3, 5):
        A, B = g.standard_normal((12, r)), g.standard_normal((12, r))
        spec = circuits.spectrum(circuits.qk_matrix(A, B))
        assert spec.rank == r and len(spec.singular) == 12
        assert spec.singular[r - 1] > 1e6 * max(spec.singular[r], 1e-300)
    assert circuits.spectrum(np.diag([3.0, 2.0, 0.0])).singular.tolist() == [3.0, 2.0, 0.0]
    assert circuits.spectrum(np.diag([3.0, 2.0, 0.0])).rank == 2
    W_V, W_O = g.standard_normal((12, 4)), g.standard_normal((4, 12))
    assert circuits.spectrum(circuits.ov_matrix(W_V, W_O)).rank == 4


def test_qk_matrix_gives_the_bilinear_score():
    g = rng(3)
    x, W_Q, W_K = g.standard_normal((4, 8)), g.standard_normal((8, 2)), g.standard_normal((8, 2))
    zero = np.zeros(2)
    s = circuits.attention_scores(x, W_Q, zero, W_K, zero, scale=0.5, causal=False)
    assert np.allclose(s, 0.5 * x @ circuits.qk_matrix(W_Q, W_K) @ x.T)


def test_attention_scores_known_answer_and_mask():
    x = np.eye(2)
    W = np.eye(2)
    s = circuits.attention_scores(x, W, np.array([1.0, 0.0]), W, np.zeros(2), scale=1.0)
    # q = [[2, 0], [1, 1]], k = [[1, 0], [0, 1]]
    assert s[0, 0] == 2.0 and s[1, 0] == 1.0 and s[1, 1] == 1.0 and s[0, 1] == -np.inf


def test_scaling_invariance():
    g = rng(4)
    x = g.standard_normal((6, 8))
    W_Q, W_K = g.standard_normal((8, 3)), g.standard_normal((8, 3))
    b_Q, b_K = g.standard_normal(3), g.standard_normal(3)
    c = circuits.scaling_check(x, W_Q, b_Q, W_K, b_K, scale=1 / np.sqrt(3), factor=2.0)
    assert circuits.max_abs_diff(c.balanced, c.original) < 1e-12
    assert circuits.max_abs_diff(c.rotated, c.original) < 1e-12
    finite = np.isfinite(c.original)
    assert np.allclose(c.query_only[finite], 2 * c.original[finite])
    assert circuits.max_abs_diff(c.query_only, c.original) > 0.1
    R = circuits.random_rotation(3)
    assert np.allclose(R @ R.T, np.eye(3)) and not np.allclose(R, np.eye(3))


def test_max_abs_diff_sees_mask_mismatch():
    a = np.array([[1.0, -np.inf], [2.0, 3.0]])
    assert circuits.max_abs_diff(a, a + 0.5) == 0.5
    assert circuits.max_abs_diff(a, np.array([[1.0, 0.0], [2.0, 3.0]])) == np.inf


def test_previous_token_scores():
    n = 5
    prev = np.zeros((n, n))
    prev[0, 0] = 1
    prev[np.arange(1, n), np.arange(n - 1)] = 1  # attends exactly to the previous token
    uniform = np.tril(np.ones((n, n))) / np.arange(1, n + 1)[:, None]
    scores = circuits.previous_token_scores(np.stack([prev, uniform]))
    assert scores[0] == 1.0
    assert np.isclose(scores[1], np.mean([1 / 3, 1 / 4, 1 / 5]))  # queries 2, 3, 4


def _token_circuit_parts(g, vocab=40, d=6, e=2):
    W_E, W_U = g.standard_normal((vocab, d)), g.standard_normal((d, vocab))
    W_V, W_O = g.standard_normal((d, e)), g.standard_normal((e, d))
    gamma, gamma_f = g.uniform(0.5, 1.5, d), g.uniform(0.5, 1.5, d)
    return W_E, W_U, W_V, W_O, gamma, gamma_f


def test_eigenvalue_trick_equals_full_token_circuit():
    g = rng(5)
    W_E, W_U, W_V, W_O, gamma, gamma_f = _token_circuit_parts(g)
    C = np.eye(6) - 1 / 6  # centring matrix
    full = W_E @ C @ np.diag(gamma) @ W_V @ W_O @ C @ np.diag(gamma_f) @ W_U  # (vocab, vocab)
    lam_full = np.linalg.eigvals(full)
    lam_full = lam_full[np.argsort(-np.abs(lam_full))]
    UE = circuits.unembed_embed(W_U, W_E, gamma_f)
    lam = circuits.token_ov_eigenvalues(W_V, W_O, UE, gamma)
    assert lam.shape == (2,)
    assert np.allclose(np.sort_complex(lam), np.sort_complex(lam_full[:2]), rtol=1e-4, atol=1e-6)
    assert np.abs(lam_full[2:]).max() < 1e-4 * np.abs(lam).max()
    assert np.isclose(lam.sum().real, np.trace(full), rtol=1e-4)


def test_copying_score_known_answers():
    assert circuits.copying_score(np.array([1.0, 2.0])) == 1.0
    assert circuits.copying_score(np.array([-1.0, -2.0])) == -1.0
    assert circuits.copying_score(np.array([1.0, -1.0])) == 0.0
    assert np.isclose(circuits.copying_score(np.array([1 + 1j, 1 - 1j])), 1 / np.sqrt(2))
    assert circuits.copying_score(np.zeros(3)) == 0.0


def test_copying_identity_head_copies_and_negated_head_suppresses():
    g = rng(6)
    d, vocab = 5, 30
    W_E = circuits.centre(g.standard_normal((vocab, d)), 1)
    W_E /= np.linalg.norm(W_E, axis=1, keepdims=True)  # centred unit rows: a token is its own best match
    weights = {"W_E": W_E, "W_U": W_E.T, "ln_final.w": np.ones(d), "blocks.0.ln1.w": np.ones(d),
               "blocks.0.attn.W_V": np.stack([np.eye(d), np.eye(d), g.standard_normal((d, d))]),
               "blocks.0.attn.W_O": np.stack([np.eye(d), -np.eye(d), g.standard_normal((d, d))])}
    UE = circuits.unembed_embed(weights["W_U"], weights["W_E"], weights["ln_final.w"])
    cp = circuits.copying(weights, 1, UE)
    assert cp.scores.shape == (1, 3) and cp.eigenvalues.shape == (1, 3, d)
    assert np.isclose(cp.scores[0, 0], 1.0) and np.isclose(cp.scores[0, 1], -1.0)
    assert cp.best == (0, 0)
    # The identity head's readout: W_E[t] · W_E[u] is largest for u = t (Cauchy–Schwarz on unit rows).
    ids, _ = circuits.ov_logits_top(weights, 0, 0, np.arange(vocab), k=1)
    assert (ids[:, 0] == np.arange(vocab)).all()
    ids, _ = circuits.ov_logits_top(weights, 0, 1, np.arange(vocab), k=1)
    assert not (ids[:, 0] == np.arange(vocab)).any()


def test_top_tokens_known_answer_and_chunking():
    W_U = np.array([[0.0, 3.0, 1.0, 3.0, -1.0]])  # (d_model 1, vocab 5)
    ids, vals = circuits.top_tokens(np.array([[1.0], [-1.0]]), W_U, k=3, chunk=2)
    assert ids.tolist() == [[1, 3, 2], [4, 0, 2]]  # ties: lower id first
    assert vals.tolist() == [[3.0, 3.0, 1.0], [1.0, 0.0, -1.0]]
    g = rng(7)
    W, v = g.standard_normal((8, 1000)), g.standard_normal((3, 8))
    a = circuits.top_tokens(v, W, k=5, chunk=64)
    b = circuits.top_tokens(v, W, k=5, chunk=5000)
    assert (a[0] == b[0]).all() and (a[0] == np.argsort(-(v @ W), axis=1)[:, :5]).all()


def test_layer_norm_matches_the_trace(tiny):
    ctx = Context.from_model(tiny, SITE_PROMPT)
    x = circuits.layer_norm(ctx.trace["blocks.1.hook_resid_pre"], ctx.weights["blocks.1.ln1.w"],
                            ctx.weights["blocks.1.ln1.b"], tiny.cfg.layer_norm_epsilon)
    assert np.abs(x - ctx.trace["blocks.1.ln1.hook_normalized"]).max() < 1e-4


# --- figures on real traces ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mini_data(mini_site):
    return mini_site.ctx, {fid: mini_site[fid]["figure"].data for fid in SECTION_FIGURES}


def test_heads_add_up_on_mini(mini_data):
    ctx, data = mini_data
    check = data["output-vectors.check"]
    for key in ("max_diff_concat_vs_sum", "max_diff_sum_vs_attn_out", "max_diff_concat_vs_attn_out",
                "max_diff_result_vs_trace"):
        assert check[key] <= 1e-4, key
    assert check["max_abs_attn_out"] > 1e-2  # the check compares real, nonzero vectors
    t, last = ctx.trace, len(ctx.trace.tokens) - 1
    strips = data["output-vectors.strips"]
    assert np.allclose(strips["head_norms"], np.linalg.norm(t["blocks.0.attn.hook_result"][last], axis=-1), atol=1e-3)
    norms = data["output-vectors.norms"]
    assert np.array(norms["norms"]).shape == (ctx.dims.n_layers, ctx.dims.n_heads)
    assert norms["largest_norm"] == max(max(row) for row in norms["norms"])
    assert data["output-vectors.w-o"]["rows"] == ctx.dims.n_heads * ctx.dims.d_head


def test_qk_scaling_invariance_on_mini(mini_data):
    ctx, data = mini_data
    s = data["qk-circuit.scaling"]
    assert s["max_abs_diff_recomputed"] <= 1e-4  # recomputed from ln1.hook_normalized = the trace's scores
    assert s["max_abs_diff_balanced"] <= 1e-4
    assert s["max_abs_diff_rotated"] <= 1e-4
    assert s["max_abs_diff_query_only"] > 1e-2 and abs(s["query_only_ratio"] - 2.0) < 1e-3
    prev = np.stack([circuits.previous_token_scores(ctx.trace[f"blocks.{l}.attn.hook_pattern"])
                     for l in range(ctx.dims.n_layers)])
    assert s["head"] == f"L{s['layer']}H{s['head_index']}"
    assert np.isclose(prev[s["layer"], s["head_index"]], prev.max())


def test_qk_head_is_named_by_what_it_is(mini_data):
    """"Previous-token head" only above the threshold; otherwise the page's verdict says the model has none
    and names the best candidate and the key it attends to most."""
    ctx, data = mini_data
    m = data["qk-circuit.matrix"]
    assert m["head"] == data["qk-circuit.scaling"]["head"]
    assert m["is_previous_token_head"] == (m["prev_token_score"] > m["prev_token_threshold"])
    pattern = ctx.trace[f"blocks.{m['layer']}.attn.hook_pattern"][m["head_index"]]
    n = pattern.shape[-1]
    on_keys = pattern[2:].mean(0)  # mean attention per key over queries 2 … n−1
    assert m["top_key_position"] == int(np.argmax(on_keys)) and m["top_key_share"] == pytest.approx(on_keys.max(), abs=1e-4)
    if m["is_previous_token_head"]:
        assert "is a previous-token head" in m["verdict"] and m["role"] == "the previous-token head"
    else:
        assert m["verdict"].startswith("This model has no previous-token head") and m["head"] in m["verdict"]
        assert "previous-token head" not in m["role"].replace("previous-token score", "")
        assert m["n_previous_token_heads"] == 0
    pos = data["qk-circuit.positional"]
    assert pos["layer"] == 0 and pos["verdict"].startswith(("Layer 0 has no", pos["head"]))
    assert np.isclose(n, len(ctx.trace.tokens))


def test_circuit_ranks_on_mini(mini_data):
    ctx, data = mini_data
    for fid in ("qk-circuit.matrix", "ov-circuit.matrix"):
        m = data[fid]
        assert m["rank"] == ctx.dims.d_head < ctx.dims.d_model, fid
        assert m["drop"] > 1e6, fid
    pos = data["qk-circuit.positional"]
    assert pos["layer"] == 0 and pos["n_positions"] == min(64, ctx.dims.n_ctx)
    assert 0 <= pos["argmax_prev_share"] + pos["argmax_self_share"] <= 1


def test_copying_on_mini(mini_data):
    ctx, data = mini_data
    cp = data["ov-circuit.copying"]
    scores = np.array(cp["scores"])
    assert scores.shape == (ctx.dims.n_layers, ctx.dims.n_heads)
    assert (np.abs(scores) <= 1 + 1e-9).all()
    l, h = np.unravel_index(np.argmax(scores), scores.shape)
    assert cp["best_head"] == f"L{l}H{h}" == data["ov-circuit.matrix"]["head"] == data["ov-circuit.top-tokens"]["head"]
    assert cp["n_positive"] == int((scores > 0).sum())
    # The trick on the real model: Σλ equals the trace of the full (vocab × vocab) circuit, cheap to form here.
    W = ctx.weights
    E = circuits.centre(W["W_E"].astype(np.float64), 1) * W[f"blocks.{l}.ln1.w"]
    out = E @ circuits.ov_matrix(W[f"blocks.{l}.attn.W_V"][h], W[f"blocks.{l}.attn.W_O"][h])
    full_trace = np.einsum("vd,dv->", circuits.centre(out, 1) * W["ln_final.w"], W["W_U"].astype(np.float64))
    UE = circuits.unembed_embed(W["W_U"], W["W_E"], W["ln_final.w"])
    lam = circuits.token_ov_eigenvalues(W[f"blocks.{l}.attn.W_V"][h], W[f"blocks.{l}.attn.W_O"][h], UE,
                                        W[f"blocks.{l}.ln1.w"])
    assert np.isclose(lam.sum().real, full_trace, rtol=1e-3)
    top = data["ov-circuit.top-tokens"]
    assert top["n_tokens"] == len(set(ctx.trace.tokens.tolist())) == len(top["top"])
    assert all(len(row["top"]) == top["k"] for row in top["top"])
    assert top["n_self"] == sum(row["self_in_top"] for row in top["top"])
