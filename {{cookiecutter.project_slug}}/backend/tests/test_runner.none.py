"""The in-process runner honours the job contract: retries with backoff, store on failure."""

from __future__ import annotations

import time
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import select

from internal.config import Settings
from internal.db.sync import sync_sessionmaker
from internal.jobs.contract import JobContract, PermanentJobError
from internal.jobs.runner import JobRunner
from internal.models import FailedJob


class Payload(BaseModel):
    key: str = "k"


FAST = JobContract(name="flaky", input_model=Payload, max_tries=3, timeout=5.0, retry_after=0.01)


def stored(settings: Settings) -> list[FailedJob]:
    with sync_sessionmaker(settings.sync_database_url)() as session:
        return list(session.scalars(select(FailedJob)))


@pytest.fixture
async def runner(settings: Settings) -> Any:
    instance = JobRunner(settings)
    await instance.start()
    yield instance
    await instance.close()


async def test_transient_failure_is_retried_until_it_succeeds(runner: JobRunner, settings: Settings) -> None:
    calls: list[str] = []

    def handler(_settings: Settings, payload: Payload) -> None:
        calls.append(payload.key)
        if len(calls) < 3:
            raise ConnectionError("not yet")

    await runner.run(FAST, handler, Payload())
    assert calls == ["k", "k", "k"]
    assert stored(settings) == []


async def test_exhausted_tries_land_in_the_store(runner: JobRunner, settings: Settings) -> None:
    def handler(_settings: Settings, _payload: Payload) -> None:
        raise ConnectionError("always down")

    await runner.run(FAST, handler, Payload(key="x"))
    [entry] = stored(settings)
    assert (entry.job_name, entry.arguments, entry.attempts) == ("flaky", {"key": "x"}, 3)
    assert "always down" in entry.exception


async def test_permanent_error_is_not_retried(runner: JobRunner, settings: Settings) -> None:
    calls: list[int] = []

    def handler(_settings: Settings, _payload: Payload) -> None:
        calls.append(1)
        raise PermanentJobError("bad input")

    await runner.run(FAST, handler, Payload())
    assert calls == [1]
    assert stored(settings)[0].attempts == 1


async def test_try_that_exceeds_the_timeout_counts_as_failed(runner: JobRunner, settings: Settings) -> None:
    slow = JobContract(name="slow", input_model=Payload, max_tries=1, timeout=0.2)
    await runner.run(slow, lambda _s, _p: time.sleep(1), Payload())
    assert "TimeoutError" in stored(settings)[0].exception
