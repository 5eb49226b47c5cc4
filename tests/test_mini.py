"""mini: its corpus, its tokenizer, and the committed weights' quality bar."""

from __future__ import annotations

import pytest

from figgen.mini import WEIGHTS_DIR
from figgen.mini.corpus import generate
from figgen.mini.prompts import COPY_WORDS, DAYS, MONTHS, TASKS

pytestmark = pytest.mark.skipif(not (WEIGHTS_DIR / "model.safetensors").is_file(), reason="no mini weights")


def test_corpus_is_deterministic_and_covers_the_tasks():
    docs = generate(seed=0, n_docs=5000)
    assert docs == generate(seed=0, n_docs=5000) and docs != generate(seed=1, n_docs=5000)
    text = "\n".join(docs)
    for needle in ["If today is", "If this month is", "If the number is", "The baseball player hit a home run",
                   "Transformer tokens"]:
        assert needle in text, needle
    # Held-out copy words never appear in a copy frame in training.
    for word in COPY_WORDS:
        assert f"say {word}," not in text and f"word {word} on" not in text


def test_tokenizer(mini):
    tok = mini.tokenizer
    for word in DAYS + MONTHS + [str(n) for n in range(1, 52)] + COPY_WORDS:
        assert len(tok(" " + word)["input_ids"]) == 1, word
    assert tok.bos_token == tok.eos_token == "<|endoftext|>"
    for s in ["If today is Monday", "naïve café ✓ 🙂 \t\n", "<|endoftext|> $x$ & <b>"]:
        assert tok.decode(tok(s)["input_ids"]) == s
    assert tok.convert_ids_to_tokens(tok(" Monday")["input_ids"]) == ["ĠMonday"]


def test_architecture_and_size(mini):
    cfg = mini.cfg
    assert cfg.model_type == "gpt2" and cfg.activation_function == "gelu_new"
    assert 4 <= cfg.n_layer <= 6 and 4 <= cfg.n_head <= 8 and 128 <= cfg.n_embd <= 256
    assert mini.hf.lm_head.weight.data_ptr() == mini.hf.transformer.wte.weight.data_ptr()  # tied
    assert sum(f.stat().st_size for f in WEIGHTS_DIR.iterdir()) <= 20 * 2**20


@pytest.fixture(scope="module")
def report(mini):
    from figgen.mini.evaluate import evaluate

    return evaluate(mini.hf, mini.tokenizer)


def test_days_and_months_all_correct(report):
    assert report["day"]["accuracy"] == 1.0 and report["day"]["n"] == 7
    assert report["month"]["accuracy"] == 1.0 and report["month"]["n"] == 12


def test_numbers_at_least_90_percent(report):
    assert report["number"]["n"] == 50 and report["number"]["accuracy"] >= 0.9


def test_copies_rare_earlier_token(report):
    items = report["copy"]["items"]
    plasma = items[0]
    assert plasma["target"] == " plasma" and plasma["correct"]
    assert report["copy"]["accuracy"] >= 0.8


def test_tasks_have_expected_targets():
    assert TASKS["day"]()[6] == ("If today is Sunday, tomorrow is", " Monday")
    assert TASKS["month"]()[11] == ("If this month is December, next month is", " January")
    assert TASKS["number"]()[0] == ("If the number is 1, the next is", " 2")


def test_training_entry_point_smoke(tmp_path):
    """A few steps on a small corpus: the saved folder loads through figgen's one loading path."""
    import numpy as np

    import figgen
    from figgen.mini.train import TrainConfig, train

    cfg = TrainConfig(n_docs=300, steps=3, batch_size=4, n_layer=1, n_head=2, n_embd=32, vocab_size=400,
                      log_every=1)
    lines: list[str] = []
    train(tmp_path / "w", cfg, log=lines.append)
    assert any(line.startswith("step") for line in lines)
    model = figgen.load_model(str(tmp_path / "w"))
    t = figgen.trace(model, "If today is Monday, tomorrow is")
    assert np.isfinite(t["logits"]).all() and model.cfg.n_layer == 1
    assert model.cfg.n_positions == cfg.seq_len + 1  # only trained positions are saved


def test_committed_context_is_what_training_used(mini):
    """W_pos keeps exactly the positions a training sample reaches (≤ seq_len + 1 tokens)."""
    from figgen.mini.train import TrainConfig

    assert mini.cfg.n_positions == TrainConfig().seq_len + 1 == mini.hf.transformer.wpe.weight.shape[0]


def test_trained_context_drops_rows_and_keeps_the_function():
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from figgen.mini.train import trained_context

    torch.manual_seed(0)
    cfg = GPT2Config(n_layer=1, n_head=2, n_embd=32, n_positions=16, vocab_size=50, bos_token_id=0, eos_token_id=0)
    full = GPT2LMHeadModel(cfg).eval()
    kept = trained_context(full, 9).eval()
    assert kept.config.n_positions == 9 and full.config.n_positions == 16
    assert torch.equal(kept.transformer.wpe.weight, full.transformer.wpe.weight[:9])
    assert kept.lm_head.weight.data_ptr() == kept.transformer.wte.weight.data_ptr()  # still tied
    ids = torch.randint(0, 50, (2, 9))
    with torch.no_grad():
        assert torch.equal(kept(ids).logits, full(ids).logits)
    assert trained_context(full, 16) is full
