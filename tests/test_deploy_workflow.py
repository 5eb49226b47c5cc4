"""The deploy workflow publishes the site even when claims do not reproduce.

Its own steps, read from .github/workflows/deploy.yml and run in order as on a push to main, on a
GPT-2-shaped stand-in: a randomly initialised `GPT2Config()` model (random LayerNorm gains and biases)
with the real GPT-2 tokenizer, put in a temporary Hugging Face cache at GPT-2's pinned revision, so
`figgen fetch gpt2` and `figgen.load_model("gpt2")` take it for GPT-2 124M offline. Its random weights
reproduce few of the sources' claims about GPT-2: the gate must pass anyway, the site must reach
gh-pages (a local bare repository as `origin`), and the job summary must list the claims with their
statuses. The step that runs the test suite is skipped (this test runs inside it).

Where the steps run: a copy of this checkout's files as they are (tracked and untracked, not ignored:
no `.cache`, no `.venv`, no `site`), committed in a fresh git repository. Its `.venv` is the virtual
environment this test runs in (in CI the one `tasks.py` made): a folder with that venv's `pyvenv.cfg`
and `bin`/`lib` links, so the steps run its interpreter, packages and scripts, and a stamp of its own
for the copy's pyproject.toml, so `tasks.py` never reinstalls into the shared venv. `PYTHONPATH` is the
copy, so every process (pytest, `figgen`, mkdocs through mike) imports the copy's figgen rather than
the checkout its editable install points at; the test checks that.

Nothing is shared with the checkout's caches: the stand-in is "GPT-2 at the pinned revision" to every
cache key, so its figures must never reach the real `.cache/figgen` (only the model-independent,
checksummed npm assets are shared), nor its weights the real Hugging Face cache.

Slow (one site build at GPT-2 124M's shapes: a few minutes, ~2.4 GB at its peak).
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "deploy.yml"
SHARED_TOKENIZER = ROOT.parent / "shared" / "data" / "gpt2-tokenizer"
SUITE_STEP = "Install (creates .venv) and test"  # runs the suite this test is part of: not run here
#: Steps that must be there and run on a push to main, in this order (others run too, where they are).
REQUIRED = ["Fetch GPT-2 124M (pinned revision)", "Tests on GPT-2 124M", "Deploy dev",
            "Claims on GPT-2 124M (job summary)"]
#: The workflow's `if:` conditions, as on a push to main after every earlier step succeeded.
CONDITIONS = {"github.ref == 'refs/heads/main'": True, "startsWith(github.ref, 'refs/tags/v')": False,
              "!cancelled()": True}
#: The `${{ … }}` expressions its steps use.
EXPRESSIONS = {"github.repository_owner": "owner", "github.event.repository.name": "figgen",
               "github.token": "not-a-token"}
STEP_TIMEOUT = 1800  # seconds; the GPT-2 tests build every figure at GPT-2's shapes

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not SHARED_TOKENIZER.is_dir(),
                       reason=f"needs the GPT-2 tokenizer in {SHARED_TOKENIZER} for the stand-in"),
    pytest.mark.skipif(shutil.which("git") is None or shutil.which("bash") is None, reason="needs git and bash"),
    pytest.mark.skipif(sys.prefix == sys.base_prefix, reason="needs to run in a virtual environment "
                       "(the workflow's steps run the one in .venv)"),
]


def git(*args, cwd) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def copy_checkout(dest: Path) -> Path:
    """This checkout's files as they are, in a fresh repository with one commit (mike needs one)."""
    listed = git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT).split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():  # a tracked file deleted in the checkout is left out
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    git("init", "-q", "-b", "main", cwd=dest)
    git("add", "-A", cwd=dest)
    git("-c", "user.name=test", "-c", "user.email=test@example.invalid", "commit", "-q", "-m", "checkout", cwd=dest)
    return dest


