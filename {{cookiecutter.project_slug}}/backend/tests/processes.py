"""This test process and the ones it starts: which pytest-xdist worker it is, how many to start,
free ports, the environment of a child process.

It imports nothing of the app: the run-wide hooks (tests/conftest.py, tests/runner_session.py) use it
in the pytest-xdist controller too, which never imports the app.
"""

from __future__ import annotations

import os
import socket

# The variable through which coverage (`patch = ["subprocess"]`) measures the Python processes that a
# measured process starts.
MEASURE_CHILDREN = "COVERAGE_PROCESS_CONFIG"


def xdist_worker() -> str | None:
    """The pytest-xdist worker this process is ("gw0", "gw1", ...), None when tests run in one process."""
    return os.environ.get("PYTEST_XDIST_WORKER")


def xdist_worker_index() -> int:
    """0, 1, ... for the xdist workers; 0 when tests run in one process."""
    worker = xdist_worker()
    return int(worker.removeprefix("gw")) if worker else 0


def one_process_more_than_cores(at_most: int | None = None) -> int | None:
    """An answer for `pytest_xdist_auto_num_workers` (`-n auto`) where tests mostly wait: a process
    more than cores, at most `at_most`. None when PYTEST_XDIST_AUTO_NUM_WORKERS is set, so that
    pytest-xdist's own hook, which reads it, decides."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    count = (os.cpu_count() or 1) + 1
    return count if at_most is None else min(count, at_most)


def environ_unmeasured() -> dict[str, str]:
    """This process's environment without coverage's measuring of child processes: for a child that
    runs a copy of the project, whose files this session's report does not count (measuring them
    would only cost time: importing the app takes about 0.7 s more CPU under coverage)."""
    return {name: value for name, value in os.environ.items() if name != MEASURE_CHILDREN}


def environ_for_a_nested_session() -> dict[str, str]:
    """This process's environment without what ties it to this session: the Postgres database (a
    nested session empties its database: it gets SQLite), under xdist this worker's identity (a
    nested session runs in one process), and coverage's measuring (a nested session runs a copy of
    the project: `environ_unmeasured`)."""
    return {
        name: value
        for name, value in environ_unmeasured().items()
        if name != "TEST_DATABASE_URL" and not name.startswith("PYTEST_XDIST_")
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
