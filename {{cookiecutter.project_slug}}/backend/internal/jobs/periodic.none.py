"""Periodic jobs in the API process: a scheduler started by the FastAPI lifespan (`api_scheduler`).

Each job whose contract declares a `schedule` has a row in `job_schedules` saying when it is next
due. Every second each API replica looks for due rows and claims one by moving its `next_run_at`
on with a conditional UPDATE (`WHERE next_run_at = <the time it read>`): the database lets exactly
one replica's update through, so each due run fires once however many replicas run. SQLite (a dev
setup) has one process and the same rule.

Missed runs: a row whose time passed while no API was running is claimed at start, once, and moved
to the next time after now, so at most one missed run is caught up. A new or changed declaration
starts from the next time after now. Runs are handed to the in-process runner and not waited for:
a run that outlasts its interval may overlap the next one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import anyio.to_thread
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from internal.config import Settings
from internal.db.base import utcnow
from internal.db.sync import sync_sessionmaker
from internal.jobs import registry
from internal.jobs.contract import JobContract
from internal.jobs.runner import JobRunner
from internal.models import JobSchedule

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0


def claim_due(
    settings: Settings, contracts: Sequence[JobContract[Any]], now: datetime
) -> list[datetime | None]:
    """The due time this call claimed for each contract (`None`: nothing due, or another replica
    claimed it), in one transaction. Missing rows, and rows computed from another declaration,
    are set to the first time after `now`."""
    claimed: list[datetime | None] = [None] * len(contracts)
    names = [contract.name for contract in contracts]
    try:
        with sync_sessionmaker(settings.sync_database_url).begin() as session:
            stored = session.scalars(select(JobSchedule).where(JobSchedule.job_name.in_(names)))
            rows = {row.job_name: row for row in stored}
            for index, contract in enumerate(contracts):
                assert contract.schedule is not None
                fingerprint = contract.schedule.fingerprint()
                following = contract.schedule.next_after(now)
                row = rows.get(contract.name)
                if row is None:
                    session.add(
                        JobSchedule(job_name=contract.name, fingerprint=fingerprint, next_run_at=following)
                    )
                elif row.fingerprint != fingerprint:
                    row.fingerprint, row.next_run_at = fingerprint, following
                elif row.next_run_at <= now:
                    moved = session.execute(
                        update(JobSchedule)
                        .where(
                            JobSchedule.job_name == contract.name, JobSchedule.next_run_at == row.next_run_at
                        )
                        .values(next_run_at=following, last_run_at=now)
                        .execution_options(synchronize_session=False)
                    )
                    if moved.rowcount == 1:  # type: ignore[attr-defined]
                        claimed[index] = row.next_run_at
    except IntegrityError:
        # Another replica inserted the same new row at the same moment; its row stands.
        return [None] * len(contracts)
    return claimed


class Scheduler:
    """Claims due runs every `poll_seconds` and dispatches them to the API's job runner."""

    def __init__(
        self, runner: JobRunner, contracts: Sequence[JobContract[Any]], poll_seconds: float = POLL_SECONDS
    ) -> None:
        self.runner = runner
        self.contracts = list(contracts)
        self.poll_seconds = poll_seconds
        self._last_error = ""

    async def tick(self, now: datetime | None = None) -> list[tuple[str, datetime]]:
        """Claim and dispatch what is due at `now`; return the (job, due time) pairs it fired."""
        settings, moment = self.runner.settings, now or utcnow()
        claimed = await anyio.to_thread.run_sync(lambda: claim_due(settings, self.contracts, moment))
        fired: list[tuple[str, datetime]] = []
        for contract, due in zip(self.contracts, claimed, strict=True):
            if due is None:
                continue
            log.info("periodic job due", extra={"job": contract.name, "due": due.isoformat()})
            await registry.dispatch(self.runner, contract, contract.scheduled_payload())
            fired.append((contract.name, due))
        return fired

    async def run(self) -> None:
        """Tick until cancelled; a failing tick (database down, table not migrated) is logged once
        per distinct error and tried again."""
        while True:
            try:
                await self.tick()
                self._last_error = ""
            except Exception as exc:
                if repr(exc) != self._last_error:
                    log.warning("periodic jobs: could not check the schedules", extra={"error": repr(exc)})
                self._last_error = repr(exc)
            await asyncio.sleep(self.poll_seconds)


@asynccontextmanager
async def api_scheduler(runner: JobRunner) -> AsyncIterator[None]:
    """Run the scheduler for the API's lifetime (when any job declares a schedule)."""
    contracts = registry.periodic_contracts()
    if not contracts:
        yield
        return
    task = asyncio.create_task(Scheduler(runner, contracts).run(), name="periodic-jobs")
    log.info("periodic jobs scheduled", extra={"jobs": [contract.name for contract in contracts]})
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
