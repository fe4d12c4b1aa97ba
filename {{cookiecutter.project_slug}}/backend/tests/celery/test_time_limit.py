"""A try killed at its hard time limit (the pool kills the process running it) ends in the
failed-jobs store, against a real prefork worker: the in-thread test worker cannot enforce limits."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from internal.config import Settings
from internal.db.sync import sync_sessionmaker
from internal.models import FailedJob
from tests.celery.overrunning_job import OVERRUNNING, QUEUE
from tests.support import eventually

BACKEND = Path(__file__).resolve().parents[2]


@pytest.fixture
def prefork_worker(job_worker: Any, settings: Settings, tmp_path: Path) -> Iterator[Path]:
    """`celery worker` with a prefork pool of one process, consuming only the overrunning job's queue
    (`job_worker` configures this process's app for the test Redis, to which the test publishes)."""
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "SECRET_KEY": settings.secret_key,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "CELERY_BROKER_URL": "",
        "CELERY_RESULT_BACKEND": "",
    }
    log = tmp_path / "worker.log"
    command = [sys.executable, "-m", "celery", "-A", "internal.celery_app", "worker", "--pool", "prefork"]
    command += ["--concurrency", "1", "-Q", QUEUE, "--include", "tests.celery.overrunning_job", "-l", "INFO"]
    with log.open("wb") as output:
        worker = subprocess.Popen(  # noqa: S603  (this interpreter, fixed arguments)
            command, cwd=BACKEND, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield log
    finally:
        # The worker and its pool process at once: a graceful stop would wait for its soft
        # shutdown (20 s), and this test leaves nothing running to hand back.
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()


def failed_entries(settings: Settings) -> list[FailedJob]:
    with sync_sessionmaker(settings.sync_database_url)() as session:
        return list(session.scalars(select(FailedJob).where(FailedJob.job_name == OVERRUNNING.name)))


async def test_a_try_killed_at_its_hard_time_limit_lands_in_the_store(
    prefork_worker: Path, settings: Settings
) -> None:
    # The limits of this message only, so the test waits 1 s instead of the contract's 90.
    OVERRUNNING.apply_async(args=[{"key": "hard"}], soft_time_limit=0.5, time_limit=1)

    async def recorded() -> list[FailedJob] | None:
        return failed_entries(settings) or None

    [entry] = await eventually(recorded, within=60)
    assert "Hard time limit" in await asyncio.to_thread(prefork_worker.read_text)
    assert "TimeLimitExceeded" in entry.exception
    assert (entry.arguments, entry.attempts) == ({"key": "hard"}, 1)
