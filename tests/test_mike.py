"""Versioned deploys: the same mike commands as the deploy workflow, against a temporary bare repo."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def load_tasks():
    spec = importlib.util.spec_from_file_location("tasks", ROOT / "tasks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def project(tmp_path):
    """A tiny MkDocs project with the real site's versioning settings, in a git repo with a bare origin."""
    real = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)
    mike_cfg = next(p["mike"] for p in real["plugins"] if isinstance(p, dict) and "mike" in p)
    cfg = {"site_name": "t", "extra": {"version": real["extra"]["version"]}, "plugins": [{"mike": mike_cfg}]}
    proj = tmp_path / "proj"
    (proj / "docs").mkdir(parents=True)
    (proj / "docs" / "index.md").write_text("# hello\n")
    (proj / "mkdocs.yml").write_text(yaml.safe_dump(cfg))
    remote = tmp_path / "remote.git"
    git("init", "-q", "--bare", str(remote), cwd=tmp_path)
    git("init", "-q", "-b", "main", cwd=proj)
    for k, v in [("user.name", "ci"), ("user.email", "ci@example.invalid")]:
        git("config", k, v, cwd=proj)
    git("add", "-A", cwd=proj)
    git("commit", "-q", "-m", "init", cwd=proj)
    git("remote", "add", "origin", str(remote), cwd=proj)
    return proj, remote


def run_commands(cmds, cwd):
    mike = str(Path(sys.executable).parent / "mike")
    # mike runs `mkdocs` from PATH: put the running environment's scripts first.
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    for cmd in cmds:
        proc = subprocess.run([mike, *cmd[1:]], cwd=cwd, capture_output=True, text=True, env=env)
        assert proc.returncode == 0, proc.stderr


def test_deploy_dev_then_release(project, tmp_path):
    proj, remote = project
    tasks = load_tasks()
    assert tasks.mike_commands("dev", latest=False, push=True) == [["mike", "deploy", "--push", "dev"]]
    run_commands(tasks.mike_commands("dev", latest=False, push=True), proj)
    run_commands(tasks.mike_commands("v0.1.0", latest=True, push=True), proj)

    checkout = tmp_path / "pages"
    git("clone", "-q", "-b", "gh-pages", str(remote), str(checkout), cwd=tmp_path)
    versions = json.loads((checkout / "versions.json").read_text())
    by_version = {v["version"]: v for v in versions}
    assert set(by_version) == {"dev", "v0.1.0"}
    assert by_version["v0.1.0"]["aliases"] == ["latest"] and by_version["dev"]["aliases"] == []
    # Aliases are redirect pages, not symlinks (GitHub Pages does not follow symlinks).
    latest = checkout / "latest"
    assert latest.is_dir() and not latest.is_symlink()
    assert "v0.1.0" in (latest / "index.html").read_text()
    assert (checkout / "v0.1.0" / "index.html").is_file() and (checkout / "dev" / "index.html").is_file()
    # The default version: the root redirects to latest.
    assert "latest/" in (checkout / "index.html").read_text()

    # A second release moves the alias.
    run_commands(tasks.mike_commands("v0.2.0", latest=True, push=True), proj)
    git("pull", "-q", cwd=checkout)
    versions = {v["version"]: v for v in json.loads((checkout / "versions.json").read_text())}
    assert versions["v0.2.0"]["aliases"] == ["latest"] and versions["v0.1.0"]["aliases"] == []
