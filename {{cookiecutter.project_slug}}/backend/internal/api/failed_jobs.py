"""The failed-jobs store over HTTP: list entries, dispatch one again."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from internal.api.deps import UnitOfWorkDep
from internal.jobs import outbox, registry
from internal.schemas import FailedJobRead, RetryAccepted
from internal.services import failed_jobs

router = APIRouter(prefix="/jobs/failed", tags=["jobs"])


@router.get("")
async def list_failed_jobs(
    uow: UnitOfWorkDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[FailedJobRead]:
    """Newest first."""
    return [
        FailedJobRead.model_validate(entry)
        for entry in await failed_jobs.list_failed_jobs(uow.session, limit=limit)
    ]


@router.post("/{failed_job_id}/retry", status_code=status.HTTP_202_ACCEPTED)
async def retry_failed_job(failed_job_id: int, uow: UnitOfWorkDep) -> RetryAccepted:
    """Mark the entry retried and dispatch the job again with its stored arguments."""
    entry = await failed_jobs.mark_retried(uow.session, failed_job_id)
    contract, payload = registry.resolve(entry.job_name, entry.arguments)
    outbox.dispatch(uow, contract, payload)
    return RetryAccepted(id=entry.id, job_name=entry.job_name)
