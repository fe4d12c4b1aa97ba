"""The failed-jobs store over HTTP, admins only: list entries, dispatch one again (once)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from internal.api.deps import RequireAdmin, UnitOfWorkDep
from internal.fields import Id, Text
from internal.jobs import outbox, registry
from internal.schemas import FailedJobRead, RetryAccepted, documented
from internal.services import failed_jobs

router = APIRouter(prefix="/jobs/failed", tags=["jobs"], dependencies=[RequireAdmin])


@router.get("")
async def list_failed_jobs(
    request: Request,
    uow: UnitOfWorkDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
    job_name: Annotated[Text | None, Query(max_length=200, description="only this job's entries")] = None,
    before_id: Annotated[Id | None, Query(description="next page: the last id of the previous page")] = None,
) -> list[FailedJobRead]:
    """Newest first, at most `limit`; page on with `before_id` = the last id received. In production
    an entry's error is only its type: the stored text (hosts, ports) stays in the database and the
    worker's log."""
    entries = [
        FailedJobRead.model_validate(entry)
        for entry in await failed_jobs.list_failed_jobs(
            uow.session, limit=limit, job_name=job_name, before_id=before_id
        )
    ]
    if request.app.state.settings.environment == "production":
        entries = [entry.model_copy(update={"exception": error_type(entry.exception)}) for entry in entries]
    return entries


def error_type(stored: str) -> str:
    """``ConnectionRefusedError(111, 'Connect call failed ...')`` -> ``ConnectionRefusedError``."""
    match = re.match(r"[A-Za-z_][A-Za-z0-9_.]*", stored)
    return f"{match.group(0) if match else 'Error'} (full error in the logs)"


@router.post("/{failed_job_id}/retry", status_code=status.HTTP_202_ACCEPTED, responses=documented(404, 409))
async def retry_failed_job(failed_job_id: Id, uow: UnitOfWorkDep) -> RetryAccepted:
    """Mark the entry retried and dispatch its job again, once: a later or concurrent retry is a 409."""
    entry = await failed_jobs.mark_retried(uow.session, failed_job_id)
    contract, payload = registry.resolve(entry.job_name, entry.arguments)
    outbox.dispatch(uow, contract, payload)
    return RetryAccepted(id=entry.id, job_name=entry.job_name)
