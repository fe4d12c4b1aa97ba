"""The failed-jobs store: record jobs that ran out of tries, list them, mark them retried.

`record_failed_job` is blocking because it is called from job code (worker processes and threads);
the rest is used by the API and the CLI.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from internal.config import Settings
from internal.db.base import utcnow
from internal.db.sync import sync_sessionmaker
from internal.errors import NotFound
from internal.models import FailedJob

log = logging.getLogger(__name__)


def record_failed_job(
    settings: Settings, *, job_name: str, arguments: dict[str, Any], exception: str, attempts: int
) -> int:
    """Store a permanently failed job and return its id."""
    with sync_sessionmaker(settings.sync_database_url).begin() as session:
        entry = FailedJob(job_name=job_name, arguments=arguments, exception=exception, attempts=attempts)
        session.add(entry)
        session.flush()
        log.error(
            "job failed permanently",
            extra={"job": job_name, "failed_job_id": entry.id, "attempts": attempts, "error": exception},
        )
        return entry.id


def purge_retried(settings: Settings, older_than: timedelta) -> int:
    """Delete entries retried more than `older_than` ago; return how many were deleted. Entries never
    retried are kept: they still need someone's attention."""
    cutoff = utcnow() - older_than
    with sync_sessionmaker(settings.sync_database_url).begin() as session:
        result = session.execute(
            delete(FailedJob).where(FailedJob.retried_at.is_not(None), FailedJob.retried_at < cutoff)
        )
    deleted = int(result.rowcount or 0)  # type: ignore[attr-defined]
    log.info("purged retried failed jobs", extra={"deleted": deleted, "older_than": str(older_than)})
    return deleted


async def list_failed_jobs(session: AsyncSession, *, limit: int = 100) -> list[FailedJob]:
    """Newest first."""
    rows = await session.scalars(
        select(FailedJob).order_by(FailedJob.failed_at.desc(), FailedJob.id.desc()).limit(limit)
    )
    return list(rows)


async def mark_retried(session: AsyncSession, failed_job_id: int) -> FailedJob:
    entry = await session.get(FailedJob, failed_job_id)
    if entry is None:
        raise NotFound(f"failed job {failed_job_id} not found")
    entry.retried_at = utcnow()
    return entry
