"""Model sources: name resolution, the HF-directory loading path, refusals and the offline failure."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import figgen
from figgen.errors import ModelError, ModelUnavailable
from figgen.model import HUB_MODELS, check_prompt, hub_reachable, resolve

from .conftest import save_tiny_model

GPT2_REPO, GPT2_REV = HUB_MODELS["gpt2"]


def test_known_hub_models_are_pinned_to_commits():
    for name, (repo, rev) in HUB_MODELS.items():
        src = resolve(name)
        assert (src.kind, src.repo_id, src.revision) == ("hub", repo, rev)
        assert len(rev) == 40 and int(rev, 16) >= 0, name
    assert resolve("openai-community/gpt2").revision == GPT2_REV


def test_resolve_other_sources(tmp_path):
    assert resolve("mini").kind == "mini"
    assert resolve(str(tmp_path)).kind == "local"
    src = resolve("someone/gpt2-finetune@abc123")
    assert (src.repo_id, src.revision) == ("someone/gpt2-finetune", "abc123")
    assert resolve("someone/gpt2-finetune").revision == "main"


@pytest.mark.parametrize("bad", ["", "   ", "not-a-model", "./missing/dir", 3])
def test_resolve_rejects_unknown_names_in_one_line(bad):
    with pytest.raises(ModelError) as err:
        resolve(bad)
    assert "\n" not in str(err.value)


def test_load_local_directory(tiny_dir):
    model = figgen.load_model(str(tiny_dir))
    assert model.source == "local" and model.name == str(Path(tiny_dir).resolve())
    assert not model.hf.training
    assert all(p.dtype.is_floating_point and p.itemsize == 4 for p in model.hf.parameters())
    assert model.cfg.model_type == "gpt2" and model.cfg.n_layer == 2
    assert len(model.revision) == 16  # content hash of model.safetensors
    assert not model.is_gpt2_small
    # The same weights give the same revision; different weights a different one.
    assert figgen.load_model(str(tiny_dir)).revision == model.revision


def test_revision_tracks_the_weights(tmp_path, tiny):
    other = save_tiny_model(tmp_path / "other", seed=1)
    assert figgen.load_model(str(other)).revision != tiny.revision


def test_refuses_non_gpt2_model(tmp_path, tiny_dir):
    d = tmp_path / "llama"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(ModelError, match="'llama'.*GPT-2 models only"):
        figgen.load_model(str(d))


def test_refuses_pickled_weights(tmp_path):
    d = save_tiny_model(tmp_path / "pickled")
    (d / "model.safetensors").unlink()
    (d / "pytorch_model.bin").write_bytes(b"not loaded, ever")
    with pytest.raises(ModelError, match="safetensors only"):
        figgen.load_model(str(d))


def test_refuses_directory_without_config(tmp_path):
    with pytest.raises(ModelError, match="no config.json"):
        figgen.load_model(str(tmp_path))


def test_corrupt_weights_give_one_line_error(tmp_path):
    d = save_tiny_model(tmp_path / "corrupt")
    (d / "model.safetensors").write_bytes(b"\x00" * 100)
    with pytest.raises(ModelError) as err:
        figgen.load_model(str(d))
    assert "\n" not in str(err.value)


def _run(code: str, env: dict) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60)
    return proc, time.monotonic() - start


@pytest.mark.parametrize("offline_env", [
    {"HF_HUB_OFFLINE": "1"},
    # Not told it is offline: the probe of an endpoint nobody listens on must fail fast.
    {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": "http://127.0.0.1:9"},
])
def test_missing_hub_model_fails_fast_with_fetch_hint(tmp_path, offline_env):
    env = {"HF_HOME": str(tmp_path / "hf"), **offline_env}
    proc, seconds = _run("from figgen.cli import main; raise SystemExit(main(['trace', 'hi', '--model', 'gpt2']))", env)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "figgen fetch gpt2" in lines[0] and "Traceback" not in proc.stderr
    assert seconds < 5, f"took {seconds:.1f} s"


def test_cached_hub_snapshot_loads_offline(tmp_path):
    """A model in the standard HF cache at the pinned revision loads with no network at all."""
    hf_home = tmp_path / "hf"
    snapshot = hf_home / "hub" / f"models--{GPT2_REPO.replace('/', '--')}" / "snapshots" / GPT2_REV
    save_tiny_model(snapshot)
    code = ("import figgen; m = figgen.load_model('gpt2'); "
            "print(m.name, m.source, m.is_gpt2_small, sep='|')")
    proc, _ = _run(code, {"HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"{GPT2_REPO}@{GPT2_REV}|hub|True"


def test_fetch_refuses_local_models(tiny_dir):
    with pytest.raises(ModelError, match="nothing to fetch"):
        figgen.model.fetch(str(tiny_dir))


def test_hub_probe_fails_fast_on_closed_port(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    assert hub_reachable() is False


def _gpt2_available() -> bool:
    from figgen.model import _cached_snapshot

    return _cached_snapshot(resolve("gpt2")) is not None or (
        os.environ.get("HF_HUB_OFFLINE") != "1" and hub_reachable())


# The `gpt2`-marked tests gate the deploy job (.github/workflows/deploy.yml): they check what must hold
# of the model and of the code run on it (its identity and shapes, the trace's invariants, every figure
# and claim computed), never whether a source's claim about GPT-2's behaviour reproduces: that is a
# finding, published in the job summary and on the Claims page (tests/test_deploy_workflow.py).


@pytest.mark.gpt2
@pytest.mark.skipif(not _gpt2_available(), reason="GPT-2 124M is neither cached nor downloadable here")
def test_real_gpt2_facts():
    """The model the site is about: the pinned snapshot, GPT-2 124M's shapes, parameter count and tokenizer."""
    model = figgen.load_model("gpt2")
    assert model.is_gpt2_small and model.source == "hub"
    assert (model.name, model.revision, model.path.name) == (f"{GPT2_REPO}@{GPT2_REV}", GPT2_REV, GPT2_REV)
    d = model.weights.dims
    assert (d.n_layers, d.n_heads, d.d_model, d.d_head, d.d_mlp, d.d_vocab, d.n_ctx) == (
        12, 12, 768, 64, 3072, 50257, 1024)
    assert model.n_params == 124_439_808
    assert model.weights["W_E"].numel() == 38_597_376
    assert model.tokenizer.bos_token_id == model.cfg.bos_token_id == 50256
    t = figgen.trace(model, "Transformer tokens", prepend_bos=False)
    assert t.tokens.tolist() == [8291, 16354, 16326]


