"""PurgeFailedJobs: every minute, delete failed-jobs entries retried more than 30 days ago.

Periodic through its CONTRACT's schedule: the API's in-process scheduler runs it (see
`internal.jobs.periodic`).
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field

from internal.config import Settings
from internal.jobs.contract import JobContract
from internal.jobs.runner import JobRunner
from internal.jobs.schedule import Schedule
from internal.services.failed_jobs import purge_retried


class PurgeFailedJobsInput(BaseModel):
    older_than_days: float = Field(default=30.0, ge=0)


CONTRACT = JobContract(
    name="purge_failed_jobs",
    input_model=PurgeFailedJobsInput,
    max_tries=3,
    timeout=120.0,
    retry_after=30.0,
    queue="default",
    schedule=Schedule(every=timedelta(minutes=1), payload={"older_than_days": 30}),
)


def handle(settings: Settings, payload: PurgeFailedJobsInput) -> None:
    purge_retried(settings, timedelta(days=payload.older_than_days))


async def dispatch(runner: JobRunner, payload: PurgeFailedJobsInput) -> None:
    runner.submit(CONTRACT, handle, payload)
