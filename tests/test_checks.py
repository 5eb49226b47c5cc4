"""The trace against transformers' own forward pass: an independent check, and that it can fail."""

from __future__ import annotations

import numpy as np

import figgen
from figgen.checks import against_transformers
from figgen.trace import Trace


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
