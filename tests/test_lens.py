"""The logit lens against an independent computation (transformers' hidden states, its own ln_f and
lm_head), and its invariants, on a tiny random GPT-2 and on mini."""

from __future__ import annotations

import numpy as np
import pytest

import figgen
from figgen.analysis import lens as L
from figgen.context import NumpyWeights

PROMPT = "Sometimes, when people say plasma, they mean a state of matter. Other times, when people say plasma"


def _hf_lens_logprobs(model, tokens) -> np.ndarray:
    """(n_layers + 1, pos, d_vocab) log-probabilities from transformers alone. Its last hidden state
    already went through ln_f (applying it twice is the classic logit-lens bug)."""
    import torch

    with torch.no_grad():
        out = model.hf(torch.tensor(tokens)[None], output_hidden_states=True)
        hs = out.hidden_states
        rows = [model.hf.lm_head(model.hf.transformer.ln_f(h[0])) for h in hs[:-1]]
        rows.append(model.hf.lm_head(hs[-1][0]))
        assert torch.allclose(rows[-1], out.logits[0], atol=1e-4)
        return torch.stack(rows).double().log_softmax(-1).numpy()


@pytest.mark.parametrize("which", ["tiny", "mini"])
def test_lens_matches_transformers(which, request):
    model = request.getfixturevalue(which)
    t = figgen.trace(model, PROMPT if which == "mini" else "The baseball player hit a home run")
    n = model.cfg.n_layer
    points = L.stream_points(t, n)
    got = L.lens(points, t.tokens, NumpyWeights(model.weights), model.cfg.layer_norm_epsilon, chunk=3)
    ref = _hf_lens_logprobs(model, t.tokens)  # (n + 1, pos, V)
    assert got.labels == ["input", *(f"after layer {l}" for l in range(n))]
    np.testing.assert_array_equal(got.top_ids[..., 0], ref.argmax(-1))
    np.testing.assert_allclose(got.top_probs[..., 0], np.exp(ref.max(-1)), atol=1e-5)
    kl = (np.exp(ref[-1]) * (ref[-1] - ref)).sum(-1)
    np.testing.assert_allclose(got.kl_final, kl, atol=1e-4)
    # The last point is the model's own output, so its KL to the final distribution is 0 and the
    # final top-1 is its own rank 1; the trace's logits agree.
    assert np.abs(got.kl_final[-1]).max() < 1e-9 and (got.final_rank[-1] == 1).all()
    np.testing.assert_array_equal(got.final_top, t["logits"].argmax(-1))
    assert (got.kl_final >= 0).all() and (got.kl_input >= 0).all()
    assert (got.final_rank >= 1).all() and (got.input_rank >= 1).all()
    assert (got.final_rank <= model.cfg.vocab_size).all()
    assert np.abs(got.kl_input[0]).max() < 1e-9  # the input row against itself


def test_sublayers_interleave_and_track(mini):
    t = figgen.trace(mini, PROMPT)
    n = mini.cfg.n_layer
    points = L.stream_points(t, n, sublayers=True)
    assert points.labels[:3] == ["input", "after attn 0", "after MLP 0"] and len(points.labels) == 2 * n + 1
    plasma = mini.tokenizer(" plasma", add_special_tokens=False)["input_ids"]
    assert len(plasma) == 1
    # The prompt ends with the copied word; the prediction that copies it is made at the " say" before it.
    got = L.lens(points, t.tokens, NumpyWeights(mini.weights), mini.cfg.layer_norm_epsilon,
                 positions=[len(t.tokens) - 2], track=(plasma[0],))
    ranks = got.tracked[plasma[0]][:, 0]
    # mini copies " plasma" there (its mini-report checks it): rank 1 at the output.
    assert ranks[-1] == 1 and ranks.shape == (2 * n + 1,)
    assert L.first_point_at(ranks) is not None and L.first_point_at(np.array([3, 1, 2, 1])) == 3


def test_ranks_and_kl_by_hand():
    logits = np.array([[3.0, 1.0, 2.0, 2.0]])
    assert L.ranks_of(logits, np.array([0])).tolist() == [1]
    assert L.ranks_of(logits, np.array([2])).tolist() == [2] == L.ranks_of(logits, np.array([3])).tolist()
    p = L.log_softmax(np.array([[0.0, 0.0]]))
    q = L.log_softmax(np.array([[np.log(3.0), 0.0]]))
    # KL((½, ½) ‖ (¾, ¼)) = ½ ln(⅔) + ½ ln(2)
    assert abs(L._kl(p, q)[0] - (0.5 * np.log(2 / 3) + 0.5 * np.log(2))) < 1e-12
