"""Tier `variant`: the lower bounds in each variant's pyproject.toml hold.

Every direct dependency is installed at the lowest version its bound allows (uv's
`lowest-direct` resolution), then the project's own `make lint` and `make test` must pass, as
they do at the locked versions. A bound that only looks right fails here.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.helpers import RUNNERS, bake, project_env
from tests.test_variant import run

pytestmark = pytest.mark.variant


def floors(pyproject: dict[str, object]) -> dict[str, Version]:
    """The `>=` bound of every direct requirement (project and dependency groups)."""
    project = pyproject["project"]
    groups = pyproject["dependency-groups"]
    assert isinstance(project, dict) and isinstance(groups, dict)
    lines = [*project["dependencies"], *(line for group in groups.values() for line in group)]
    bounds = {}
    for requirement in map(Requirement, lines):
        [lower] = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        bounds[canonicalize_name(requirement.name)] = Version(lower)
    return bounds


@pytest.mark.parametrize("runner", RUNNERS)
def test_lowest_allowed_versions_pass_the_projects_lint_and_tests(
    tmp_path: Path, fresh_database: Callable[[str], str], redis_url: str, runner: str
) -> None:
    project = bake(tmp_path, task_runner=runner, project_name="Lich Shop")
    backend = project / "backend"
    env = project_env(
        UV_RESOLUTION="lowest-direct",
        TEST_DATABASE_URL=fresh_database(f"lich_test_lowest_{runner}"),
        TEST_REDIS_URL=redis_url.rsplit("/", 1)[0] + "/8",
    )
    (backend / "uv.lock").unlink()  # resolve afresh: the shipped lock's versions are no preference
    run(["uv", "sync", "--quiet"], backend, env=env)
    locked = {p["name"]: Version(p["version"]) for p in tomllib.loads((backend / "uv.lock").read_text())["package"]}
    bounds = floors(tomllib.loads((backend / "pyproject.toml").read_text()))
    assert {name: locked[name] for name in bounds} == bounds, "a floor names a version that does not exist"

    run(["make", "lint"], project, env=env)
    output = run(["make", "test"], project, env=env)
    [summary] = re.findall(r"^=* ?(\d+ passed.*?)(?: =*)?$", output, re.M)[-1:]
    assert "failed" not in summary and "skipped" not in summary and "error" not in summary, summary
    assert "Required test coverage" in output
