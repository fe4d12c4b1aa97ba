"""`lich jobs failed` and `lich jobs retry`: the failed-jobs store, through the same service code
as the HTTP endpoints (`internal.services.failed_jobs`, `internal.jobs.registry`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from internal.config import Settings
from internal.db.session import UnitOfWork, create_engine_for, create_sessionmaker
from internal.errors import DomainError
from internal.jobs import registry
from internal.lich import handover
from internal.lich.errors import LichError
from internal.models import FailedJob
from internal.services import failed_jobs

ERROR_WIDTH = 60


@asynccontextmanager
async def unit_of_work(settings: Settings) -> AsyncIterator[UnitOfWork]:
    """One unit of work on the project's database; database errors become one-line CLI errors."""
    engine = create_engine_for(settings.database_url)
    try:
        async with UnitOfWork.run(create_sessionmaker(engine)) as uow:
            yield uow
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise LichError(
            f"cannot use the database ({reason}); is it up and migrated (`make migrate`)?"
        ) from exc
    finally:
        await engine.dispose()


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def format_table(entries: Sequence[FailedJob]) -> str:
    """The entries as an aligned text table (times in UTC)."""
    header = ("ID", "JOB", "ATTEMPTS", "FAILED AT (UTC)", "RETRIED AT (UTC)", "ERROR")
    rows = [
        (
            str(entry.id),
            entry.job_name,
            str(entry.attempts),
            _when(entry.failed_at),
            _when(entry.retried_at),
            _one_line(entry.exception, ERROR_WIDTH),
        )
        for entry in entries
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]]).rstrip()
        for row in [header, *rows]
    )


async def list_entries(settings: Settings, *, limit: int) -> list[FailedJob]:
    async with unit_of_work(settings) as uow:
        return await failed_jobs.list_failed_jobs(uow.session, limit=limit)


async def _last_id(settings: Settings) -> int:
    async with unit_of_work(settings) as uow:
        return int(await uow.session.scalar(select(func.coalesce(func.max(FailedJob.id), 0))) or 0)


async def retry(settings: Settings, failed_job_id: int) -> str:
    """Mark the entry retried and hand the job to the runner again; raise if it failed again."""
    before = await _last_id(settings)
    outcome: list[str] = []
    try:
        async with unit_of_work(settings) as uow:
            entry = await failed_jobs.mark_retried(uow.session, failed_job_id)
            contract, payload = registry.resolve(entry.job_name, entry.arguments)

            async def hand_over() -> None:
                outcome.append(await handover.hand_over(settings, contract, payload))

            uow.after_commit(hand_over)
    except DomainError as exc:
        raise LichError(exc.detail) from exc
    async with unit_of_work(settings) as uow:
        again = await uow.session.scalar(
            select(FailedJob)
            .where(FailedJob.id > before, FailedJob.job_name == contract.name)
            .order_by(FailedJob.id.desc())
            .limit(1)
        )
    if again is not None:
        raise LichError(
            f"job {contract.name} (failed job {failed_job_id}) failed again and was recorded as failed "
            f"job {again.id}: {_one_line(again.exception, 200)}"
        )
    return f"failed job {failed_job_id} ({contract.name}): {outcome[0] if outcome else 'dispatched'}"
