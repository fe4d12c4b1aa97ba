"""Tier `variant`: each baked project installs, lints, type-checks and passes its own tests on Postgres."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import RUNNERS, TEMPLATE, installed_names, project_env

INSTALLED_NAMES = TEMPLATE / "hooks" / "installed_names.json"

pytestmark = pytest.mark.variant


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 900) -> str:
    result = subprocess.run(
        command, cwd=cwd, env=env or project_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.mark.parametrize("runner", RUNNERS)
def test_pre_commit_runs_ruff_mypy_and_the_other_linters_clean(
    synced: Callable[[str], Path], tmp_path: Path, runner: str
) -> None:
    """pre-commit as a developer installs it, on all files of a git copy of the synced project, with
    its environment as is (no second install). Its hooks are the targets of the project's `make
    lint`: ruff (lint and format) and mypy --strict, hadolint, the compose and GitHub schemas, and
    zizmor."""
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
    hooks = re.findall(r"^(.+?)\.{3,}(Passed|Failed|Skipped)$", output, re.M)
    assert [name for name, _ in hooks] == [
        "ruff (lint + format) and mypy --strict",
        "hadolint (Dockerfile)",
        "check-jsonschema (compose specification)",
        "check-jsonschema (workflows, Dependabot) and zizmor",
    ], output
    assert {result for _, result in hooks} == {"Passed"}, output


@pytest.mark.parametrize("runner", RUNNERS)
def test_the_projects_own_make_test_passes_on_postgres(
    synced: Callable[[str], Path], fresh_database: Callable[[str], str], redis_url: str, runner: str
) -> None:
    """`make test` exactly as the generated README says, against a fresh Postgres database."""
    env = project_env(
        TEST_DATABASE_URL=fresh_database(f"lich_test_variant_{runner}"),
        TEST_REDIS_URL=redis_url.rsplit("/", 1)[0] + "/12",
    )
    output = run(["make", "test"], synced(runner), env=env)
    [summary] = re.findall(r"^=* ?(\d+ passed.*?)(?: =*)?$", output, re.M)[-1:]
    assert "failed" not in summary and "skipped" not in summary and "error" not in summary, summary
    [coverage] = re.findall(r"^Required test coverage of .*$", output, re.M)
    print(f"{runner}: {coverage}")  # the figure, for the record (`pytest -rP`)


@pytest.mark.parametrize("runner", RUNNERS)
def test_migrations_apply_to_an_empty_postgres_and_match_the_models(
    synced: Callable[[str], Path], fresh_database: Callable[[str], str], runner: str
) -> None:
    env = project_env(DATABASE_URL=fresh_database(f"lich_migrate_{runner}"))
    backend = synced(runner) / "backend"
    run(["uv", "run", "--no-sync", "alembic", "upgrade", "head"], backend, env=env)
    run(["uv", "run", "--no-sync", "alembic", "check"], backend, env=env)
    run(["uv", "run", "--no-sync", "alembic", "downgrade", "base"], backend, env=env)


@pytest.mark.parametrize("runner", RUNNERS)
def test_lich_command_is_installed(synced: Callable[[str], Path], runner: str) -> None:
    output = run(["uv", "run", "--no-sync", "lich", "--help"], synced(runner) / "backend")
    assert "usage: lich" in output


@pytest.mark.parametrize("runner", RUNNERS)
def test_slugs_refused_as_installed_are_what_the_synced_backend_installs(
    synced: Callable[[str], Path], runner: str
) -> None:
    """hooks/installed_names.json must list exactly what the variant installs: a dependency added or
    dropped changes which project names would shadow it (UPDATE_SNAPSHOTS=1 rewrites the list)."""
    project = synced(runner)
    own = re.sub(r"[-_.]+", "_", project.name).lower()
    actual = sorted(installed_names(project / "backend" / ".venv", own))
    if os.environ.get("UPDATE_SNAPSHOTS"):
        listed = json.loads(INSTALLED_NAMES.read_text(encoding="utf-8"))
        INSTALLED_NAMES.write_text(json.dumps({**listed, runner: actual}, indent=1) + "\n", encoding="utf-8")
    assert json.loads(INSTALLED_NAMES.read_text(encoding="utf-8"))[runner] == actual
