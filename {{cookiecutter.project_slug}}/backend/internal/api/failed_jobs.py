"""The failed-jobs store over HTTP, admins only: list entries, dispatch one again (once)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from internal.api.deps import RequireAdmin, UnitOfWorkDep
from internal.jobs import outbox, registry
from internal.schemas import FailedJobRead, RetryAccepted
from internal.services import failed_jobs

router = APIRouter(prefix="/jobs/failed", tags=["jobs"], dependencies=[RequireAdmin])


@router.get("")
async def list_failed_jobs(
    uow: UnitOfWorkDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
    job_name: Annotated[str | None, Query(max_length=200, description="only this job's entries")] = None,
    before_id: Annotated[
        int | None, Query(ge=1, description="next page: the last id of the previous page")
    ] = None,
) -> list[FailedJobRead]:
    """Newest first, at most `limit`; page on with `before_id` = the last id received."""
    entries = await failed_jobs.list_failed_jobs(
        uow.session, limit=limit, job_name=job_name, before_id=before_id
    )
    return [FailedJobRead.model_validate(entry) for entry in entries]


@router.post("/{failed_job_id}/retry", status_code=status.HTTP_202_ACCEPTED)
async def retry_failed_job(failed_job_id: int, uow: UnitOfWorkDep) -> RetryAccepted:
    """Mark the entry retried and dispatch its job again, once: a later or concurrent retry is a 409."""
    entry = await failed_jobs.mark_retried(uow.session, failed_job_id)
    contract, payload = registry.resolve(entry.job_name, entry.arguments)
    outbox.dispatch(uow, contract, payload)
    return RetryAccepted(id=entry.id, job_name=entry.job_name)
