"""Benchmark: a full single-head ablation sweep at GPT-2 124M's shapes, batched vs the plain loop.

Every head (12 × 12) × {zero, mean, random} × the 7 day prompts ("If today is Monday, tomorrow
is" … Sunday): `head_ablation_sweep` (the clean run reused below the edited layer, variants stacked
in the batch, final position unembedded) against one `run` per (kind, head, prompt) with a single
`ReplaceHead` edit, batch 1, from the embeddings. The model is a randomly initialised
`GPT2Config()` with the GPT-2 tokenizer (as benchmarks/gpt2_shapes.py makes it); the mean and
random values are each head's mean result over 32 prompts "If today is <x>, tomorrow is" and
"If <x> is <y>, <z> is" (<x>, <y>, <z> random one-token words beginning with a space), as
Gould et al. define mean and random ablation.

    .venv/bin/python benchmarks/ablation_sweep.py [--loop-prompts N]

Prints both times, their ratio, the largest absolute difference between the two results and the
peak memory (ru_maxrss). `--loop-prompts N` times the loop on the first N prompts only and scales
its time by 7/N (the difference is then over those prompts).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpt2_shapes import make_model_dir, peak_mb  # noqa: E402

DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def dataset(model, template: str, n: int, rng) -> np.ndarray:
    """`n` prompts from `template` with each {} a random one-token word beginning with a space, as ids."""
    from figgen.interventions import tokenize_batch

    words = [w for w, i in model.tokenizer.get_vocab().items() if w.startswith("Ġ") and w[1:].isalpha()]
    length = len(model.tokenizer(template.replace("{}", "day"))["input_ids"])  # " day" is one token
    prompts = []
    while len(prompts) < n:
        fill = [model.tokenizer.convert_tokens_to_string([str(w)]).strip() for w in rng.choice(words, template.count("{}"))]
        prompt = template.format(*fill)
        if len(model.tokenizer(prompt)["input_ids"]) == length:  # each word one token
            prompts.append(prompt)
    return tokenize_batch(model, prompts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loop-prompts", type=int, default=7, help="time the loop on this many prompts (scaled to 7)")
    args = parser.parse_args()

    import torch

    import figgen
    from figgen.interventions import ReplaceHead, head_ablation_sweep, head_results_mean, run, tokenize_batch

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "gpt2-random"
        make_model_dir(model_dir)
        model = figgen.load_model(str(model_dir))
    dims = model.weights.dims
    print(f"model: random GPT2Config(), {dims.n_layers} layers × {dims.n_heads} heads, torch threads {torch.get_num_threads()}")
    tokens = tokenize_batch(model, [f"If today is {d}, tomorrow is" for d in DAYS])  # (7, pos)
    rng = np.random.default_rng(0)
    means = head_results_mean(model, dataset(model, "If today is {}, tomorrow is", 32, rng))  # (layer, pos, head, d_model)
    randoms = head_results_mean(model, dataset(model, "If {} is {}, {} is", 32, rng))
    values = {"zero": 0.0, "mean": means[:, None], "random": randoms[:, None]}
    n_runs = len(values) * dims.n_layers * dims.n_heads * len(DAYS)
    print(f"sweep: {len(values)} kinds × {dims.n_layers * dims.n_heads} heads × {len(DAYS)} prompts "
          f"of {tokens.shape[1]} tokens = {n_runs} ablated runs")

    t = time.perf_counter()
    batched = head_ablation_sweep(model, tokens, values)  # (kind, layer, head, prompt, d_vocab)
    t_batched = time.perf_counter() - t
    print(f"batched sweep:   {t_batched:8.2f} s")

    n = args.loop_prompts
    t = time.perf_counter()
    diff = 0.0
    for k, value in enumerate(values.values()):
        full = np.broadcast_to(np.asarray(value, dtype=np.float32), (dims.n_layers, len(DAYS), *means.shape[1:]))
        for l in range(dims.n_layers):
            for h in range(dims.n_heads):
                for b in range(n):
                    edit = ReplaceHead(l, h, value=full[l, b, :, h])
                    logits = run(model, tokens[b:b + 1], edits=[edit]).logits[0, -1]  # (d_vocab,)
                    diff = max(diff, float(np.abs(logits - batched[k, l, h, b]).max()))
    t_loop = (time.perf_counter() - t) * len(DAYS) / n
    scaled = f" (measured on {n} prompts, × 7/{n})" if n != len(DAYS) else ""
    print(f"loop:            {t_loop:8.2f} s{scaled}")
    print(f"ratio:           {t_loop / t_batched:8.1f} ×")
    print(f"max |diff|:      {diff:.2e}")
    print(f"peak RSS:        {peak_mb():8.0f} MB")


if __name__ == "__main__":
    main()
