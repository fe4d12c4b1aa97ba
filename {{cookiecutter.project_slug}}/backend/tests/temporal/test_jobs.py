"""The job contract on Temporal: bounded retries, permanent errors, timeouts, the failed-jobs store,
and the start semantics (duplicate start is a no-op; a failed run's id starts a new run)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.worker import Worker

from internal.config import Settings
from internal.jobs.contract import JobContract
from internal.jobs.runner import JobRunner, task_queue
from internal.models import FailedJob
from internal.workers.activities import record_failed_job
from internal.workers.jobs import RECORD_FAILURE_RETRY, retry_policy
from internal.workers.main import workflow_runner
from tests.support import eventually
from tests.temporal import jobs_under_test
from tests.temporal.helpers import all_rows
from tests.temporal.jobs_under_test import ScriptedInput, ScriptedWorkflow

QUEUE = "scripted"


@pytest.fixture
async def runner(settings: Settings, job_worker: Client) -> AsyncIterator[JobRunner]:
    """A runner, and a worker for the scripted job on its own task queue."""
    with ThreadPoolExecutor(max_workers=4) as executor:
        worker = Worker(
            job_worker,
            task_queue=task_queue(settings, QUEUE),
            workflows=[ScriptedWorkflow],
            activities=[jobs_under_test.scripted, record_failed_job],
            activity_executor=executor,
            workflow_runner=workflow_runner(strict=True),
        )
        async with worker:
            instance = JobRunner(settings)
            await instance.start()
            yield instance
            await instance.close()


async def first_failed_job(settings: Settings) -> FailedJob | None:
    entries = all_rows(settings, FailedJob)
    return entries[0] if entries else None


def key() -> str:
    return uuid.uuid4().hex


async def run(runner: JobRunner, payload: ScriptedInput) -> object:
    handle = await runner.start_workflow(
        ScriptedWorkflow.run, payload, workflow_id=f"scripted-{payload.key}", queue=QUEUE
    )
    assert handle is not None
    return await handle.result()


def test_retry_policy_is_bounded_and_exponential() -> None:
    contract = JobContract(name="x", input_model=ScriptedInput, max_tries=4, retry_after=3, max_backoff=60)
    policy = retry_policy(contract)
    assert policy.maximum_attempts == 4
    assert policy.initial_interval.total_seconds() == 3
    assert policy.backoff_coefficient == 2.0
    assert policy.maximum_interval is not None
    assert policy.maximum_interval.total_seconds() == 60
    assert {"PermanentJobError", "MailRejected"} <= set(policy.non_retryable_error_types or [])


def test_recording_a_failed_job_is_retried_until_the_database_takes_it() -> None:
    # A workflow that gave up recording would end with the job in no store: no attempt limit.
    assert RECORD_FAILURE_RETRY.maximum_attempts == 0
    assert RECORD_FAILURE_RETRY.maximum_interval is not None
    assert RECORD_FAILURE_RETRY.maximum_interval.total_seconds() <= 15


async def test_transient_failures_are_retried_until_success(runner: JobRunner, settings: Settings) -> None:
    payload = ScriptedInput(key=key(), failures=2)
    result = await run(runner, payload)
    assert result == jobs_under_test.ScriptedResult(calls=3)
    assert all_rows(settings, FailedJob) == []


async def test_exhausted_tries_land_in_the_store_and_fail_the_run(
    runner: JobRunner, settings: Settings
) -> None:
    payload = ScriptedInput(key=key(), failures=99)
    with pytest.raises(WorkflowFailureError):
        await run(runner, payload)
    [entry] = all_rows(settings, FailedJob)
    assert (entry.job_name, entry.arguments["key"], entry.attempts) == ("scripted", payload.key, 3)
    assert "ConnectionError" in entry.exception
    assert jobs_under_test.calls(payload.key) == 3


async def test_permanent_error_is_tried_once(runner: JobRunner, settings: Settings) -> None:
    payload = ScriptedInput(key=key(), permanent=True)
    with pytest.raises(WorkflowFailureError):
        await run(runner, payload)
    [entry] = all_rows(settings, FailedJob)
    assert entry.attempts == 1
    assert "PermanentJobError: bad input" in entry.exception
    assert jobs_under_test.calls(payload.key) == 1


async def test_a_try_over_the_timeout_counts_as_failed(runner: JobRunner, settings: Settings) -> None:
    payload = ScriptedInput(key=key(), sleep_seconds=1.8)
    with pytest.raises(WorkflowFailureError):
        await run(runner, payload)
    [entry] = all_rows(settings, FailedJob)
    assert entry.attempts == 3
    assert "Timeout" in entry.exception


async def test_duplicate_start_while_running_is_a_no_op(runner: JobRunner) -> None:
    payload = ScriptedInput(key=key(), sleep_seconds=0.6)  # under FAST.timeout (1.5 s)
    first = await runner.start_workflow(
        ScriptedWorkflow.run, payload, workflow_id=f"s-{payload.key}", queue=QUEUE
    )
    second = await runner.start_workflow(
        ScriptedWorkflow.run, payload, workflow_id=f"s-{payload.key}", queue=QUEUE
    )
    assert first is not None
    assert second is None
    assert await first.result() == jobs_under_test.ScriptedResult(calls=1)
    # The refused start's follow-up sees the run complete and starts nothing.
    await runner.drain()
    assert jobs_under_test.calls(payload.key) == 1


async def test_a_refused_start_returns_while_the_running_run_is_still_running(runner: JobRunner) -> None:
    payload = ScriptedInput(key=key(), sleep_seconds=0.9)  # under FAST.timeout (1.5 s)
    workflow_id = f"s-{payload.key}"
    first = await runner.start_workflow(ScriptedWorkflow.run, payload, workflow_id=workflow_id, queue=QUEUE)
    assert first is not None
    assert (
        await runner.start_workflow(ScriptedWorkflow.run, payload, workflow_id=workflow_id, queue=QUEUE)
        is None
    )
    assert (await first.describe()).status == WorkflowExecutionStatus.RUNNING
    await runner.drain()


async def test_a_failed_runs_id_starts_a_new_run_even_right_away(
    runner: JobRunner, settings: Settings
) -> None:
    payload = ScriptedInput(key=key(), permanent=True)
    workflow_id = f"s-{payload.key}"
    first = await runner.start_workflow(ScriptedWorkflow.run, payload, workflow_id=workflow_id, queue=QUEUE)
    assert first is not None
    # No wait for the first run to close: a retry from the store may race with it.
    await eventually(lambda: first_failed_job(settings))
    await runner.start_workflow(ScriptedWorkflow.run, payload, workflow_id=workflow_id, queue=QUEUE)
    await runner.drain()
    second = runner.client.get_workflow_handle(workflow_id)
    assert (await second.describe()).run_id != first.result_run_id
    with pytest.raises(WorkflowFailureError):
        await second.result()
    assert jobs_under_test.calls(payload.key) == 2
