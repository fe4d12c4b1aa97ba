"""What pytest loads first, in every process of a run: the run's own hooks (the order of the tests,
the runner's services in `tests.runner_session`) and, where tests run, their fixtures (`tests.fixtures`).

Under pytest-xdist (`make test`) the process that starts the workers only hands out tests and gathers
their reports. The fixtures import the app, about 2 s of CPU under coverage before that process
starts any worker, so it does not load them (`pytest_sessionstart`). Nothing here imports the app.

A worker loads the fixtures before pytest-cov starts measuring in it (its `pytest_sessionstart`
runs after this one), which spares each worker importing the app under the tracer: the app's
import-time lines count in the child process of tests/test_cli_in_image.py that imports every module.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.processes import MEASURE_CHILDREN

pytest_plugins = ["tests.runner_session"]

BACKEND = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_setupnodes(config: pytest.Config, specs: object) -> None:
    """Start the pytest-xdist workers without coverage's measuring of child processes.

    pytest-cov measures each worker from its session start, and starts that measuring for the
    worker's own children (the API, the job worker, migrations). Inherited from this process as
    well, it traced each worker's start-up, about 1 s of CPU per worker, into data the report
    never counted."""
    os.environ.pop(MEASURE_CHILDREN, None)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Load the fixtures, unless this process hands the tests out to pytest-xdist workers."""
    if not session.config.pluginmanager.has_plugin("dsession"):
        session.config.pluginmanager.import_plugin("tests.fixtures")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Spread the modules of tests/'s subfolders (the runner's own tests, the jobs' tests) evenly
    among the others, each module's tests kept together.

    Their tests mostly wait on a real server (retries, timeouts, schedules). Collected in a row they
    would fall into one pytest-xdist process's share and wait one after the other while the other
    processes run everything else; spread, every process gets some of them and the waits overlap.
    """
    modules: dict[Path, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(item.path, []).append(item)
    nested = [tests for path, tests in modules.items() if path.parent != TESTS]
    flat = [tests for path, tests in modules.items() if path.parent == TESTS]
    if not nested or not flat:
        return
    before: dict[int, list[pytest.Item]] = {}
    for k, tests in enumerate(nested):
        before.setdefault(k * len(flat) // len(nested), []).extend(tests)
    ordered: list[pytest.Item] = []
    for index, tests in enumerate(flat):
        ordered += before.get(index, []) + tests
    items[:] = ordered
