#!/usr/bin/env python3
"""Set-up and entry points that work on a fresh machine with only Python 3.11+.

    python3 tasks.py test [PYTEST ARGS]   create/refresh .venv, then run the test suite
    python3 tasks.py site [ARGS]          create/refresh .venv, then build the site into site/

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
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"test", "site"}:
        print(__doc__.strip())
        return 2
    ensure_venv()
    command, rest = argv[0], argv[1:]
    if command == "test":
        return run([str(PY), "-m", "pytest", *rest])
    print("tasks: the site build arrives with the build-pipeline issue", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
