"""Fixtures of the template's own tests: baking, real services, and native runs of compose commands.

Real services are used when present: Postgres and Redis on 127.0.0.1 (or `TEST_DATABASE_URL` /
`TEST_REDIS_URL`). A missing service skips its tests with a loud reason locally and fails them
under `CI=true`, so CI can never go green by skipping.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import redis

from tests.helpers import CRASH_REPORTS, IN_CI, RUNNERS, bake, create_database, project_env

# Bytecode is cached even where PYTHONDONTWRITEBYTECODE is set (CI images often set it): the tiers
# start hundreds of Python processes in baked projects (APIs, workers, the lich command, the
# projects' own test sessions), each of which would otherwise compile the project and its
# dependencies again. Dropped here, before pytest-xdist starts its workers, so that they and every
# command they run inherit its absence.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False

# One mypy cache for every project the tiers lint (pre-commit per variant, `make lint` at each
# variant's lowest versions): a project's mypy run starting cold spends most of its 20 s of CPU on
# the standard library and the shared dependencies. mypy checks each cached module against its
# file's hash, so a shared cache changes the time, not the result. Made here, in the process that
# starts pytest-xdist's workers, which inherit it (and removed by that process).
if "MYPY_CACHE_DIR" not in os.environ:
    os.environ["MYPY_CACHE_DIR"] = MYPY_CACHE = tempfile.mkdtemp(prefix="lich-template-mypy-")
    atexit.register(shutil.rmtree, MYPY_CACHE, ignore_errors=True)

BAKE_ANSWERS = {"project_name": "Lich Shop", "author_email": "dev@example.com"}


def missing_service(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(f"SKIPPED LOUDLY: {reason}")


@pytest.fixture(scope="session")
def baked(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """Bake each runner once per session (render-only checks share these trees; never modify them)."""
    cache: dict[str, Path] = {}

    def get(runner: str) -> Path:
        if runner not in cache:
            cache[runner] = bake(tmp_path_factory.mktemp(f"render-{runner}"), task_runner=runner, **BAKE_ANSWERS)
        return cache[runner]

    return get


@pytest.fixture(scope="session")
def uv() -> str:
    path = shutil.which("uv")
    if path is None:
        pytest.fail("uv is not on PATH (install it: pip install uv)")
    return path


def run_wide_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This run's temporary directory that every pytest-xdist worker sees (each worker's own base
    directory is below it); without xdist, the base directory."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Exclusive between processes (and threads: each call opens the file anew)."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def synced(tmp_path_factory: pytest.TempPathFactory, uv: str) -> Callable[[str], Path]:
    """A baked project per runner with its backend environment installed from the shipped lock
    (`uv sync --locked`, which fails when the lock is out of date), shared by tiers.

    One per runner for the whole run: under pytest-xdist the first worker to ask bakes and syncs it
    (the others wait on a lock), as the tiers only run processes from it. Each copy would cost a
    bake, a sync and, at its first use, compiling the bytecode of the app and its dependencies
    (about 5 s of CPU, more where several processes start at once)."""
    shared = run_wide_directory(tmp_path_factory)
    cache: dict[str, Path] = {}

    def get(runner: str) -> Path:
        if runner not in cache:
            done = shared / f"synced-{runner}.path"
            with file_lock(shared / f"synced-{runner}.lock"):
                if not done.exists():
                    directory = shared / f"synced-{runner}"
                    shutil.rmtree(directory, ignore_errors=True)  # a sync that failed in an earlier test
                    directory.mkdir()
                    project = bake(directory, task_runner=runner, **BAKE_ANSWERS)
                    result = subprocess.run(
                        [uv, "sync", "--locked", "--quiet"],
                        cwd=project / "backend",
                        env=project_env(),
                        capture_output=True,
                        text=True,
                        timeout=600,
                        check=False,
                    )
                    assert result.returncode == 0, f"uv sync failed for {runner}:\n{result.stderr}"
                    done.write_text(str(project), encoding="utf-8")
            cache[runner] = Path(done.read_text(encoding="utf-8"))
        return cache[runner]

    return get


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of a reachable Postgres server (any database on it); databases are created per test."""
    url = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        with psycopg.connect(url, connect_timeout=3):
            pass
    except psycopg.OperationalError as exc:
        missing_service(f"Postgres is not reachable at {url}: {exc}")
    return url


@pytest.fixture(scope="session")
def fresh_database(postgres_url: str) -> Callable[[str], str]:
    """Create (or re-create) an empty database and return its URL."""

    def create(name: str) -> str:
        return create_database(postgres_url, name)

    return create


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        missing_service(f"Redis is not reachable at {url}: {exc}")
    finally:
        client.close()
    yield url


# The modules that take longest, longest first (on 2 cores, minutes for the first, tens of seconds
# for the last): they are handed out first, so that none of them starts when the others end.
LONGEST_FIRST = (
    "test_cli_tier",
    "test_crash",
    "test_bench",
    "test_variant",
    "test_variant_floors",
    "test_fuzz",
    "test_update",
    "test_e2e_celery",
    "test_e2e_temporal",
    "test_e2e",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test belongs to exactly one tier, so `make test-render` and CI select them reliably.

    `make test` runs under pytest-xdist with `--dist loadscope`: the tests of one module run one
    after another in one worker (they share a project, a Redis database, a broker queue or default
    ports), modules run beside each other, each using Redis databases of its own, the longest
    handed out first (`--no-loadscope-reorder` keeps this order instead of xdist's, by number of
    tests). (pytest-xdist's `--dist loadgroup` would split modules by runner, but its groups are
    lost under pytest 9: a test's group is written to an attribute pytest no longer reads.)"""
    tiers = {"render", "variant", "e2e", "cli", "crash", "fuzz"}
    for item in items:
        marks = {mark.name for mark in item.iter_markers()} & tiers
        if len(marks) != 1:
            raise pytest.UsageError(f"{item.nodeid} must carry exactly one tier marker of {sorted(tiers)}")
    rank = {module: index for index, module in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.stem, len(rank)))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the crash figures printed during a test to its report: under pytest-xdist the test
    runs in a worker process, and only reports travel back to the terminal."""
    report: pytest.TestReport = yield
    if call.when == "call" and CRASH_REPORTS:
        report.user_properties.extend(("crash figures", line) for line in CRASH_REPORTS)
        CRASH_REPORTS.clear()
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The crash tier's figures per scenario (jobs, kills, recovered, lost, duplicates, recovery
    seconds), so that CI logs carry them without `-s`."""
    lines = [
        value
        for reports in terminalreporter.stats.values()
        for report in reports
        for key, value in getattr(report, "user_properties", ())
        if key == "crash figures"
    ]
    if lines:
        terminalreporter.section("crash tier figures")
        for line in lines:
            terminalreporter.line(str(line))


__all__ = ["RUNNERS"]
