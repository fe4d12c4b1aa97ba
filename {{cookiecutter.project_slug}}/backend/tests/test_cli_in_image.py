"""Developer tooling stays out of the runtime: `lich_dev` (`lich make job`, `lich dev`, `lich mail`)
is not in the container image, nothing that runs there imports it, and there the developer commands
are refused in one line while the operational ones work.

The image is simulated without Docker: a copy of backend/ as the Dockerfile's `COPY . .` sees it
(without what backend/.dockerignore names), run with this backend taken off `sys.path`.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from internal.cli import DEVELOPER_COMMANDS, DEVELOPER_PACKAGE
from lich_dev.commands import PARSERS
from tests.conftest import BACKEND
from tests.processes import environ_unmeasured

# Run `internal.cli.main(argv)` for each argv of the JSON list sys.argv[3], with the backend at
# sys.argv[1] first on sys.path and this backend (the editable install's entry included) off it, and
# print each run's exit code and output as JSON (one process for every case: each costs a second or
# more of CPU to start).
RUN_LICH = (
    "import contextlib, io, json, sys\n"
    "from pathlib import Path\n"
    "here = Path(sys.argv[2]).resolve()\n"
    "sys.path[:] = [sys.argv[1], *(p for p in sys.path if p and Path(p).resolve() != here)]\n"
    "import internal\n"
    "assert Path(internal.__file__).is_relative_to(Path(sys.argv[1]).resolve()), internal.__file__\n"
    "from internal.cli import main\n"
    "runs = []\n"
    "for argv in json.loads(sys.argv[3]):\n"
    "    out, err = io.StringIO(), io.StringIO()\n"
    "    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):\n"
    "        try:\n"
    "            code = main(argv)\n"
    "        except SystemExit as exit:\n"
    "            code = exit.code if isinstance(exit.code, int) else 1\n"
    "    runs.append({'returncode': code, 'stdout': out.getvalue(), 'stderr': err.getvalue()})\n"
    "print(json.dumps(runs))\n"
)
# Import every module of `internal` (API, workers, jobs, services, the operational commands), run an
# operational command, and report which modules of the developer package got loaded.
LOAD_EVERYTHING = (
    "import importlib, json, pkgutil, sys\n"
    "import internal\n"
    "from internal.cli import build_parser, main\n"
    "names = [m.name for m in pkgutil.walk_packages(internal.__path__, 'internal.')]\n"
    "for name in names:\n"
    "    importlib.import_module(name)\n"
    "build_parser()\n"
    "code = main(['jobs', 'schedules'])\n"
    f"loaded = sorted(m for m in sys.modules if m.split('.')[0] == {DEVELOPER_PACKAGE!r})\n"
    "print(json.dumps({'modules': len(names), 'code': code, 'loaded': loaded}))\n"
)


def image_backend(tmp_path: Path) -> Path:
    """backend/ without what .dockerignore names (its patterns are plain names and globs, matched
    here at any depth; no name it lists occurs below the top level)."""
    lines = (BACKEND / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip().removeprefix("**/") for line in lines if line.strip()[:1] not in ("", "#")]
    app = tmp_path / "app"
    shutil.copytree(BACKEND, app, ignore=shutil.ignore_patterns(*patterns))
    return app


DEVELOPER_ARGVS = [["dev"], ["make", "job", "GenerateReport"], ["mail"], ["dev", "--help"]]
OPERATIONAL_ARGVS = [["jobs", "schedules"], ["--help"]]


# Session-scoped: pytest-xdist's worksteal can hand a process this module's tests in more than one
# batch, and a module-scoped fixture would then run its process again for each batch.
@pytest.fixture(scope="session")
def image_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return image_backend(tmp_path_factory.mktemp("image"))


@pytest.fixture(scope="session")
def in_image(image_app: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    """`lich <argv>` in the image for every argv the tests below check, by its argv joined."""
    argvs = [*DEVELOPER_ARGVS, *OPERATIONAL_ARGVS]
    result = subprocess.run(  # noqa: S603  (this interpreter, fixed code)
        [sys.executable, "-c", RUN_LICH, str(image_app), str(BACKEND), json.dumps(argvs)],
        cwd=image_app,
        env=environ_unmeasured(),  # the image has no coverage, and runs a copy of the project
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    runs = json.loads(result.stdout.splitlines()[-1])
    return {
        " ".join(argv): subprocess.CompletedProcess(argv, **run)
        for argv, run in zip(argvs, runs, strict=True)
    }


def developer_imports(path: Path) -> list[tuple[int, bool]]:
    """(line, at module level) of every import of the developer package in `path`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        else:
            continue
        if any(name.split(".")[0] == DEVELOPER_PACKAGE for name in names):
            found.append((node.lineno, id(node) in top_level))
    return found


def test_the_image_leaves_the_developer_package_out(image_app: Path) -> None:
    assert (image_app / "internal" / "cli.py").is_file()
    assert not (image_app / DEVELOPER_PACKAGE).exists()


def test_only_the_cli_entry_point_imports_the_developer_package_and_only_on_demand() -> None:
    importers = {
        path.relative_to(BACKEND).as_posix(): found
        for path in sorted((BACKEND / "internal").rglob("*.py"))
        if (found := developer_imports(path))
    }
    assert list(importers) == ["internal/cli.py"], importers
    assert [top_level for _, top_level in importers["internal/cli.py"]] == [False]


def test_the_app_workers_and_operational_commands_load_without_the_developer_package() -> None:
    # Measured by coverage, unlike the image's runs: the import-time lines of `internal` count here
    # (the xdist workers import the app before coverage starts in them, see tests/conftest.py).
    result = subprocess.run(  # noqa: S603  (this interpreter, fixed code)
        [sys.executable, "-c", LOAD_EVERYTHING],
        cwd=BACKEND,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["code"] == 0
    assert report["modules"] > 20
    assert report["loaded"] == []


@pytest.mark.parametrize("argv", DEVELOPER_ARGVS)
def test_in_the_image_developer_commands_are_refused_in_one_line(
    in_image: dict[str, subprocess.CompletedProcess[str]], argv: list[str]
) -> None:
    result = in_image[" ".join(argv)]
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"lich: `lich {argv[0]}` is a developer command: run it in a source checkout")


def test_in_the_image_operational_commands_work(
    in_image: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    result = in_image["jobs schedules"]
    assert result.returncode == 0, result.stderr
    assert "JOB" in result.stdout.splitlines()[0]


def test_in_the_image_help_lists_every_command(in_image: dict[str, subprocess.CompletedProcess[str]]) -> None:
    result = in_image["--help"]
    assert result.returncode == 0, result.stderr
    for command in ("jobs", "users", *DEVELOPER_COMMANDS):
        assert f"    {command} " in result.stdout


def test_the_cli_hands_over_exactly_the_commands_the_developer_package_parses() -> None:
    assert set(DEVELOPER_COMMANDS) == set(PARSERS)
