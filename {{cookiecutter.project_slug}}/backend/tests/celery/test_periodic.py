"""Periodic jobs on Celery (`internal.jobs.periodic`): beat's entries come from the contracts; a real
beat and worker run an every-second job repeatedly; a run missed while beat was down is sent once
when it starts again, and not again after a further restart.

The job is the shipped purge, declared with other schedules where a test needs them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from celery.beat import EmbeddedService, PersistentScheduler  # type: ignore[import-untyped]
from celery.signals import before_task_publish  # type: ignore[import-untyped]

from internal.celery_app import app as celery_app
from internal.db.base import utcnow
from internal.jobs.contract import JobContract
from internal.jobs.periodic import ContractSchedule, beat_schedule
from internal.jobs.purge_failed_jobs import CONTRACT as PURGE
from internal.jobs.schedule import Schedule


def purges(caplog: pytest.LogCaptureFixture) -> int:
    return sum(record.getMessage() == "purged retried failed jobs" for record in caplog.records)


def declared_as(schedule: Schedule) -> JobContract[Any]:
    return replace(PURGE, schedule=schedule)


@pytest.fixture
def beat_entries() -> Iterator[Any]:
    """Replace beat's entries for one test: `beat_entries(contract, ...)`."""
    shipped = dict(celery_app.conf["beat_schedule"])

    def install(*contracts: JobContract[Any]) -> None:
        celery_app.conf["beat_schedule"] = beat_schedule(contracts, utcnow())

    yield install
    celery_app.conf["beat_schedule"] = shipped


@pytest.fixture
def published() -> Iterator[list[str]]:
    """Names of the tasks sent to the broker during the test."""
    sent: list[str] = []

    def count(sender: str | None = None, **_: Any) -> None:
        sent.append(str(sender))

    before_task_publish.connect(count, weak=False)
    yield sent
    before_task_publish.disconnect(count)


def test_beat_entries_come_from_the_contracts() -> None:
    import internal.celery_tasks  # noqa: F401  (installs beat's entries)

    entry = celery_app.conf.beat_schedule[PURGE.name]
    assert entry["task"] == PURGE.name
    assert entry["schedule"] == ContractSchedule(PURGE.schedule)  # type: ignore[arg-type]
    assert entry["args"] == [{"older_than_days": 30.0}]
    assert entry["options"] == {"queue": PURGE.queue, "expires": 60.0}


def test_a_job_scheduled_every_second_runs_repeatedly(
    job_worker: Any, beat_entries: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    beat_entries(declared_as(Schedule(every=timedelta(seconds=1))))
    beat = EmbeddedService(celery_app, thread=True, schedule_filename=str(tmp_path / "beat-schedule"))
    with caplog.at_level(logging.INFO):
        beat.start()
        try:
            deadline = time.monotonic() + 60
            while purges(caplog) < 3:
                assert time.monotonic() < deadline, f"{purges(caplog)} run(s) within 60 s"
                time.sleep(0.1)
        finally:
            beat.stop()
            beat.join(timeout=10)


def test_a_run_missed_while_beat_was_down_is_sent_once(
    beat_entries: Any, published: list[str], tmp_path: Path
) -> None:
    yearly = declared_as(Schedule(cron="0 0 1 1 *"))
    beat_entries(yearly)
    filename = str(tmp_path / "beat-schedule")
    first = PersistentScheduler(app=celery_app, schedule_filename=filename)
    first.schedule[PURGE.name].last_run_at = utcnow() - timedelta(days=3 * 365)  # three runs missed
    first.sync()
    first.close()

    restarted = PersistentScheduler(app=celery_app, schedule_filename=filename)
    restarted.tick()
    restarted.tick()
    restarted.close()
    assert published == [PURGE.name]

    again = PersistentScheduler(app=celery_app, schedule_filename=filename)
    again.tick()
    again.close()
    assert published == [PURGE.name]
