"""The batched forward pass with edits: equal to `trace` without edits, each edit against a hand
computation on a tiny random config, the sweep against the plain loop, and one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import figgen
from figgen.errors import FiggenError, PromptError
from figgen.interventions import (AddResid, InVitro, ReplaceHead, ReplaceMLP, SetPattern, head_ablation_sweep,
                                  head_results_mean, hook_names, run, tokenize_batch)
from figgen.trace import ACTIVATIONS, layer_norm

DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
TOL = 1e-5


@pytest.fixture(scope="module")
def tokens(tiny):
    """Four rows of 7 ids on the tiny model (random ids: the edits do not care what they spell)."""
    rng = np.random.default_rng(0)
    ids = rng.integers(0, tiny.cfg.vocab_size, size=(4, 7))
    ids[:, 0] = tiny.cfg.bos_token_id
    return ids


def clean(model, tokens, *names):
    return run(model, tokens, keep=names)


def assert_close(a, b, tol=TOL):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    assert np.abs(a - b).max() <= tol, np.abs(a - b).max()


# --- no edits: the trace, batched -----------------------------------------------------------------


def equal_length_prompts(model) -> list[str]:
    """Day prompts of the most common length (all seven on mini; tiny's BPE splits some days)."""
    from figgen.trace import tokenize

    prompts = [f"If today is {d}, tomorrow is" for d in DAYS] + ["If today is May, tomorrow is", "One two three"]
    lengths = [len(tokenize(model, p)) for p in prompts]
    common = max(set(lengths), key=lengths.count)
    return [p for p, n in zip(prompts, lengths) if n == common]


@pytest.mark.parametrize("which", ["tiny", "mini"])
def test_no_edits_equals_trace(which, request):
    model = request.getfixturevalue(which)
    prompts = equal_length_prompts(model)
    assert len(prompts) >= 2
    out = run(model, tokenize_batch(model, prompts), keep=hook_names(model.weights.dims))
    assert set(out) == set(hook_names(model.weights.dims))
    for i, prompt in enumerate(prompts):
        t = figgen.trace(model, prompt)
        for name in t:
            a, b = out[name][i], t[name]
            assert a.shape == b.shape, name
            finite = np.isfinite(b)  # attention scores are −inf above the diagonal in both
            assert (np.isfinite(a) == finite).all(), name
            assert np.abs(a[finite] - b[finite]).max(initial=0) <= TOL, name


def test_final_only_logits(tiny, tokens):
    out = run(tiny, tokens, final_only=True)
    assert out.logits.shape == (4, 1, tiny.cfg.vocab_size)
    assert_close(out.logits[:, 0], run(tiny, tokens).logits[:, -1])


# --- each edit against a hand computation ---------------------------------------------------------


def test_zero_head_changes_attn_out_by_minus_its_result(tiny, tokens):
    names = ["blocks.1.attn.hook_result", "blocks.1.hook_attn_out", "blocks.1.hook_resid_pre", "blocks.0.hook_resid_post"]
    before = clean(tiny, tokens, *names)
    after = run(tiny, tokens, edits=[ReplaceHead(1, 2, pos=5, rows=[0, 2])], keep=names)
    delta = after["blocks.1.hook_attn_out"] - before["blocks.1.hook_attn_out"]
    expected = np.zeros_like(delta)
    expected[[0, 2], 5] = -before["blocks.1.attn.hook_result"][[0, 2], 5, 2]
    assert_close(delta, expected)
    for name in ("blocks.1.hook_resid_pre", "blocks.0.hook_resid_post"):  # nothing before it moves
        assert_close(after[name], before[name], 0)


def test_replace_head_with_value_and_patch(tiny, tokens):
    name = "blocks.0.attn.hook_result"
    other = clean(tiny, tokens[::-1].copy(), name)[name]  # (batch, pos, head, d_model) of another run
    out = run(tiny, tokens, edits=[ReplaceHead(0, 1, value=other[:, :, 1])], keep=[name, "blocks.0.hook_attn_out"])
    assert_close(out[name][:, :, 1], other[:, :, 1], 0)
    b_O = tiny.weights["blocks.0.attn.b_O"].numpy()
    assert_close(out["blocks.0.hook_attn_out"], out[name].sum(2) + b_O)
    mean = np.arange(tiny.weights.dims.d_model, dtype=np.float32)  # a (d_model,) vector everywhere
    out = run(tiny, tokens, edits=[ReplaceHead(0, 3, value=mean, pos=[-1])], keep=[name])
    assert_close(out[name][:, -1, 3], np.broadcast_to(mean, (4, mean.size)), 0)


def test_fixed_pattern_row_gives_weighted_values(tiny, tokens):
    names = ["blocks.1.attn.hook_pattern", "blocks.1.attn.hook_v", "blocks.1.attn.hook_z"]
    row = np.array([0.5, 0, 0.25, 0, 0.25, 0, 0], dtype=np.float32)
    out = run(tiny, tokens, edits=[SetPattern(1, 3, query=6, row=row)], keep=names)
    v, z = out["blocks.1.attn.hook_v"], out["blocks.1.attn.hook_z"]  # (batch, pos, head, d_head)
    assert_close(out["blocks.1.attn.hook_pattern"][:, 3, 6], np.broadcast_to(row, (4, 7)), 0)
    assert_close(z[:, 6, 3], np.einsum("k,bke->be", row, v[:, :, 3]))
    one_hot = run(tiny, tokens, edits=[SetPattern(1, 3, query=-1, row=3, rows=1)], keep=names)
    assert_close(one_hot["blocks.1.attn.hook_z"][1, 6, 3], one_hot["blocks.1.attn.hook_v"][1, 3, 3])
    before = clean(tiny, tokens, "blocks.1.attn.hook_z")["blocks.1.attn.hook_z"]
    assert_close(one_hot["blocks.1.attn.hook_z"][0], before[0], 0)  # other rows untouched


def test_steering_vector_appears_at_and_after_the_hook(tiny, tokens):
    W_U = tiny.weights["W_U"].numpy()
    vector = 3.0 * W_U[:, 7]  # α × a token's unembedding direction
    names = ["blocks.0.hook_resid_mid", "blocks.0.hook_resid_post", "blocks.1.hook_resid_pre",
             "blocks.0.attn.hook_result", "blocks.0.hook_mlp_out"]
    before = clean(tiny, tokens, *names)
    after = run(tiny, tokens, edits=[AddResid("blocks.0.hook_resid_mid", vector, pos=2)], keep=names)
    expected = before["blocks.0.hook_resid_mid"].copy()
    expected[:, 2] += vector
    assert_close(after["blocks.0.hook_resid_mid"], expected)
    assert_close(after["blocks.0.attn.hook_result"], before["blocks.0.attn.hook_result"], 0)  # before the hook
    # after it: resid_post = (resid_mid + vector) + the MLP's output on that sum
    assert_close(after["blocks.0.hook_resid_post"], expected + after["blocks.0.hook_mlp_out"])
    assert_close(after["blocks.1.hook_resid_pre"], after["blocks.0.hook_resid_post"], 0)


def test_mlp_ablation(tiny, tokens):
    names = ["blocks.1.hook_resid_mid", "blocks.1.hook_mlp_out", "blocks.1.hook_resid_post", "logits"]
    out = run(tiny, tokens, edits=[ReplaceMLP(1)], keep=names)
    assert_close(out["blocks.1.hook_mlp_out"], np.zeros_like(out["blocks.1.hook_mlp_out"]), 0)
    assert_close(out["blocks.1.hook_resid_post"], out["blocks.1.hook_resid_mid"])
    W = tiny.weights
    _, x = layer_norm(torch.tensor(out["blocks.1.hook_resid_mid"]), W["ln_final.w"], W["ln_final.b"],
                      tiny.cfg.layer_norm_epsilon)
    assert_close(out.logits, (x @ W["W_U"]).numpy())
    mean = clean(tiny, tokens, "blocks.1.hook_mlp_out")["blocks.1.hook_mlp_out"].mean(0)  # (pos, d_model)
    out = run(tiny, tokens, edits=[ReplaceMLP(1, value=mean)], keep=names)
    assert_close(out["blocks.1.hook_resid_post"], out["blocks.1.hook_resid_mid"] + mean)


def hand_head(W, l, h, resid, eps):
    """Head (l, h)'s result on `resid` (pos, d_model), written out in numpy from the weights."""
    p = f"blocks.{l}."
    x = resid - resid.mean(-1, keepdims=True)
    x = x / np.sqrt((x ** 2).mean(-1, keepdims=True) + eps) * W[p + "ln1.w"].numpy() + W[p + "ln1.b"].numpy()
    q, k, v = (x @ W[p + f"attn.W_{c}"][h].numpy() + W[p + f"attn.b_{c}"][h].numpy() for c in "QKV")
    scores = q @ k.T / np.sqrt(q.shape[-1])
    scores[np.triu_indices(len(x), 1)] = -np.inf
    pattern = np.exp(scores - scores.max(-1, keepdims=True))
    pattern /= pattern.sum(-1, keepdims=True)
    return pattern @ v @ W[p + "attn.W_O"][h].numpy()


def hand_mlp(model, l, resid):
    W, p, eps = model.weights, f"blocks.{l}.", model.cfg.layer_norm_epsilon
    _, x = layer_norm(torch.tensor(resid, dtype=torch.float32), W[p + "ln2.w"], W[p + "ln2.b"], eps)
    post = ACTIVATIONS[model.cfg.activation_function](x @ W[p + "mlp.W_in"] + W[p + "mlp.b_in"])
    return (post @ W[p + "mlp.W_out"] + W[p + "mlp.b_out"]).numpy()


def test_in_vitro_against_hand_computation(tiny, tokens):
    """embeddings → mlp0 (layer 0's heads zero-ablated as TransformerLens does: their value-bias terms stay in
    b_O) → L1H2 and mlp1 reading that stream in parallel, their outputs alone (the head's without its
    value-bias term, no b_O) unembedded: Gould et al.'s setup, shrunk to 2 layers."""
    from figgen.analysis.processing import value_bias

    W, eps = tiny.weights, tiny.cfg.layer_norm_epsilon
    Wn = {k: v.numpy() for k, v in W.items()}
    vb = [value_bias(Wn, l) for l in range(2)]  # (head, d_model) each
    setup = InVitro(frozenset({"mlp0", "L1H2", "mlp1"}), cut=1)
    out = run(tiny, tokens, edits=[setup], keep=["blocks.1.hook_resid_pre"])
    for b in range(len(tokens)):
        stream = Wn["W_E"][tokens[b]] + Wn["W_pos"][:7] + Wn["blocks.0.attn.b_O"] + vb[0].sum(0)
        stream = stream + hand_mlp(tiny, 0, stream)  # resid_pre of layer 1: x
        y = hand_head(W, 1, 2, stream, eps) - vb[1][2] + hand_mlp(tiny, 1, stream)
        _, x = layer_norm(torch.tensor(y, dtype=torch.float32), W["ln_final.w"], W["ln_final.b"], eps)
        assert_close(out.logits[b], (x @ W["W_U"]).numpy(), 1e-4)
        assert_close(out["blocks.1.hook_resid_pre"][b], np.zeros_like(y), 0)  # the stream restarts at the cut
    final = run(tiny, tokens, edits=[setup], final_only=True)  # the last layer at the final position only
    assert_close(final.logits[:, 0], out.logits[:, -1])
    # without a cut: the same subset in the ordinary residual stream = TransformerLens's zero ablation of the
    # others (each head's result replaced by its value-bias term) and the other MLPs zeroed
    subset = run(tiny, tokens, edits=[InVitro(frozenset({"mlp0", "L1H2"}))])
    by_edits = run(tiny, tokens, edits=[*(ReplaceHead(l, h, vb[l][h]) for l in range(2) for h in range(4)
                                          if (l, h) != (1, 2)), ReplaceMLP(1)])
    assert_close(subset.logits, by_edits.logits)
    # a layer with nothing kept adds nothing, not even b_O: only layer 1's head runs, on the embeddings
    alone = run(tiny, tokens, edits=[InVitro(frozenset({"L1H2"}))], keep=["blocks.1.hook_resid_pre"])
    assert_close(alone["blocks.1.hook_resid_pre"], Wn["W_E"][tokens] + Wn["W_pos"][:7], 1e-6)


def test_start_reuses_an_earlier_run(tiny, tokens):
    """A run begun at layer 1 from a clean run's resid_pre equals the whole run with the same edit."""
    edit = ReplaceHead(1, 3, 0.0)
    pre = run(tiny, tokens, keep=["blocks.1.hook_resid_pre"])["blocks.1.hook_resid_pre"]
    whole = run(tiny, tokens, edits=[edit], keep=["blocks.1.attn.hook_pattern"])
    part = run(tiny, tokens, edits=[edit], keep=["blocks.1.attn.hook_pattern"], start=(1, pre))
    assert_close(part.logits, whole.logits, 1e-5)
    assert_close(part["blocks.1.attn.hook_pattern"], whole["blocks.1.attn.hook_pattern"], 1e-6)
    with pytest.raises(FiggenError, match="cannot edit or keep what comes before"):
        run(tiny, tokens, edits=[ReplaceHead(0, 0)], start=(1, pre))


# --- the sweep ------------------------------------------------------------------------------------


def test_sweep_equals_the_loop(tiny, tokens):
    dims = tiny.weights.dims
    means = head_results_mean(tiny, tokens)  # (layer, pos, head, d_model)
    assert means.shape == (dims.n_layers, 7, dims.n_heads, dims.d_model)
    other = np.stack([clean(tiny, tokens[::-1].copy(), f"blocks.{l}.attn.hook_result")[f"blocks.{l}.attn.hook_result"]
                      for l in range(dims.n_layers)])  # (layer, batch, pos, head, d_model): patching
    values = {"zero": 0.0, "mean": means[:, None], "patch": other}
    sweep = head_ablation_sweep(tiny, tokens, values, tokens_per_run=20)  # small runs: the chunking is exercised
    assert sweep.shape == (3, dims.n_layers, dims.n_heads, len(tokens), dims.d_vocab)
    for k, value in enumerate(values.values()):
        full = np.broadcast_to(value, (dims.n_layers, len(tokens), 7, dims.n_heads, dims.d_model))
        for l in range(dims.n_layers):
            for h in range(dims.n_heads):
                for b in range(len(tokens)):
                    loop = run(tiny, tokens[b:b + 1], edits=[ReplaceHead(l, h, full[l, b, :, h])]).logits[0, -1]
                    assert_close(sweep[k, l, h, b], loop)
    # reduced to what a caller keeps (here each variant's top logit and its prompt): the same values, smaller
    top = head_ablation_sweep(tiny, tokens, values, tokens_per_run=20,
                              reduce=lambda lg, rows: np.stack([lg.max(-1), rows], -1))
    assert top.shape == (3, dims.n_layers, dims.n_heads, len(tokens), 2)
    assert_close(top[..., 0], sweep.max(-1))
    assert (top[..., 1] == np.arange(len(tokens))).all()
    targets = np.array([3, 7, 11, 5, 2])[:len(tokens)]
    probs = head_ablation_sweep(tiny, tokens, values, targets=targets)
    soft = np.exp(sweep - sweep.max(-1, keepdims=True))
    soft /= soft.sum(-1, keepdims=True)
    assert_close(probs, np.take_along_axis(soft, targets[None, None, None, :, None], -1)[..., 0], 1e-5)


def test_a_shared_prefix_is_run_once(tiny, tokens):
    """A dataset whose rows share their first tokens (Gould et al.'s mean-ablation set shares "If today is"):
    the means and a sweep with those means reuse the prefix's keys and values, and equal the plain loops."""
    from figgen.interventions import shared_prefix

    rng = np.random.default_rng(0)
    data = np.repeat(tokens[:1], 12, 0)
    data[:, 4:] = rng.integers(1, tiny.weights.dims.d_vocab, size=(12, 3))  # positions 0–3 shared
    assert shared_prefix(data) == 4 and shared_prefix(tokens) == 1  # the BOS alone
    means = head_results_mean(tiny, data, tokens_per_run=6)
    by_hand = np.stack([np.mean([clean(tiny, data[i:i + 1], f"blocks.{l}.attn.hook_result")[f"blocks.{l}.attn.hook_result"][0]
                                 for i in range(12)], 0) for l in range(2)])  # (layer, pos, head, d_model)
    assert_close(means, by_hand, 1e-5)
    prompts = np.repeat(data[:1], 3, 0)
    prompts[:, 4:] = rng.integers(1, tiny.weights.dims.d_vocab, size=(3, 3))  # the task's prompts, same prefix
    sweep = head_ablation_sweep(tiny, prompts, {"mean": means[:, None]}, tokens_per_run=7)
    for l, h, b in [(0, 0, 0), (0, 3, 2), (1, 1, 1)]:
        loop = run(tiny, prompts[b:b + 1], edits=[ReplaceHead(l, h, means[l, :, h])]).logits[0, -1]
        assert_close(sweep[0, l, h, b], loop)


# --- bad input: one line --------------------------------------------------------------------------


@pytest.mark.parametrize("call, message", [
    (lambda m, t: tokenize_batch(m, ["If today is Monday, tomorrow is", "Hi"]), "different lengths"),
    (lambda m, t: run(m, [[1, 2, 3], [1, 2]]), "equal"),
    (lambda m, t: run(m, [[0, 10**6]]), "vocabulary"),
    (lambda m, t: run(m, t, edits=[ReplaceHead(2, 0)]), "layer 2 is out of range"),
    (lambda m, t: run(m, t, edits=[ReplaceHead(0, 4)]), "head 4 is out of range"),
    (lambda m, t: run(m, t, edits=[SetPattern(0, 9, 1, 0)]), "head 9 is out of range"),
    (lambda m, t: run(m, t, edits=[SetPattern(0, 0, 2, [1, 0, 0, 0, 0, 0, 0.5])]), "sum to 1"),
    (lambda m, t: run(m, t, edits=[SetPattern(0, 0, 2, 5)]), "after query"),
    (lambda m, t: run(m, t, edits=[ReplaceHead(0, 0, pos=7)]), "position 7 is out of range"),
    (lambda m, t: run(m, t, edits=[ReplaceHead(0, 0, value=np.zeros(3))]), "does not broadcast"),
    (lambda m, t: run(m, t, edits=[AddResid("blocks.0.hook_resid_end", 0.0)]), "not blocks"),
    (lambda m, t: run(m, t, edits=[InVitro(frozenset({"L5H0"}))]), "layer 5 is out of range"),
    (lambda m, t: run(m, t, edits=[InVitro(frozenset({"head3"}))]), "neither a head"),
    (lambda m, t: run(m, t, keep=["blocks.0.attn.hook_patern"]), "unknown hook name"),
    (lambda m, t: run(m, t, keep=["blocks.7.hook_resid_pre"]), "unknown hook name"),
    (lambda m, t: head_ablation_sweep(m, t, {"mean": np.zeros(3)}), "must broadcast"),
])
def test_bad_input_is_one_line(tiny, tokens, call, message):
    with pytest.raises(FiggenError) as err:
        call(tiny, tokens)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_unequal_prompts_are_a_prompt_error(tiny):
    with pytest.raises(PromptError):
        tokenize_batch(tiny, ["a b c d", "a"])
