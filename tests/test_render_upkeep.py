"""Tier `render`: what keeps a generated project maintainable: its lock, checks, CI hygiene, images."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.helpers import RUNNERS

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
