"""PurgeFailedJobs (`internal.jobs.failed_jobs_retention`) as a Celery task; beat sends it on the
contract's schedule (see `internal.jobs.periodic`)."""

from __future__ import annotations

from internal.config import Settings
from internal.jobs.failed_jobs_retention import PURGE_FAILED_JOBS, PurgeFailedJobsInput, purge
from internal.jobs.runner import JobRunner, job_task

CONTRACT = PURGE_FAILED_JOBS


def handle(settings: Settings, payload: PurgeFailedJobsInput) -> None:
    purge(settings, payload)


task = job_task(CONTRACT, handle)


async def dispatch(runner: JobRunner, payload: PurgeFailedJobsInput) -> None:
    await runner.enqueue(task, payload)