# --- BOS token and the files a prompt check reads --------------------------------------------------


@pytest.mark.parametrize("bos", ["vocab_size", 10**6, -1])
def test_bos_outside_the_vocabulary_is_refused_before_the_weights(tmp_path, bos, no_weights):
    d = save_tiny_model(tmp_path / "badbos")
    config = json.loads((d / "config.json").read_text())
    bos = config["vocab_size"] if bos == "vocab_size" else bos
    (d / "config.json").write_text(json.dumps({**config, "bos_token_id": bos}))
    expected = rf"^{re.escape(str(d.resolve()))}: bos_token_id {bos} .*vocab_size {config['vocab_size']}\)"
    with pytest.raises(ModelError, match=expected) as err:
        figgen.load_model(str(d))
    assert "\n" not in str(err.value)
    with pytest.raises(ModelError, match=expected):
        check_prompt(str(d), "Monday")
    with pytest.raises(ModelError, match=expected):  # refused even when no BOS would be prepended
        check_prompt(str(d), "Monday", prepend_bos=False)


def test_config_header_reads_like_gpt2config(tmp_path, tiny_dir):
    """The prompt check reads config.json without transformers; its defaults and alias are GPT2Config's."""
    from transformers import GPT2Config

    from figgen.model import ConfigHeader, _read_config

    fields = ("n_positions", "vocab_size", "bos_token_id")
    default = GPT2Config()
    assert ConfigHeader() == ConfigHeader(**{f: getattr(default, f) for f in fields})
    d = tmp_path / "cfg"
    d.mkdir()
    for config in [json.loads((Path(tiny_dir) / "config.json").read_text()),
                   {"model_type": "gpt2"},
                   {"model_type": "gpt2", "max_position_embeddings": 77, "bos_token_id": None}]:
        (d / "config.json").write_text(json.dumps(config))
        hf = GPT2Config.from_pretrained(d)
        assert _read_config(d) == ConfigHeader(**{f: getattr(hf, f) for f in fields}), config


@pytest.mark.parametrize("declared", ["keep", "PreTrainedTokenizerFast", "GPT2TokenizerFast", None])
def test_tokenizer_is_the_one_autotokenizer_loads(tmp_path, declared):
    """load_model and check_prompt load the tokenizer without AutoTokenizer (it imports torch);
    the class and the ids are AutoTokenizer's."""
    from transformers import AutoTokenizer

    from figgen.model import MINI_DIR, _load_tokenizer

    from .conftest import TINY_TEXT

    for source in [MINI_DIR, save_tiny_model(tmp_path / "tiny")]:
        d = tmp_path / f"copy-{source.name}"
        shutil.copytree(source, d, dirs_exist_ok=True)
        tok_config = json.loads((d / "tokenizer_config.json").read_text())
        if declared != "keep":
            tok_config["tokenizer_class"] = declared
        (d / "tokenizer_config.json").write_text(json.dumps(tok_config))
        ours, auto = _load_tokenizer(d), AutoTokenizer.from_pretrained(d)
        assert type(ours) is type(auto), (source, declared)
        for text in [*TINY_TEXT, "If today is Monday, tomorrow is <|endoftext|>"]:
            assert ours(text)["input_ids"] == auto(text)["input_ids"]
        assert ours.bos_token_id == auto.bos_token_id


def test_hub_prompt_check_reads_no_weights(tmp_path):
    """A hub model is checked from its cached tokenizer and config alone; missing files raise
    ModelUnavailable, or skip the check when asked (a fully cached build needs no model files)."""
    hf_home = tmp_path / "hf"
    snapshot = hf_home / "hub" / f"models--{GPT2_REPO.replace('/', '--')}" / "snapshots" / GPT2_REV
    save_tiny_model(snapshot)
    (snapshot / "model.safetensors").unlink()  # tokenizer and config only
    code = """if True:
        import sys
        from figgen.errors import ModelUnavailable, PromptError
        from figgen.model import check_prompt
        check_prompt('gpt2', 'Monday')
        try:
            check_prompt('gpt2', 'word ' * 100)
        except PromptError as err:
            print(err)
        try:
            check_prompt('distilgpt2', 'Monday')
        except ModelUnavailable as err:
            print('unavailable', 'figgen fetch distilgpt2' in str(err))
        print('skipped', check_prompt('distilgpt2', 'Monday', skip_unavailable=True))
        print('torch', 'torch' in sys.modules)
    """
    proc, _ = _run(code, {"HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert re.fullmatch(r"prompt is \d+ tokens \(with BOS\); this model's context limit is 32", lines[0])
    assert lines[1:] == ["unavailable True", "skipped None", "torch False"]
