"""Train `mini`: corpus → tokenizer → a small GPT-2 → HF directory (config, safetensors, tokenizer).

Every sample starts with <|endoftext|> at position 0 and packs whole documents separated by
<|endoftext|>, because the site traces prompts with a prepended BOS: the model sees its tasks at
the positions it will be asked about. Seeded throughout; 2 threads, as on CI.
"""

from __future__ import annotations

import copy
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

from .corpus import generate
from .tokenizer import train_tokenizer


@dataclass
class TrainConfig:
    seed: int = 0
    n_docs: int = 60_000
    vocab_size: int = 2048
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    n_positions: int = 128  # rows of W_pos initialised (kept at 128: it fixes the seeded initialisation)
    seq_len: int = 64  # a sample is ≤ seq_len + 1 tokens, so positions 0..seq_len are trained and kept
    batch_size: int = 32
    steps: int = 1800
    lr: float = 3e-3
    warmup: int = 100
    weight_decay: float = 0.05
    log_every: int = 100
    threads: int = 2
    extra: dict = field(default_factory=dict)


def pack_samples(docs_ids: list[list[int]], eot: int, seq_len: int, rng: random.Random) -> list[list[int]]:
    """Greedy packing of shuffled documents into samples [EOT, doc, EOT, doc, ...] of ≤ seq_len + 1."""
    order = list(range(len(docs_ids)))
    rng.shuffle(order)
    samples, current = [], [eot]
    for i in order:
        doc = docs_ids[i] + [eot]
        if len(current) + len(doc) > seq_len + 1:
            samples.append(current)
            current = [eot]
        current.extend(doc[: seq_len])
    samples.append(current)
    return samples


def trained_context(model, n_ctx: int):
    """The model with only the first n_ctx rows of W_pos: the positions training ever used.

    Later rows would still hold their random initialisation: they would show as noise in the
    positional figures and let prompts run at positions the model has never seen.
    """
    import torch
    from transformers import GPT2LMHeadModel

    if n_ctx >= model.config.n_positions:
        return model
    config = copy.deepcopy(model.config)
    config.n_positions = n_ctx
    state = {k: v[:n_ctx] if k == "transformer.wpe.weight" else v for k, v in model.state_dict().items()}
    kept = GPT2LMHeadModel(config)
    kept.load_state_dict(state)
    with torch.no_grad():  # same weights, fewer positions: check the logits on a full-length input
        ids = torch.arange(n_ctx)[None] % config.vocab_size
        assert torch.equal(kept.eval()(ids).logits, model.eval()(ids).logits)
    return kept


def train(out_dir: Path, cfg: TrainConfig = TrainConfig(), log=print):
    """Train and save into `out_dir`; returns the trained HF model and tokenizer."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    start = time.perf_counter()
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)

    docs = generate(cfg.seed, cfg.n_docs)
    tokenizer = train_tokenizer(docs, cfg.vocab_size)
    eot = tokenizer.eos_token_id
    docs_ids = tokenizer(docs, add_special_tokens=False)["input_ids"]
    log(f"corpus: {len(docs):,} docs, {sum(map(len, docs_ids)):,} tokens, vocab {len(tokenizer):,}")

    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=cfg.n_positions, n_embd=cfg.n_embd, n_layer=cfg.n_layer,
        n_head=cfg.n_head, activation_function="gelu_new", bos_token_id=eot, eos_token_id=eot,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, tie_word_embeddings=True,
    )
    model = GPT2LMHeadModel(config)
    model.train()
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.98))

    samples: list[list[int]] = []
    for step in range(cfg.steps):
        if len(samples) < cfg.batch_size:
            samples = pack_samples(docs_ids, eot, cfg.seq_len, rng) + samples
        batch = [samples.pop() for _ in range(cfg.batch_size)]
        width = max(map(len, batch))
        ids = torch.full((cfg.batch_size, width), eot, dtype=torch.long)
        labels = torch.full((cfg.batch_size, width), -100, dtype=torch.long)
        for row, sample in enumerate(batch):
            ids[row, : len(sample)] = torch.tensor(sample)
            labels[row, : len(sample)] = torch.tensor(sample)
        lr = cfg.lr * min(1.0, (step + 1) / cfg.warmup) * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
        for group in opt.param_groups:
            group["lr"] = lr
        loss = model(input_ids=ids, labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % cfg.log_every == 0 or step == cfg.steps - 1:
            log(f"step {step:5d}  loss {loss.item():.3f}  lr {lr:.2e}  {time.perf_counter() - start:6.1f} s")

    model = trained_context(model, cfg.seq_len + 1).eval()
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    log(f"saved to {out_dir} in {time.perf_counter() - start:.1f} s")
    return model, tokenizer