def link_venv(repo: Path) -> None:
    """repo/.venv: the running venv's interpreter and packages, with its own install stamp (see the docstring)."""
    real, venv = Path(sys.prefix), repo / ".venv"
    venv.mkdir()
    for name in ("bin", "lib"):
        (venv / name).symlink_to(real / name, target_is_directory=True)
    (venv / "lib64").symlink_to("lib", target_is_directory=True)
    shutil.copy(real / "pyvenv.cfg", venv / "pyvenv.cfg")
    # tasks.ensure_venv's stamp: the venv counts as installed for this pyproject.toml.
    (venv / ".figgen-installed").write_text(hashlib.sha256((repo / "pyproject.toml").read_bytes()).hexdigest())


def save_stand_in(snapshot: Path) -> None:
    """A random GPT-2 124M-shaped model and the real GPT-2 tokenizer, saved as a hub snapshot."""
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    hf = GPT2LMHeadModel(GPT2Config())
    with torch.no_grad():  # a fresh config has γ = 1 and zero biases: too symmetric to test anything
        for name, p in hf.named_parameters():
            if name.endswith("bias") or "ln_" in name:
                p.add_(0.1 * torch.randn_like(p))
    hf.save_pretrained(snapshot)
    del hf
    # The folder's tokenizer.json (transformers 5 builds nothing from vocab.json + merges.txt alone).
    AutoTokenizer.from_pretrained(SHARED_TOKENIZER).save_pretrained(snapshot)
    gc.collect()


def hf_cache_with_stand_in(hf_home: Path) -> None:
    from figgen.model import HUB_MODELS

    repo, revision = HUB_MODELS["gpt2"]
    model_dir = hf_home / "hub" / f"models--{repo.replace('/', '--')}"
    save_stand_in(model_dir / "snapshots" / revision)
    (model_dir / "refs").mkdir()
    (model_dir / "refs" / "main").write_text(revision)


def expand(text: str) -> str:
    def value(m: re.Match) -> str:
        expr = m.group(1).strip()
        if expr not in EXPRESSIONS:
            pytest.fail(f"deploy.yml uses ${{{{ {expr} }}}}, which this test does not know: add it to EXPRESSIONS")
        return EXPRESSIONS[expr]

    return re.sub(r"\$\{\{(.*?)\}\}", value, str(text))


def runs_on_main(step: dict) -> bool:
    cond = step.get("if")
    if cond is None:
        return True
    cond = re.fullmatch(r"\s*(?:\$\{\{(.*)\}\}|(.*))\s*", str(cond), re.S)
    cond = (cond.group(1) or cond.group(2)).strip()
    if cond not in CONDITIONS:
        pytest.fail(f"step {step.get('name')!r}: condition {cond!r} unknown to this test: add it to CONDITIONS")
    return CONDITIONS[cond]


def shell_command(step: dict, script: Path) -> list[str]:
    """GitHub's commands for a `run` step on Linux (`shell: bash`, or the default)."""
    shell = step.get("shell")
    if shell == "bash":
        return ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)]
    assert shell is None, f"step {step.get('name')!r}: shell {shell!r} not emulated"
    return ["bash", "-e", str(script)]


def step_env(base: dict, step: dict) -> dict:
    return {**base, **{k: expand(v) for k, v in (step.get("env") or {}).items()}}


