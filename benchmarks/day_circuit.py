"""Benchmark: the day-circuit section at GPT-2 124M's shapes — its time, the FLOPs it must do, and how close
that comes to this machine's matrix-multiply throughput.

A randomly initialised `GPT2Config()` model with the GPT-2 tokenizer (as benchmarks/gpt2_shapes.py makes
it) builds the section's figures (`figgen.build(only=[day-circuit.*])`, no cache). While it runs, every
forward pass of figgen.interventions and every logit-lens read of figgen.analysis.circuit is counted in
FLOPs from its shapes (2 per multiply-add of each matrix product: the Q/K/V and output projections, the
attention scores and mixing, the MLP, and each unembedded position's d_model × d_vocab product; LayerNorm,
GELU and softmax are left out, so the count is a floor). The machine's throughput is a float32 product of
the MLP's shape, (2,048 × 768) @ (768 × 3,072), timed the same way.

    .venv/bin/python benchmarks/day_circuit.py [--per-figure]

Prints the section's wall time, the FLOPs counted, the rate they were done at and that rate as a share
of the measured matmul throughput; with --per-figure, each figure's time. For a speed-up, run this file
from two checkouts side by side (`PYTHONPATH=<checkout> .venv/bin/python <checkout>/benchmarks/day_circuit.py`)
and compare the wall times.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpt2_shapes import make_model_dir, per_figure  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def matmul_rate(seconds: float = 2.0) -> float:
    """GFLOP/s of a float32 (2,048 × 768) @ (768 × 3,072) product, repeated for about `seconds`."""
    import torch

    a, b = torch.randn(2048, 768), torch.randn(768, 3072)
    a @ b  # warm-up
    n, t = 0, time.perf_counter()
    while time.perf_counter() - t < seconds:
        a @ b
        n += 1
    return n * 2 * 2048 * 768 * 3072 / (time.perf_counter() - t) / 1e9


class Counter:
    """FLOPs of the engine's forward passes and the numpy lens reads, from their shapes (see the docstring)."""

    def __init__(self, dims):
        self.dims, self.flops = dims, 0.0

    def forward(self, tokens, *, start=None, prefix=None, final_only=False, logits=True, **_):
        d, L, V, dh, H = self.dims.d_model, self.dims.n_layers, self.dims.d_vocab, self.dims.d_head, self.dims.n_heads
        batch, n = tokens.shape
        before = 0 if prefix is None else prefix[0]
        first = 0 if start is None else start[0]
        for l in range(first, L):
            q = 1 if final_only and l == L - 1 else n  # query positions (the last layer: maybe the final one)
            if not (l == first and start is not None and start[2] is not None):  # heads not given
                self.flops += 2 * batch * d * (q * d + 2 * n * d)  # Q for the queries, K and V for every position
                self.flops += 2 * 2 * batch * H * q * (before + n) * dh  # scores and the weighted sum of values
                self.flops += 2 * batch * q * d * d  # each head's z through its W_O
            self.flops += 2 * 2 * batch * q * d * self.dims.d_mlp  # W_in and W_out
        if logits:
            self.flops += 2 * batch * (1 if final_only else n) * d * V

    def lens(self, x, *args, **kwargs):
        rows = x.size // x.shape[-1] if hasattr(x, "size") else 0
        self.flops += 2 * rows * self.dims.d_model * self.dims.d_vocab


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-figure", action="store_true", help="also print each figure's time")
    args = parser.parse_args()

    import numpy as np

    import figgen
    from figgen import interventions as iv
    from figgen.analysis import circuit as C
    from figgen.figures.registry import load_all

    rate = matmul_rate()
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "gpt2-random"
        make_model_dir(model_dir)
        model = figgen.load_model(str(model_dir))
        counter = Counter(model.weights.dims)
        forward, lens = iv._forward, C.lens_read

        def counted_forward(model_, tokens, **kw):
            counter.forward(tokens, **kw)
            return forward(model_, tokens, **kw)

        def counted_lens(x, *a, **kw):
            counter.lens(np.asarray(x), *a, **kw)
            return lens(x, *a, **kw)

        iv._forward, C.lens_read = counted_forward, counted_lens
        rows: list = []
        if args.per_figure:
            per_figure(rows)
        ids = [f for f in load_all() if f.startswith("day-circuit.")]
        t = time.perf_counter()
        figgen.build(model=str(model_dir), out=Path(tmp) / "out", cache_dir=None, loader=lambda name: model,
                     only=ids, progress=False)
        wall = time.perf_counter() - t
        iv._forward, C.lens_read = forward, lens
    print(f"day-circuit section ({len(ids)} figures) at GPT-2 124M's shapes: {wall:7.2f} s")
    print(f"FLOPs counted (matrix products only):       {counter.flops / 1e12:7.2f} TFLOP")
    print(f"rate over the whole section:                {counter.flops / wall / 1e9:7.1f} GFLOP/s")
    print(f"this machine's float32 matmul throughput:   {rate:7.1f} GFLOP/s "
          f"(the section runs at {counter.flops / wall / 1e9 / rate:.0%} of it)")
    if rows:
        print("\nper figure:                               seconds")
        for fid, sec, _, _ in rows:
            print(f"  {fid:40s} {sec:7.2f}")


if __name__ == "__main__":
    main()
