"""Benchmark at GPT-2 124M's shapes: a randomly initialised `GPT2Config()` model (50,257 vocab,
12 layers × 12 heads, d_model 768, d_mlp 3,072, 1,024 positions), saved to a temp dir and loaded by
path — so costs that grow with the vocabulary or the head count show up here, not on the site.

    .venv/bin/python benchmarks/gpt2_shapes.py [--prompt TEXT] [--full-context] [--build [--only ID...]
                                               [--per-figure]]

Prints load time, trace time and size, peak memory, and (with --build) the time and output size
of a full figure build; with --per-figure, each figure's time, the peak memory while it rendered
(Linux: the peak is reset before each figure) and the memory held after it, largest peaks first. Needs the real GPT-2 tokenizer from ../shared/data/gpt2-tokenizer/ (optional
data); without it, a byte-level tokenizer is padded to 50,257 entries.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
SHARED_TOKENIZER = ROOT.parent / "shared" / "data" / "gpt2-tokenizer"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_model_dir(path: Path) -> None:
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config()).save_pretrained(path)
    if not SHARED_TOKENIZER.is_dir():
        sys.exit(f"benchmark needs the GPT-2 tokenizer at {SHARED_TOKENIZER}")
    AutoTokenizer.from_pretrained(SHARED_TOKENIZER).save_pretrained(path)


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def per_figure(rows: list) -> None:
    """Wrap figgen.build's renderer so each figure's time and memory are recorded into `rows`."""
    import importlib

    B = importlib.import_module("figgen.build")  # the module (the package exports the function `build`)

    render = B._render

    def measured(spec, ctx):
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM, the peak RSS, to the current RSS
        t = time.perf_counter()
        out = render(spec, ctx)
        rows.append((spec.id, time.perf_counter() - t, _status_mb("VmHWM"), _status_mb("VmRSS")))
        return out

    B._render = measured


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompt", default="If today is Monday, tomorrow is")
    parser.add_argument("--full-context", action="store_true", help="also trace a 1,024-token prompt")
    parser.add_argument("--build", action="store_true", help="also run a full figure build")
    parser.add_argument("--only", nargs="+", metavar="ID", help="with --build: only these figures")
    parser.add_argument("--per-figure", action="store_true", help="with --build: time and memory of each figure")
    args = parser.parse_args()

    import figgen

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "gpt2-random"
        t = time.perf_counter()
        make_model_dir(model_dir)
        print(f"create+save random GPT2Config(): {time.perf_counter() - t:6.2f} s")
        t = time.perf_counter()
        model = figgen.load_model(str(model_dir))
        print(f"load_model:                      {time.perf_counter() - t:6.2f} s  ({model.n_params:,} params)")
        t = time.perf_counter()
        tr = figgen.trace(model, args.prompt)
        size = sum(a.nbytes for a in tr.values()) / 1e6
        print(f"trace ({len(tr.tokens)} tokens):              {time.perf_counter() - t:6.2f} s  ({size:.1f} MB)")
        if args.full_context:
            t = time.perf_counter()
            ids = model.tokenizer(" the" * 1023)["input_ids"][:1023]
            tr = figgen.trace(model, model.tokenizer.decode(ids))
            size = sum(a.nbytes for a in tr.values()) / 1e6
            print(f"trace ({len(tr.tokens)} tokens):            {time.perf_counter() - t:6.2f} s  ({size:.1f} MB)")
            del tr
        rows: list = []
        if args.build and args.per_figure:
            per_figure(rows)
        if args.build:
            t = time.perf_counter()
            result = figgen.build(model=str(model_dir), prompt=args.prompt, out=Path(tmp) / "out",
                                  cache_dir=None, loader=lambda name: model, only=args.only)
            files = list((Path(tmp) / "out" / "figures").iterdir())
            total = sum(f.stat().st_size for f in files) / 1e6
            biggest = max(files, key=lambda f: f.stat().st_size)
            print(f"build ({len(result.manifest['figures'])} figures):            "
                  f"{time.perf_counter() - t:6.2f} s  ({total:.1f} MB; largest {biggest.name} "
                  f"{biggest.stat().st_size / 1e6:.2f} MB)")
        # Resetting VmHWM (--per-figure) also resets what getrusage reports: the peak is then the largest
        # of the per-figure peaks.
        peak = max([peak_mb(), *(r[2] for r in rows)])
        print(f"peak RSS:                        {peak:8.0f} MB")
        if rows:
            print("\nper figure, largest peak first:  seconds   peak MB  held after MB")
            for fid, sec, peak, held in sorted(rows, key=lambda r: -r[2]):
                print(f"  {fid:40s} {sec:7.2f} {peak:9.0f} {held:9.0f}")


if __name__ == "__main__":
    main()
