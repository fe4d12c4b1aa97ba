"""PurgeFailedJobs (`internal.jobs.failed_jobs_retention`) in process; the API's scheduler runs it
on the contract's schedule (see `internal.jobs.periodic`)."""

from __future__ import annotations

from internal.config import Settings
from internal.jobs.failed_jobs_retention import PURGE_FAILED_JOBS, PurgeFailedJobsInput, purge
from internal.jobs.runner import JobRunner

CONTRACT = PURGE_FAILED_JOBS


def handle(settings: Settings, payload: PurgeFailedJobsInput) -> None:
    purge(settings, payload)


async def dispatch(runner: JobRunner, payload: PurgeFailedJobsInput) -> None:
    runner.submit(CONTRACT, handle, payload)
