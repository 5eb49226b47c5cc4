"""The trace against transformers' own forward pass: an independent check, and that it can fail."""

from __future__ import annotations

import numpy as np
import pytest

import figgen
from figgen.checks import against_transformers
from figgen.trace import Trace

from .test_model import _gpt2_available
from .test_trace import max_invariant_error


def test_trace_matches_transformers(tiny):
    t = figgen.trace(tiny, "The baseball player hit a home run")
    c = against_transformers(tiny, t)
    n = tiny.cfg.n_layer
    assert c.stages == ["embeddings", *(f"after layer {l}" for l in range(n - 1)), "final LayerNorm", "logits"]
    assert c.diffs.shape == (n + 2,) and c.attn_diffs.shape == (n,)
    assert c.diffs.max() < 1e-4 and c.attn_diffs.max() < 1e-4 and c.same_prediction
    assert (c.scales > 0).all() and (c.attn_scales > 0).all()


def test_the_check_sees_a_wrong_trace(tiny):
    """A mistake in one head's output vector shows in that layer's attention comparison and after it."""
    t = figgen.trace(tiny, "The baseball player hit a home run")
    broken = dict(t.items())
    broken["blocks.1.attn.hook_result"] = broken["blocks.1.attn.hook_result"].copy()
    broken["blocks.1.attn.hook_result"][:, 2] *= 1.5
    broken["logits"] = broken["logits"] + np.float32(0.01)
    bad = Trace(broken, tokens=t.tokens, str_tokens=t.str_tokens,
                display_tokens=t.display_tokens, prompt=t.prompt,
                prepend_bos=t.prepend_bos, model_name=t.model_name)
    c = against_transformers(tiny, bad)
    assert c.attn_diffs[0] < 1e-4 and c.attn_diffs[1] > 1e-3
    assert c.diffs[-1] > 5e-3  # the logits


def test_figure_on_mini(mini_site):
    out = mini_site["overview.forward-check"]
    d = out["figure"].data
    assert d["max_diff"] < 1e-4 and d["attn_max_diff"] < 1e-4 and d["same_prediction"] is True
    assert d["n_stages"] == d["n_layers"] + 2 == 6


@pytest.mark.gpt2
@pytest.mark.skipif(not _gpt2_available(), reason="GPT-2 124M is neither cached nor downloadable here")
def test_trace_invariants_and_transformers_on_gpt2():
    """On GPT-2 124M (a deploy gate): DESIGN.md's invariants hold and the trace agrees with transformers'
    forward pass, on the site prompt. At GPT-2's scale (the stream reaches the thousands) float32 rounding
    grows with the values, so the 1e-4 of the tiny models is relative to the largest value compared."""
    from figgen.build import DEFAULT_PROMPT

    model = figgen.load_model("gpt2")
    t = figgen.trace(model, DEFAULT_PROMPT)
    c = against_transformers(model, t)
    assert c.same_prediction
    assert (c.diffs <= 1e-4 * np.maximum(1.0, c.scales)).all(), dict(zip(c.stages, c.diffs))
    assert (c.attn_diffs <= 1e-4 * np.maximum(1.0, c.attn_scales)).all(), c.attn_diffs
    largest = max(1.0, float(c.scales.max()), float(c.attn_scales.max()))
    assert max_invariant_error(model, t) <= 1e-4 * largest
