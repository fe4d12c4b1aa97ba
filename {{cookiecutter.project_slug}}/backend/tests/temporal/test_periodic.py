"""Periodic jobs as Temporal Schedules (`internal.jobs.periodic`): the worker creates, updates and
deletes them to match the declarations; a run every second happens repeatedly; runs never overlap,
so a worker that was down finds one run waiting, not one per missed second.

The job is the shipped purge, declared with other schedules where a test needs them.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import timedelta

import pytest
from temporalio.client import Client, ScheduleActionExecutionStartWorkflow, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from internal.config import Settings, use_settings
from internal.jobs.periodic import PeriodicJob, periodic_jobs, schedule_id, sync_schedules
from internal.jobs.purge_failed_jobs import CONTRACT as PURGE
from internal.jobs.schedule import Schedule
from internal.workers.main import ACTIVITY_THREADS, build_workers, run
from tests.support import eventually

pytestmark = pytest.mark.usefixtures("schedules_removed")


def purge_every(schedule: Schedule) -> PeriodicJob:
    return PeriodicJob(replace(PURGE, schedule=schedule), "PurgeFailedJobsWorkflow")


async def completed_runs(client: Client, sid: str) -> int:
    description = await client.get_schedule_handle(sid).describe()
    done = 0
    for result in description.info.recent_actions:
        action = result.action
        assert isinstance(action, ScheduleActionExecutionStartWorkflow)
        run_description = await client.get_workflow_handle(action.workflow_id).describe()
        done += run_description.status == WorkflowExecutionStatus.COMPLETED
    return done


def test_the_shipped_purge_is_periodic() -> None:
    assert purge_every(PURGE.schedule) in periodic_jobs()  # type: ignore[arg-type]


async def test_the_worker_creates_the_schedules_when_it_starts(
    settings: Settings, job_worker: Client
) -> None:
    stop = asyncio.Event()
    worker = asyncio.create_task(run(settings, stop))
    try:

        async def created() -> str | None:
            try:
                description = await job_worker.get_schedule_handle(
                    schedule_id(settings, PURGE.name)
                ).describe()
            except RPCError:
                return None
            return description.schedule.state.note

        assert await eventually(created, within=30) == PURGE.schedule.fingerprint()  # type: ignore[union-attr]
    finally:
        stop.set()
        await asyncio.wait_for(worker, timeout=30)


async def test_a_job_scheduled_every_second_runs_repeatedly(settings: Settings, job_worker: Client) -> None:
    job = purge_every(Schedule(every=timedelta(seconds=1)))
    await sync_schedules(job_worker, settings, [job])
    sid = schedule_id(settings, PURGE.name)

    async def three_completed() -> int | None:
        done = await completed_runs(job_worker, sid)
        return done if done >= 3 else None

    await eventually(three_completed, within=60)


async def test_a_changed_declaration_updates_the_schedule_and_a_dropped_one_deletes_it(
    settings: Settings, job_worker: Client
) -> None:
    hourly, daily = purge_every(Schedule(every=timedelta(hours=1))), purge_every(Schedule(cron="0 3 * * *"))
    sid = schedule_id(settings, PURGE.name)
    assert await sync_schedules(job_worker, settings, [hourly]) == {sid: "created"}
    assert await sync_schedules(job_worker, settings, [hourly]) == {sid: "unchanged"}
    assert await sync_schedules(job_worker, settings, [daily]) == {sid: "updated"}
    description = await job_worker.get_schedule_handle(sid).describe()
    assert description.schedule.state.note == daily.contract.schedule.fingerprint()  # type: ignore[union-attr]
    assert description.schedule.spec.intervals == []
    assert [moment.hour for moment in description.info.next_action_times[:2]] == [3, 3]
    assert await sync_schedules(job_worker, settings, []) == {sid: "deleted"}
    with pytest.raises(RPCError) as gone:
        await job_worker.get_schedule_handle(sid).describe()
    assert gone.value.status == RPCStatusCode.NOT_FOUND


async def test_while_no_worker_runs_one_run_waits_and_the_others_are_skipped(
    settings: Settings, job_worker: Client
) -> None:
    """The catch-up rule: however many runs fell due meanwhile, a returning worker runs one."""
    unpolled = settings.model_copy(update={"temporal_task_queue": "tests-no-worker-yet"})
    sid = schedule_id(unpolled, PURGE.name)
    await sync_schedules(job_worker, unpolled, [purge_every(Schedule(every=timedelta(seconds=1)))])
    try:

        async def skipped_three() -> int | None:
            info = (await job_worker.get_schedule_handle(sid).describe()).info
            return info.num_actions if info.num_actions_skipped_overlap >= 3 else None

        assert await eventually(skipped_three, within=60) == 1
        await job_worker.get_schedule_handle(sid).pause()
        with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS) as executor:
            async with AsyncExitStack() as stack:
                for worker in build_workers(job_worker, unpolled, executor, strict=True):
                    await stack.enter_async_context(worker)

                async def one_completed() -> int | None:
                    return await completed_runs(job_worker, sid) or None

                assert await eventually(one_completed, within=60) == 1
    finally:
        use_settings(settings)
        await sync_schedules(job_worker, unpolled, [])
