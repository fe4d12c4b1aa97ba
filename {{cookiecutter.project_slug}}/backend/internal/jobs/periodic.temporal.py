"""Periodic jobs on Temporal: one Temporal Schedule per job whose contract declares a `schedule`.

The worker calls `sync_schedules` when it starts: a declared schedule that does not exist yet is
created, one whose declaration changed (its note holds `Schedule.fingerprint`) is updated, and a
schedule of this task queue whose job no longer declares one is deleted. Each Schedule starts the
job's workflow with the declared payload, on the job's task queue.

Overlap policy SKIP: while a run is still going (or waits for a worker), the Schedule starts no
other, so two runs never overlap. Missed runs: after the server was down, Temporal catches up
runs missed within `CATCHUP_WINDOW`; the first starts and SKIP drops the rest, so at most one
missed run is caught up. A worker that was down likewise finds at most one run waiting for it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from internal.config import Settings
from internal.jobs import registry
from internal.jobs.contract import JobContract
from internal.jobs.runner import JobRunner, task_queue

log = logging.getLogger(__name__)

CATCHUP_WINDOW = timedelta(days=365)


@dataclass(frozen=True)
class PeriodicJob:
    contract: JobContract[Any]
    workflow: str  # the workflow type the Schedule starts


def job_workflow(contract: JobContract[Any], module_name: str) -> str:
    """The one workflow type defined in the job's module."""
    module = sys.modules[module_name]
    names = [
        definition.name
        for obj in vars(module).values()
        if isinstance(obj, type)
        and obj.__module__ == module_name
        and (definition := getattr(obj, "__temporal_workflow_definition", None)) is not None
    ]
    if len(names) != 1:
        raise RuntimeError(
            f"job {contract.name} declares a schedule, so {module_name} must define exactly one "
            f"workflow for it to start; found {names or 'none'}"
        )
    return str(names[0])


def periodic_jobs() -> list[PeriodicJob]:
    """Every job whose contract declares a schedule, with its workflow type."""
    return [
        PeriodicJob(contract, job_workflow(contract, dispatch.__module__))
        for contract, dispatch in registry.job_modules().values()
        if contract.schedule is not None
    ]


def schedule_prefix(settings: Settings) -> str:
    """Schedules of this project's task queue (a namespace may hold other projects')."""
    return f"{settings.temporal_task_queue}.periodic."


def schedule_id(settings: Settings, job_name: str) -> str:
    return f"{schedule_prefix(settings)}{job_name}"


def temporal_schedule(job: PeriodicJob, settings: Settings) -> Schedule:
    declared = job.contract.schedule
    assert declared is not None
    if declared.cron is not None:
        spec = ScheduleSpec(cron_expressions=[declared.cron])
    else:
        assert declared.every is not None
        spec = ScheduleSpec(intervals=[ScheduleIntervalSpec(every=declared.every)])
    return Schedule(
        action=ScheduleActionStartWorkflow(
            job.workflow,
            job.contract.scheduled_payload(),
            id=f"{job.contract.name.replace('_', '-')}-scheduled",
            task_queue=task_queue(settings, job.contract.queue),
        ),
        spec=spec,
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=CATCHUP_WINDOW),
        state=ScheduleState(note=declared.fingerprint()),
    )


async def _current_note(client: Client, schedule_id: str) -> str | None:
    """The note of an existing schedule (`""` when it has none), or None when it does not exist."""
    try:
        description = await client.get_schedule_handle(schedule_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return description.schedule.state.note or ""


async def sync_schedules(
    client: Client, settings: Settings, jobs: Sequence[PeriodicJob] | None = None
) -> dict[str, str]:
    """Make this task queue's Schedules match the declarations; return {schedule id: what was done}."""
    wanted = {
        schedule_id(settings, job.contract.name): job for job in (periodic_jobs() if jobs is None else jobs)
    }
    done: dict[str, str] = {}
    for sid, job in wanted.items():
        desired = temporal_schedule(job, settings)
        note = await _current_note(client, sid)
        if note is None:
            try:
                await client.create_schedule(sid, desired)
                done[sid] = "created"
                continue
            except ScheduleAlreadyRunningError:
                note = await _current_note(client, sid)  # another worker created it just now
        if note == desired.state.note:
            done[sid] = "unchanged"
            continue

        def replace(_: ScheduleUpdateInput, schedule: Schedule = desired) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(sid).update(replace)
        done[sid] = "updated"
    prefix = schedule_prefix(settings)
    async for listed in await client.list_schedules():
        if listed.id.startswith(prefix) and listed.id not in wanted:
            try:
                await client.get_schedule_handle(listed.id).delete()
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
                continue  # another worker starting at the same time deleted it first
            done[listed.id] = "deleted"
    log.info("periodic jobs scheduled on Temporal", extra={"schedules": done})
    return done


@asynccontextmanager
async def api_scheduler(runner: JobRunner) -> AsyncIterator[None]:
    """Nothing to run in the API process: Temporal Schedules start periodic jobs."""
    yield
