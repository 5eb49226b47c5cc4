#!/usr/bin/env python3
"""Set-up and entry points that work on a fresh machine with only Python 3.11+.

    python3 tasks.py test [PYTEST ARGS]   create/refresh .venv, then run the test suite
    python3 tasks.py deploy VERSION [--latest] [--push]
                                          publish the built site as VERSION on gh-pages with mike
                                          (--latest: also alias it as latest, the default version)
    python3 tasks.py site [--model NAME] [--serve]
                                          create/refresh .venv, then build the site into site/
                                          (GPT-2 124M when it is cached or downloadable, else mini;
                                          --model or $FIGGEN_MODEL choose another; --serve previews)

The virtual environment is reinstalled whenever pyproject.toml changes (a hash stamp in .venv).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".figgen-installed"
# Installed first and on its own: pinned, this is the CPU build; unpinned it pulls GBs of CUDA wheels.
TORCH = "torch==2.13.0"


def ensure_venv() -> None:
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.is_file() and STAMP.read_text() == want and PY.exists():
        return
    if not PY.exists():
        print(f"tasks: creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [str(PY), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    print("tasks: installing dependencies (first run takes a few minutes)", flush=True)
    subprocess.run([*pip, TORCH], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(want)


def run(cmd: list[str]) -> int:
    # NO_MKDOCS_2_WARNING: Material's documented switch for its end-of-life banner, printed when the
    # theme is imported (before any plugin could intervene) on every mkdocs and mike build.
    env = {"NO_MKDOCS_2_WARNING": "1", **os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"test", "site", "deploy"}:
        print(__doc__.strip())
        return 2
    ensure_venv()
    command, rest = argv[0], argv[1:]
    if command == "test":
        return run([str(PY), "-m", "pytest", *rest])
    if command == "deploy":
        return deploy(rest)
    return site(rest)


def mike_commands(version: str, *, latest: bool, push: bool, mike: str = "mike") -> list[list[str]]:
    """The mike calls that publish `version` (the deploy workflow and tests/test_mike.py use these).

    Aliases are redirect pages (mkdocs.yml sets the mike plugin's alias_type), which work on GitHub
    Pages, unlike mike's default symlinks."""
    push_flag = ["--push"] if push else []
    if not latest:
        return [[mike, "deploy", *push_flag, version]]
    return [[mike, "deploy", *push_flag, "--update-aliases", version, "latest"],
            [mike, "set-default", *push_flag, "latest"]]


def deploy(args: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="tasks.py deploy")
    parser.add_argument("version")
    parser.add_argument("--latest", action="store_true")
    parser.add_argument("--push", action="store_true")
    opts = parser.parse_args(args)
    for cmd in mike_commands(opts.version, latest=opts.latest, push=opts.push, mike=str(BIN / "mike")):
        if code := run(cmd):
            return code
    return 0


def site(args: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="tasks.py site")
    parser.add_argument("--model", default=os.environ.get("FIGGEN_MODEL"))
    parser.add_argument("--serve", action="store_true", help="run `mkdocs serve` instead of building")
    opts = parser.parse_args(args)
    model = opts.model or choose_default_model()
    os.environ["FIGGEN_MODEL"] = model
    print(f"tasks: building the site with model {model!r}", flush=True)
    if opts.serve:
        return run([str(BIN / "mkdocs"), "serve"])
    return run([str(BIN / "mkdocs"), "build", "--strict", "--site-dir", "site"])


def choose_default_model() -> str:
    """gpt2 if it is cached or the hub answers; otherwise mini, saying so."""
    code = ("from figgen.model import _cached_snapshot, hub_reachable, resolve; import os; "
            "ok = _cached_snapshot(resolve('gpt2')) is not None or "
            "(os.environ.get('HF_HUB_OFFLINE') != '1' and hub_reachable()); print('gpt2' if ok else 'mini')")
    out = subprocess.run([str(PY), "-c", code], cwd=ROOT, capture_output=True, text=True)
    model = out.stdout.strip() or "mini"
    if model == "mini":
        print("tasks: GPT-2 124M is neither cached nor downloadable here; using the project's mini model "
              "(every page says so). Run `.venv/bin/figgen fetch gpt2` with network access to use GPT-2.",
              flush=True)
    return model


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