def test_deploy_publishes_when_claims_do_not_reproduce(tmp_path):
    steps = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]["deploy"]["steps"]
    named = [s.get("name") for s in steps if "run" in s]
    assert SUITE_STEP in named, f"deploy.yml has no step {SUITE_STEP!r}: which step runs the suite now?"
    to_run = [s for s in steps if "run" in s and s["name"] != SUITE_STEP and runs_on_main(s)]
    assert [s["name"] for s in to_run if s["name"] in REQUIRED] == REQUIRED, [s["name"] for s in to_run]
    assert to_run.index(next(s for s in to_run if s["name"] == "Tests on GPT-2 124M")) < \
        to_run.index(next(s for s in to_run if s["name"] == "Deploy dev"))

    repo = copy_checkout(tmp_path / "repo")
    link_venv(repo)
    origin = tmp_path / "origin.git"
    git("init", "-q", "--bare", str(origin), cwd=tmp_path)
    git("remote", "add", "origin", str(origin), cwd=repo)
    shared_assets = ROOT / ".cache" / "figgen" / "assets"  # npm tarballs, checksummed: the same for any model
    shared_assets.mkdir(parents=True, exist_ok=True)
    (repo / ".cache" / "figgen").mkdir(parents=True)
    (repo / ".cache" / "figgen" / "assets").symlink_to(shared_assets, target_is_directory=True)
    hf_home = tmp_path / "hf"
    hf_cache_with_stand_in(hf_home)
    summary = tmp_path / "step-summary.md"
    summary.touch()

    # A runner's environment: nothing of this process's git, Hugging Face, figgen or pytest settings.
    drop = ("GIT_", "HF_", "HUGGINGFACE_", "TRANSFORMERS_", "FIGGEN_", "PYTEST_", "GITHUB_", "MIKE_")
    base = {k: v for k, v in os.environ.items() if not k.startswith(drop) and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    base |= {"CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_REF": "refs/heads/main", "GITHUB_REF_NAME": "main",
             "GITHUB_STEP_SUMMARY": str(summary), "HF_HOME": str(hf_home), "HF_HUB_CACHE": str(hf_home / "hub"),
             "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(repo)}

    # Every interpreter the steps use imports the copy's figgen, from any folder.
    for python in (repo / ".venv" / "bin" / "python", Path(sys.prefix) / "bin" / "python"):
        where = subprocess.run([str(python), "-c", "import figgen; print(figgen.__file__)"], cwd=tmp_path,
                               env=base, capture_output=True, text=True, check=True).stdout.strip()
        assert Path(where) == repo / "figgen" / "__init__.py", (python, where)

    logs = {}
    for i, step in enumerate(to_run):
        script = tmp_path / f"step-{i}.sh"
        script.write_text(expand(step["run"]), encoding="utf-8")
        proc = subprocess.run(shell_command(step, script), cwd=repo, env=step_env(base, step),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=STEP_TIMEOUT)
        logs[step["name"]] = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"step {step['name']!r} exited {proc.returncode}:\n{logs[step['name']][-6000:]}"

    # The gate ran on the stand-in and passed, the site build took every figure from the gate's build.
    gate = logs["Tests on GPT-2 124M"]
    assert re.search(r"\b\d+ passed\b", gate) and not re.search(r"\b\d+ (failed|errors?)\b", gate), gate[-3000:]
    assert "PASSED tests/test_claims.py::test_every_claim_is_computed_on_gpt2" in gate
    assert "figgen: 0 figures computed" in logs["Deploy dev"], logs["Deploy dev"][-3000:]

    # The summary: the gate's results, then the claims table, with claims that did not reproduce.
    text = summary.read_text(encoding="utf-8")
    assert "### Tests on GPT-2 124M" in text and "### Claims on GPT-2 124M" in text
    assert "| claim | published | this build | status |" in text
    rows = re.findall(r"^\|.*\| ([a-z ]+) \|$", text, re.M)
    assert "not reproduced" in rows and "reproduced" in rows, rows
    assert re.search(r"^\d+ claims: .*\d+ not reproduced", text, re.M)

    # gh-pages on origin: the dev version, with the Claims page and the manifest of the stand-in.
    published = set(git("ls-tree", "-r", "--name-only", "gh-pages", cwd=origin).split())
    assert {"versions.json", "dev/index.html", "dev/claims/index.html", "dev/figgen/manifest.json"} <= published
    versions = json.loads(git("show", "gh-pages:versions.json", cwd=origin))
    assert [v["version"] for v in versions] == ["dev"]
    manifest = json.loads(git("show", "gh-pages:dev/figgen/manifest.json", cwd=origin))
    assert manifest["model"]["is_gpt2_small"]
    statuses = [c["status"] for c in manifest["claims"]]
    assert "not reproduced" in statuses and "not computed" not in statuses
    assert f"{statuses.count('not reproduced')} not reproduced" in text
    claims_page = git("show", "gh-pages:dev/claims/index.html", cwd=origin)
    assert "✗ not reproduced</strong>" in claims_page
