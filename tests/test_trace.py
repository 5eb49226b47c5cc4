"""The vector-level trace: names and shapes, the DESIGN invariants, agreement with HF, bad prompts."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import figgen
from figgen.errors import PromptError
from figgen.trace import TRACE_DOC

from .conftest import save_tiny_model

TOL = 1e-4


def hf_logits(model, tokens) -> np.ndarray:
    with torch.no_grad():
        return model.hf(torch.tensor(tokens)[None]).logits[0].numpy()


def expected_shapes(model, pos: int) -> dict[str, tuple]:
    d = model.weights.dims
    shapes = {"hook_embed": (pos, d.d_model), "hook_pos_embed": (pos, d.d_model),
              "ln_final.hook_scale": (pos, 1), "ln_final.hook_normalized": (pos, d.d_model),
              "logits": (pos, d.d_vocab)}
    for l in range(d.n_layers):
        p = f"blocks.{l}."
        for name in ["hook_resid_pre", "hook_resid_mid", "hook_resid_post", "hook_attn_out",
                     "hook_mlp_out", "ln1.hook_normalized", "ln2.hook_normalized"]:
            shapes[p + name] = (pos, d.d_model)
        shapes[p + "ln1.hook_scale"] = shapes[p + "ln2.hook_scale"] = (pos, 1)
        for name in "qkvz":
            shapes[p + f"attn.hook_{name}"] = (pos, d.n_heads, d.d_head)
        shapes[p + "attn.hook_attn_scores"] = shapes[p + "attn.hook_pattern"] = (d.n_heads, pos, pos)
        shapes[p + "attn.hook_result"] = (pos, d.n_heads, d.d_model)
        shapes[p + "mlp.hook_pre"] = shapes[p + "mlp.hook_post"] = (pos, d.d_mlp)
    return shapes


def max_invariant_error(model, t) -> float:
    """Worst violation of DESIGN.md's invariants (and of agreement with HF's logits)."""
    errs = [np.abs(t["logits"] - hf_logits(model, t.tokens)).max()]
    W = model.weights
    for l in range(model.cfg.n_layer):
        p = f"blocks.{l}."
        errs.append(np.abs(t[p + "hook_resid_mid"] - t[p + "hook_resid_pre"] - t[p + "hook_attn_out"]).max())
        errs.append(np.abs(t[p + "hook_resid_post"] - t[p + "hook_resid_mid"] - t[p + "hook_mlp_out"]).max())
        b_O = W[p + "attn.b_O"].numpy()
        errs.append(np.abs(t[p + "attn.hook_result"].sum(1) + b_O - t[p + "hook_attn_out"]).max())
        pattern = t[p + "attn.hook_pattern"]
        errs.append(np.abs(pattern.sum(-1) - 1).max())
        errs.append(np.abs(np.triu(pattern, k=1)).max())
        if l + 1 < model.cfg.n_layer:
            errs.append(np.abs(t[p + "hook_resid_post"] - t[f"blocks.{l + 1}.hook_resid_pre"]).max())
    return float(max(errs))


def test_every_name_has_its_shape(tiny):
    t = figgen.trace(tiny, "If today is Monday, tomorrow is")
    shapes = expected_shapes(tiny, len(t.tokens))
    assert sorted(t.names()) == sorted(shapes)
    for name, shape in shapes.items():
        assert t[name].shape == shape, name
        assert t[name].dtype == np.float32, name


def test_docstring_tables_every_name(tiny):
    t = figgen.trace(tiny, "abc")
    documented = " ".join(re.findall(r"`([^`]+)`", TRACE_DOC))
    for name in t.names():
        generic = re.sub(r"blocks\.\d+\.", "blocks.{l}.", name)
        leaf = generic.rsplit(".", 1)[-1]
        assert generic in documented or leaf in documented, name
    assert "| `logits` |" in figgen.Trace.__doc__


@pytest.mark.parametrize("prompt", ["If today is Monday, tomorrow is", "a", "🙂 Ünï ✓\n\t<|endoftext|>"])
def test_invariants_and_hf_agreement_tiny(tiny, prompt):
    assert max_invariant_error(tiny, figgen.trace(tiny, prompt)) <= TOL


def test_length_one_and_full_context(tiny):
    one = figgen.trace(tiny, "a", prepend_bos=False)
    assert len(one.tokens) == 1 and max_invariant_error(tiny, one) <= TOL
    n_ctx = tiny.cfg.n_positions
    text = "x" * 200
    ids = tiny.tokenizer(text)["input_ids"][: n_ctx - 1]
    prompt = tiny.tokenizer.decode(ids)
    full = figgen.trace(tiny, prompt)
    assert len(full.tokens) == n_ctx and max_invariant_error(tiny, full) <= TOL


def test_bos_is_prepended(tiny):
    with_bos = figgen.trace(tiny, "Transformer tokens")
    without = figgen.trace(tiny, "Transformer tokens", prepend_bos=False)
    assert with_bos.tokens[0] == tiny.tokenizer.bos_token_id
    assert with_bos.tokens[1:].tolist() == without.tokens.tolist()
    assert with_bos.str_tokens[0] == "<|endoftext|>"
    assert "".join(without.str_tokens) == "Transformer tokens"
    assert any(s.startswith("Ġ") for s in without.display_tokens)


def test_layernorm_scale_and_normalized(tiny):
    t = figgen.trace(tiny, "The baseball player hit a home run")
    W = tiny.weights
    x = t["blocks.1.hook_resid_mid"].astype(np.float64)
    centred = x - x.mean(-1, keepdims=True)
    scale = t["blocks.1.ln2.hook_scale"]
    assert np.allclose(scale[:, 0], np.sqrt(centred.var(-1) + tiny.cfg.layer_norm_epsilon), atol=1e-5)
    normalized = (t["blocks.1.ln2.hook_normalized"] - W["blocks.1.ln2.b"].numpy()) / W["blocks.1.ln2.w"].numpy()
    assert np.allclose(normalized.mean(-1), 0, atol=1e-4) and np.allclose(normalized.var(-1), 1, atol=1e-3)


def test_causal_mask_in_scores(tiny):
    scores = figgen.trace(tiny, "one two three four")["blocks.0.attn.hook_attn_scores"]
    above = np.triu(np.ones(scores.shape[1:], dtype=bool), k=1)
    assert np.isneginf(scores[:, above]).all() and np.isfinite(scores[:, ~above]).all()


@pytest.mark.parametrize("overrides", [
    {"scale_attn_by_inverse_layer_idx": True},
    {"activation_function": "gelu"},
    {"n_inner": 96, "n_head": 2},
])
def test_config_variants_match_hf(tmp_path, overrides):
    model = figgen.load_model(str(save_tiny_model(tmp_path / "m", **overrides)))
    assert max_invariant_error(model, figgen.trace(model, "Monday Tuesday")) <= TOL


@pytest.mark.parametrize("prompt, message", [
    ("", "empty"),
    (None, "must be a string"),
    (b"bytes", "must be a string"),
    ("word " * 100, r"\d+ tokens \(with BOS\); this model's context limit is 32"),
])
def test_bad_prompts_are_one_line_errors(tiny, prompt, message):
    with pytest.raises(PromptError, match=message) as err:
        figgen.trace(tiny, prompt)
    assert "\n" not in str(err.value)


def test_cli_reports_bad_prompt_without_traceback(tiny_dir, capsys):
    from figgen.cli import main

    assert main(["trace", "", "--model", str(tiny_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "empty" in err and "Traceback" not in err


def test_unknown_activation_name(tiny):
    t = figgen.trace(tiny, "abc")
    with pytest.raises(KeyError, match="names"):
        t["blocks.0.hook_nope"]


def test_mini_trace_is_exact(mini):
    t = figgen.trace(mini, "If today is Monday, tomorrow is")
    assert max_invariant_error(mini, t) <= TOL
    assert t.str_tokens[-4:] == [" Monday", ",", " tomorrow", " is"]


def test_mini_full_context(mini):
    n_ctx = mini.cfg.n_positions
    ids = mini.tokenizer("Monday " * n_ctx)["input_ids"][: n_ctx - 1]
    t = figgen.trace(mini, mini.tokenizer.decode(ids))
    assert len(t.tokens) == n_ctx and max_invariant_error(mini, t) <= TOL


# --- prompts checked before the weights load (figgen.model.check_prompt) ---------------------------


def test_long_prompt_is_refused_without_loading_weights(mini, tiny, tiny_dir, no_weights):
    """check_prompt reads the tokenizer and config only, and reports trace()'s own message.

    (`mini` and `tiny` are session fixtures, so they are loaded before `no_weights` patches.)"""
    from figgen.model import check_prompt

    for name, model in [("mini", mini), (str(tiny_dir), tiny)]:
        long = "Monday " * model.cfg.n_positions
        for prepend_bos in (True, False):
            with pytest.raises(PromptError) as traced:
                figgen.trace(model, long, prepend_bos=prepend_bos)
            with pytest.raises(PromptError) as checked:
                check_prompt(name, long, prepend_bos=prepend_bos)
            assert str(checked.value) == str(traced.value), name
            assert "\n" not in str(checked.value) and re.search(
                rf"is \d+ tokens.*context limit is {model.cfg.n_positions}$", str(checked.value))


def test_check_prompt_counts_the_bos_token(tiny, tiny_dir, no_weights):
    """A prompt that fills the context exactly with BOS passes; one more token does not."""
    from figgen.model import check_prompt

    n_ctx = tiny.cfg.n_positions
    ids = tiny.tokenizer("x" * 200)["input_ids"]
    fits = tiny.tokenizer.decode(ids[: n_ctx - 1])
    check_prompt(str(tiny_dir), fits)
    check_prompt(tiny, fits)  # a loaded model is checked the same way
    with pytest.raises(PromptError, match=rf"is {n_ctx + 1} tokens \(with BOS\)"):
        check_prompt(str(tiny_dir), tiny.tokenizer.decode(ids[:n_ctx]))
    check_prompt(str(tiny_dir), tiny.tokenizer.decode(ids[:n_ctx]), prepend_bos=False)


@pytest.mark.parametrize("prompt, message", [
    ("", "empty"),
    (" \n\t ", "only whitespace"),
    (None, "must be a string"),
    (b"bytes", "must be a string"),
])
def test_check_prompt_refuses_non_prompts_before_reading_the_model(prompt, message, monkeypatch):
    import figgen.model

    monkeypatch.setattr(figgen.model, "tokenizing", lambda name: pytest.fail("model files were read"))
    with pytest.raises(PromptError, match=message) as err:
        figgen.model.check_prompt("mini", prompt)
    assert "\n" not in str(err.value)


def test_cli_trace_refuses_long_prompt_before_loading(tiny_dir, capsys, no_weights):
    from figgen.cli import main

    assert main(["trace", "word " * 100, "--model", str(tiny_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "context limit is 32" in err and "Traceback" not in err


def test_model_without_any_bos_token(tmp_path):
    """No bos_token_id in config or tokenizer: prepend_bos=True is a one-line error, False traces."""
    import json

    from figgen.errors import ModelError

    d = save_tiny_model(tmp_path / "nobos", bos_token_id=None)
    tok_config = json.loads((d / "tokenizer_config.json").read_text())
    (d / "tokenizer_config.json").write_text(json.dumps({**tok_config, "bos_token": None}))
    model = figgen.load_model(str(d))
    with pytest.raises(ModelError, match=r"no BOS token.*prepend_bos=False") as err:
        figgen.trace(model, "Monday")
    assert "\n" not in str(err.value)
    with pytest.raises(ModelError, match="no BOS token"):
        figgen.model.check_prompt(str(d), "Monday")
    t = figgen.trace(model, "Monday", prepend_bos=False)
    assert max_invariant_error(model, t) <= TOL


def test_config_without_bos_falls_back_to_the_tokenizers(tmp_path):
    model = figgen.load_model(str(save_tiny_model(tmp_path / "m", bos_token_id=None)))
    assert model.cfg.bos_token_id is None
    t = figgen.trace(model, "Monday")
    assert t.tokens[0] == model.tokenizer.bos_token_id and t.str_tokens[0] == "<|endoftext|>"


def test_tokenizer_larger_than_the_vocabulary(tmp_path):
    """Token ids past the model's vocabulary are a one-line error, not an IndexError."""
    from figgen.errors import ModelError

    model = figgen.load_model(str(save_tiny_model(tmp_path / "m", vocab_size=260)))
    ids = model.tokenizer(" tomorrow Tuesday", add_special_tokens=False)["input_ids"]
    assert max(ids) >= 260  # merged tokens come after the 256 bytes and <|endoftext|>
    with pytest.raises(ModelError, match=r"token id \d+ is outside this model's vocabulary \(vocab_size 260\)"):
        figgen.trace(model, " tomorrow Tuesday")
