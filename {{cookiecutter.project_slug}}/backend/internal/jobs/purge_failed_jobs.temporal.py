"""PurgeFailedJobs: every minute, delete failed-jobs entries retried more than 30 days ago.

Periodic through its CONTRACT's schedule: the worker keeps a Temporal Schedule that starts this
workflow (see `internal.jobs.periodic`).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, Field

    from internal.config import Settings
    from internal.jobs.contract import JobContract
    from internal.jobs.runner import JobRunner
    from internal.jobs.schedule import Schedule
    from internal.services.failed_jobs import purge_retried
    from internal.workers.jobs import run_activity, run_job


class PurgeFailedJobsInput(BaseModel):
    older_than_days: float = Field(default=30.0, ge=0)


class PurgeFailedJobsResult(BaseModel):
    deleted: int = 0


CONTRACT = JobContract(
    name="purge_failed_jobs",
    input_model=PurgeFailedJobsInput,
    max_tries=3,
    timeout=120.0,
    retry_after=30.0,
    queue="default",
    schedule=Schedule(every=timedelta(minutes=1), payload={"older_than_days": 30}),
)


def handle(settings: Settings, payload: PurgeFailedJobsInput) -> PurgeFailedJobsResult:
    return PurgeFailedJobsResult(deleted=purge_retried(settings, timedelta(days=payload.older_than_days)))


@activity.defn(name="purge_failed_jobs")
def purge_failed_jobs_activity(payload: PurgeFailedJobsInput) -> PurgeFailedJobsResult:
    return run_activity(CONTRACT, handle, payload)


@workflow.defn(name="PurgeFailedJobsWorkflow")
class PurgeFailedJobsWorkflow:
    @workflow.run
    async def run(self, payload: PurgeFailedJobsInput) -> PurgeFailedJobsResult:
        return await run_job(CONTRACT, purge_failed_jobs_activity, payload)


async def dispatch(runner: JobRunner, payload: PurgeFailedJobsInput) -> None:
    # One purge at a time: a second start while one runs is a no-op.
    await runner.start_job(CONTRACT, PurgeFailedJobsWorkflow.run, payload, key="manual")
