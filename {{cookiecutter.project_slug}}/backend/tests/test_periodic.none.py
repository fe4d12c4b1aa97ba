"""The in-process scheduler (`internal.jobs.periodic`): due runs fire on time, once each however many
API replicas look, and a run missed while no API was up is caught up once.

The job is the shipped purge, declared here with a one-second interval (its registered dispatch is
the real one); "replicas" are schedulers with runners of their own, racing on the real database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from internal.config import Settings
from internal.db.base import utcnow
from internal.db.sync import sync_sessionmaker
from internal.jobs.periodic import Scheduler
from internal.jobs.purge_failed_jobs import CONTRACT as PURGE
from internal.jobs.runner import JobRunner
from internal.jobs.schedule import Schedule
from internal.models import JobSchedule
from tests.support import api_client, eventually

EVERY_SECOND = replace(PURGE, schedule=Schedule(every=timedelta(seconds=1)))


def purges(caplog: pytest.LogCaptureFixture) -> int:
    return sum(record.getMessage() == "purged retried failed jobs" for record in caplog.records)


def stored(settings: Settings) -> JobSchedule:
    with sync_sessionmaker(settings.sync_database_url)() as session:
        return session.scalars(select(JobSchedule).where(JobSchedule.job_name == PURGE.name)).one()


@pytest.fixture
async def runners(settings: Settings) -> AsyncIterator[list[JobRunner]]:
    started = [JobRunner(settings), JobRunner(settings)]
    for runner in started:
        await runner.start()
    yield started
    for runner in started:
        await runner.join()
        await runner.close()


async def test_a_job_due_every_second_runs_repeatedly(
    runners: list[JobRunner], caplog: pytest.LogCaptureFixture
) -> None:
    scheduler = asyncio.create_task(Scheduler(runners[0], [EVERY_SECOND], poll_seconds=0.2).run())
    try:
        with caplog.at_level(logging.INFO):

            async def three_runs() -> int | None:
                return purges(caplog) if purges(caplog) >= 3 else None

            await eventually(three_runs, within=30)
    finally:
        scheduler.cancel()
        await asyncio.gather(scheduler, return_exceptions=True)


async def test_two_replicas_fire_each_due_run_once(runners: list[JobRunner]) -> None:
    first, second = (Scheduler(runner, [EVERY_SECOND]) for runner in runners)
    start = utcnow()
    assert await first.tick(start) == []  # the row is created: next run at the next second
    fired = []
    for due in [EVERY_SECOND.schedule.next_after(start + timedelta(seconds=n)) for n in range(10)]:  # type: ignore[union-attr]
        together = await asyncio.gather(first.tick(due), second.tick(due))
        fired.append([run for runs in together for run in runs])
    assert all(runs == [(PURGE.name, runs[0][1])] for runs in fired), fired


async def test_a_run_missed_while_down_is_caught_up_once_at_start(
    settings: Settings, runners: list[JobRunner]
) -> None:
    scheduler = Scheduler(runners[0], [EVERY_SECOND])
    now = utcnow()
    await scheduler.tick(now)
    long_ago = now - timedelta(hours=3)  # ~10,800 due times passed while "down"
    with sync_sessionmaker(settings.sync_database_url).begin() as session:
        session.execute(update(JobSchedule).values(next_run_at=long_ago))
    assert await scheduler.tick(now) == [(PURGE.name, long_ago)]
    assert await scheduler.tick(now) == []
    assert stored(settings).next_run_at == EVERY_SECOND.schedule.next_after(now)  # type: ignore[union-attr]


async def test_a_changed_declaration_starts_from_its_next_run(
    settings: Settings, runners: list[JobRunner]
) -> None:
    scheduler = Scheduler(runners[0], [EVERY_SECOND])
    now = utcnow()
    await scheduler.tick(now)
    daily = replace(PURGE, schedule=Schedule(cron="0 3 * * *"))
    assert await Scheduler(runners[0], [daily]).tick(now + timedelta(seconds=5)) == []
    row = stored(settings)
    assert row.fingerprint == daily.schedule.fingerprint()  # type: ignore[union-attr]
    assert row.next_run_at == daily.schedule.next_after(now + timedelta(seconds=5))  # type: ignore[union-attr]


async def test_the_api_runs_the_scheduler_for_declared_jobs(settings: Settings) -> None:
    """The lifespan starts it: the shipped purge gets its row as soon as the API is up."""
    async with api_client(settings):

        async def row() -> JobSchedule | None:
            with sync_sessionmaker(settings.sync_database_url)() as session:
                return session.get(JobSchedule, PURGE.name)

        scheduled = await eventually(row, within=10)
    assert scheduled.fingerprint == PURGE.schedule.fingerprint()  # type: ignore[union-attr]
