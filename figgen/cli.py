"""The `figgen` command. Every subcommand turns a `FiggenError` into one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import os
import sys

from .errors import FiggenError

DEFAULT_MODEL = "gpt2"


def _model_name(args) -> str:
    # FIGGEN_MODEL overrides the configured default; an explicit --model wins over both.
    return args.model or os.environ.get("FIGGEN_MODEL") or DEFAULT_MODEL


def cmd_fetch(args) -> int:
    from .model import fetch

    print(fetch(args.name))
    return 0


def cmd_build(args) -> int:
    from .build import build

    result = build(model=_model_name(args), prompt=args.prompt, out=args.out, cache_dir=args.cache_dir,
                   only=args.only, use_cache=not args.no_cache)
    m = result.manifest
    print(f"figgen: {len(m['figures'])} figures for {m['model']['name']} "
          f"({len(result.computed)} computed, {len(result.cached)} from cache) → {result.out}")
    return 0


def cmd_list(args) -> int:
    from .figures.registry import load_all

    specs = load_all()
    width = max((len(s.id) for s in specs.values()), default=0)
    for spec in specs.values():
        print(f"{spec.id:<{width}}  {spec.section:<18} {spec.title}")
    return 0


def cmd_trace(args) -> int:
    """Trace a prompt and print its tokens, the trace's size and the top next-token predictions."""
    import numpy as np

    from . import load_model, trace
    from .model import check_prompt

    name, prepend_bos = _model_name(args), not args.no_bos
    check_prompt(name, args.prompt, prepend_bos=prepend_bos)  # a bad prompt fails before the weights load
    model = load_model(name)
    t = trace(model, args.prompt, prepend_bos=prepend_bos)
    print(f"model: {model.name}")
    print("tokens:", " | ".join(f"{i}:{s!r}" for i, s in zip(t.tokens.tolist(), t.str_tokens)))
    print(f"trace: {len(t)} activations, {sum(a.nbytes for a in t.values()) / 1e6:.1f} MB")
    logits = t["logits"][-1].astype(np.float64)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    for i in np.argsort(-probs, kind="stable")[: args.top]:
        print(f"  {probs[i]:7.2%}  {model.tokenizer.decode([int(i)])!r}")
    return 0


def cmd_claims(args) -> int:
    """Print a manifest's claims as a Markdown table (a claim that does not reproduce is no error)."""
    import json
    from pathlib import Path

    from .claims import markdown_table

    path = Path(args.manifest)
    path = path / "manifest.json" if path.is_dir() else path
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        records = manifest["claims"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise FiggenError(f"{path}: not a figgen manifest with claims ({type(err).__name__}); "
                          "run `figgen build` first") from None
    print(f"Claims checked with {manifest['model']['name']}\n")
    print(markdown_table(records), end="")
    return 0


def cmd_mini(args) -> int:
    from .mini.__main__ import main as mini_main

    return mini_main([args.mini_command, *args.rest])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="figgen", description="A Vector-Level View of GPT-2, computed.")
    sub = parser.add_subparsers(dest="command", required=True)

    from .build import DEFAULT_CACHE, DEFAULT_PROMPT

    p = sub.add_parser("build", help="compute the figures and write them with manifest.json")
    p.add_argument("--model", help="hub id, local HF directory or 'mini' (default: $FIGGEN_MODEL or gpt2)")
    p.add_argument("--prompt", default=DEFAULT_PROMPT, help=f"prompt to trace (default: {DEFAULT_PROMPT!r})")
    p.add_argument("--out", default="build/figgen", help="output folder (default: build/figgen)")
    p.add_argument("--only", nargs="+", metavar="ID", help="only these figure or section ids")
    p.add_argument("--no-cache", action="store_true", help="recompute everything; read and write no cache")
    p.add_argument("--cache-dir", default=str(DEFAULT_CACHE), help="cache folder (default: .cache/figgen)")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("list", help="list the registered figures")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("claims", help="print the seeds' claims of a build, with their status, as Markdown")
    p.add_argument("manifest", nargs="?", default="build/figgen", help="manifest.json or its folder")
    p.set_defaults(func=cmd_claims)

    p = sub.add_parser("fetch", help="download a hub model (pinned revision) into the Hugging Face cache")
    p.add_argument("name", nargs="?", default=DEFAULT_MODEL, help="model id, default gpt2")
    p.set_defaults(func=cmd_fetch)

    p = sub.add_parser("trace", help="trace one prompt and print its tokens and top predictions")
    p.add_argument("prompt")
    p.add_argument("--model", help="hub id, local HF directory or 'mini' (default: $FIGGEN_MODEL or gpt2)")
    p.add_argument("--no-bos", action="store_true", help="do not prepend <|endoftext|>")
    p.add_argument("--top", type=int, default=5, help="how many predictions to print")
    p.set_defaults(func=cmd_trace)

    for name, mini_command, help_text in [
        ("train-mini", "train", "retrain the mini model (python -m figgen.mini train)"),
        ("mini-report", "report", "print the mini model's accuracy report"),
    ]:
        p = sub.add_parser(name, help=help_text)
        p.add_argument("rest", nargs=argparse.REMAINDER)
        p.set_defaults(func=cmd_mini, mini_command=mini_command)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except FiggenError as err:
        print(f"figgen: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("figgen: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
