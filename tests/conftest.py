"""Shared fixtures: tiny random GPT-2 models saved in HF format, loaded through the real code path."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach for the hub unless they say so

import pytest

TINY_TEXT = [
    "If today is Monday, tomorrow is Tuesday.",
    "Transformer tokens flow through the residual stream.",
    "The baseball player hit a home run! Ünïcödé ✓ 🙂",
    "Sometimes, when people say plasma, they mean a state of matter.",
]


def make_tokenizer(vocab_size: int = 400):
    """A byte-level BPE in GPT-2's style (Ġ for spaces, <|endoftext|> as BOS/EOS), trained in ~0.1 s."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2TokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(TINY_TEXT * 20, trainer)
    eot = "<|endoftext|>"
    return GPT2TokenizerFast(tokenizer_object=tok, bos_token=eot, eos_token=eot, unk_token=eot)


def save_tiny_model(path, *, seed: int = 0, **overrides):
    """Save a randomly initialised GPT-2 (2 layers, 4 heads, d_model 64 unless overridden) to `path`."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = make_tokenizer()
    cfg = dict(
        n_layer=2, n_head=4, n_embd=64, n_positions=32, vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )
    cfg.update(overrides)
    torch.manual_seed(seed)
    hf = GPT2LMHeadModel(GPT2Config(**cfg))
    # Random init leaves biases and LN parameters at 0/1; perturb them so the tests see them used.
    with torch.no_grad():
        for name, p in hf.named_parameters():
            if name.endswith("bias") or "ln_" in name:
                p.add_(0.1 * torch.randn_like(p))
    hf.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture
def no_weights(monkeypatch):
    """Loading any GPT-2 weights fails the test: what runs under this fixture reads no weights."""
    from transformers import GPT2LMHeadModel

    def refuse(*args, **kwargs):
        raise AssertionError("GPT2LMHeadModel.from_pretrained was called")

    monkeypatch.setattr(GPT2LMHeadModel, "from_pretrained", refuse)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def tiny(tiny_dir):
    import figgen

    return figgen.load_model(str(tiny_dir))


@pytest.fixture(scope="session")
def mini():
    import figgen

    return figgen.load_model("mini")


class Rendered(dict):
    """Figures rendered on one trace, each on first use (id → `figtools.render` output)."""

    def __init__(self, ctx):
        from figgen.figures.registry import load_all

        super().__init__()
        self.ctx, self.specs = ctx, load_all()

    def __missing__(self, fid: str) -> dict:
        from .figtools import render

        self[fid] = render(self.specs[fid], self.ctx)
        return self[fid]


@pytest.fixture(scope="session")
def mini_site(mini):
    """mini traced once on the site's prompt, its figures rendered on demand: the section test
    modules read their figures from here instead of each tracing and rendering again."""
    from figgen.build import DEFAULT_PROMPT
    from figgen.context import Context

    return Rendered(Context.from_model(mini, DEFAULT_PROMPT))


# --- the real site, built once per session (tests/test_site.py inspects its HTML, tests/test_browser.py
# opens it in Chromium) -----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def site_server():
    """A local server for the built site. Its port is bound first, so the site can be built with
    its own address as site_url (instant navigation needs it); it answers once started."""
    from .chromium import SiteServer

    server = SiteServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def project(tmp_path_factory, site_server):
    """A copy of the site's sources (mkdocs.yml, docs/, overrides/, includes/) sharing the repo's cache."""
    from .sitetools import ROOT, copy_project

    if not (ROOT / "mkdocs.yml").is_file():
        pytest.skip("no mkdocs.yml yet")
    return copy_project(tmp_path_factory.mktemp("project"), site_url=site_server.url)


@pytest.fixture(scope="session")
def site_build(project, tmp_path_factory):
    """The site built once with mini (--strict): (site folder, the build's CompletedProcess)."""
    from .sitetools import mkdocs_build

    out = tmp_path_factory.mktemp("site")
    proc = mkdocs_build(project, out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc


@pytest.fixture(scope="session")
def site(site_build):
    return site_build[0]
