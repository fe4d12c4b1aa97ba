"""Tier `variant`: pre-commit, as a developer installs it, passes on a fresh project of each variant."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import RUNNERS, project_env
from tests.test_variant import run

pytestmark = pytest.mark.variant


@pytest.mark.parametrize("runner", RUNNERS)
def test_pre_commit_run_all_files_passes(synced: Callable[[str], Path], tmp_path: Path, runner: str) -> None:
    """In a git copy of the synced project, using its environment as is (no second install)."""
    source = synced(runner)
    project = tmp_path / source.name
    shutil.copytree(source, project, ignore=shutil.ignore_patterns(".venv", "__pycache__", ".*_cache", "*.db*"))
    env = project_env(
        UV_PROJECT_ENVIRONMENT=str(source / "backend" / ".venv"),
        UV_NO_SYNC="1",
        PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"),
    )
    run(["git", "init", "--quiet"], project, env=env)
    run(["git", "add", "--all"], project, env=env)
    output = run(["uv", "run", "--project", "backend", "pre-commit", "run", "--all-files"], project, env=env)
    assert output.count("Passed") == 4, output
