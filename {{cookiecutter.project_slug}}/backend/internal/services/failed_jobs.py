"""The failed-jobs store: record jobs that ran out of tries, list them, mark them retried.

`record_failed_job` is blocking because it is called from job code (worker processes and threads);
the rest is used by the API and the CLI.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from internal.config import Settings
from internal.db.base import utcnow
from internal.db.sync import sync_sessionmaker
from internal.errors import Conflict, NotFound
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


class AlreadyRetried(Conflict):
    def __init__(self, entry: FailedJob) -> None:
        retried_at = entry.retried_at.isoformat() if entry.retried_at else "?"
        super().__init__(f"failed job {entry.id} was already retried (retried_at {retried_at})")


async def list_failed_jobs(
    session: AsyncSession, *, limit: int = 100, job_name: str | None = None, before_id: int | None = None
) -> list[FailedJob]:
    """Newest first (by id, which follows recording order). Keyset pagination: pass the last id of a
    page as `before_id` for the next one; entries recorded meanwhile never shift a page."""
    query = select(FailedJob).order_by(FailedJob.id.desc()).limit(limit)
    if job_name is not None:
        query = query.where(FailedJob.job_name == job_name)
    if before_id is not None:
        query = query.where(FailedJob.id < before_id)
    return list(await session.scalars(query))


async def mark_retried(session: AsyncSession, failed_job_id: int) -> FailedJob:
    """Mark the entry retried, once: a conditional UPDATE, so of two racing requests exactly one
    wins (the other waits on the row lock, then matches nothing) and later ones get `AlreadyRetried`."""
    entry: FailedJob | None = await session.scalar(
        update(FailedJob)
        .where(FailedJob.id == failed_job_id, FailedJob.retried_at.is_(None))
        .values(retried_at=utcnow())
        .returning(FailedJob)
    )
    if entry is not None:
        return entry
    existing = await session.get(FailedJob, failed_job_id)
    if existing is None:
        raise NotFound(f"failed job {failed_job_id} not found")
    raise AlreadyRetried(existing)
