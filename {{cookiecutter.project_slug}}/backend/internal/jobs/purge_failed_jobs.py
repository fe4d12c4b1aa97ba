"""PurgeFailedJobs: delete failed-jobs entries that were retried long ago (run by beat, see
`internal.celery_tasks`). Entries never retried are kept: they still need someone's attention."""

from __future__ import annotations

import logging
from datetime import timedelta

from pydantic import BaseModel, Field
from sqlalchemy import delete

from internal.config import Settings
from internal.db.base import utcnow
from internal.db.sync import sync_sessionmaker
from internal.jobs.contract import JobContract
from internal.jobs.runner import JobRunner, job_task
from internal.models import FailedJob

log = logging.getLogger(__name__)


class PurgeFailedJobsInput(BaseModel):
    older_than_days: float = Field(default=30.0, ge=0)


CONTRACT = JobContract(
    name="purge_failed_jobs",
    input_model=PurgeFailedJobsInput,
    max_tries=3,
    timeout=120.0,
    retry_after=30.0,
    queue="default",
)


def purge_failed_jobs(settings: Settings, older_than: timedelta) -> int:
    """Delete entries retried more than `older_than` ago; return how many were deleted."""
    cutoff = utcnow() - older_than
    with sync_sessionmaker(settings.sync_database_url).begin() as session:
        result = session.execute(
            delete(FailedJob).where(FailedJob.retried_at.is_not(None), FailedJob.retried_at < cutoff)
        )
    deleted = int(result.rowcount or 0)  # type: ignore[attr-defined]
    log.info("purged retried failed jobs", extra={"deleted": deleted, "older_than": str(older_than)})
    return deleted


def handle(settings: Settings, payload: PurgeFailedJobsInput) -> None:
    purge_failed_jobs(settings, timedelta(days=payload.older_than_days))


task = job_task(CONTRACT, handle)


async def dispatch(runner: JobRunner, payload: PurgeFailedJobsInput) -> None:
    await runner.enqueue(task, payload)
