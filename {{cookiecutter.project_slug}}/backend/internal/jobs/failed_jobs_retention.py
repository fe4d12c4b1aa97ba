"""How long retried failed-jobs entries are kept: the purge's input, contract and schedule, the same
on every runner. `internal.jobs.purge_failed_jobs` makes it the runner's job."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field

from internal.config import Settings
from internal.jobs.contract import JobContract
from internal.jobs.schedule import Schedule
from internal.services.failed_jobs import purge_retried


class PurgeFailedJobsInput(BaseModel):
    older_than_days: float = Field(default=30.0, ge=0)


# Every minute, entries retried more than 30 days ago go; entries never retried are kept.
PURGE_FAILED_JOBS = JobContract(
    name="purge_failed_jobs",
    input_model=PurgeFailedJobsInput,
    max_tries=3,
    timeout=120.0,
    retry_after=30.0,
    queue="default",
    schedule=Schedule(every=timedelta(minutes=1), payload={"older_than_days": 30}),
)


def purge(settings: Settings, payload: PurgeFailedJobsInput) -> int:
    """Delete the entries the payload says are old enough; return how many."""
    return purge_retried(settings, timedelta(days=payload.older_than_days))
