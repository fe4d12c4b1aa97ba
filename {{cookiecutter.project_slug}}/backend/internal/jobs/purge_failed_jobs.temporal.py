"""PurgeFailedJobs (`internal.jobs.failed_jobs_retention`) as a workflow running one activity; the
worker keeps a Temporal Schedule that starts it on the contract's schedule (see
`internal.jobs.periodic`)."""

from __future__ import annotations

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from internal.config import Settings
    from internal.jobs.failed_jobs_retention import PURGE_FAILED_JOBS, PurgeFailedJobsInput, purge
    from internal.jobs.runner import JobRunner
    from internal.workers.jobs import run_activity, run_job

CONTRACT = PURGE_FAILED_JOBS


class PurgeFailedJobsResult(BaseModel):
    deleted: int = 0


def handle(settings: Settings, payload: PurgeFailedJobsInput) -> PurgeFailedJobsResult:
    return PurgeFailedJobsResult(deleted=purge(settings, payload))


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
