"""`python -m figgen.mini train|report` (also `figgen train-mini` and `figgen mini-report`)."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from . import WEIGHTS_DIR


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(prog="python -m figgen.mini")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="retrain mini (deterministic; a few minutes on 2 cores)")
    p.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    p.add_argument("--steps", type=int, help="override the number of training steps")
    p = sub.add_parser("report", help="print mini's accuracy on its prompt sets")
    p.add_argument("--model", type=Path, default=WEIGHTS_DIR)
    args = parser.parse_args(argv)

    from .evaluate import evaluate, format_report

    if args.command == "train":
        from .train import TrainConfig, train

        cfg = TrainConfig() if args.steps is None else TrainConfig(steps=args.steps)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        # Train into a temp folder beside the target and swap it in: a failed run changes nothing.
        with tempfile.TemporaryDirectory(dir=args.out.parent, prefix=".mini-") as tmp:
            hf, tokenizer = train(Path(tmp) / "weights", cfg)
            print(format_report(evaluate(hf, tokenizer)))
            if args.out.exists():
                shutil.rmtree(args.out)
            os.replace(Path(tmp) / "weights", args.out)
        return 0

    if not (args.model / "model.safetensors").is_file():
        print(f"figgen: error: no mini weights in {args.model}; run `figgen train-mini`", file=sys.stderr)
        return 2
    from ..model import load_model

    model = load_model(str(args.model))  # figgen's one loading path (checks, no progress bars)
    hf, tokenizer = model.hf, model.tokenizer
    n_params = sum(p.numel() for p in hf.parameters())
    size = (args.model / "model.safetensors").stat().st_size / 1e6
    cfg = hf.config
    print(f"mini: {cfg.n_layer} layers, {cfg.n_head} heads, d_model {cfg.n_embd}, vocab {cfg.vocab_size:,}, "
          f"context {cfg.n_positions}; {n_params:,} parameters, {size:.1f} MB")
    print(format_report(evaluate(hf, tokenizer)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
