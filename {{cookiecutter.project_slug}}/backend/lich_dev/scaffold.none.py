"""What `lich make job` writes in this project: an in-process background job and its test.

Placeholders: ``$Name`` (GenerateReport), ``$snake`` (generate_report), ``$words`` (generate report);
``$$`` is a literal dollar sign.
"""

from __future__ import annotations

RUNNER = "none"
KIND = "an in-process background job (runs in the API process after the response; not durable)"
# The Lich docs' `--queue <runner>` names runners with a worker of their own; refused here.
QUEUE_SPELLING = False

JOB_MODULE = '''\
"""${Name}: describe what the job does, in one line.

An in-process background job: `dispatch` hands it to the API's own runner, which runs `handle` on a
worker thread after the response, under CONTRACT (tries, timeout per try, backoff); jobs that run
out of tries are kept in the failed-jobs store (`lich jobs failed`). Durable through the job
outbox: a job left unfinished by a stopped API runs again at its next start, so it runs at least
once and must be idempotent. Dispatch it in the transaction of the data it needs:

    outbox.dispatch(uow, CONTRACT, ${Name}Input(reference="..."))
"""

from __future__ import annotations

import logging

from pydantic import BaseModel

from internal.config import Settings
from internal.jobs.contract import JobContract
from internal.jobs.runner import JobRunner

log = logging.getLogger(__name__)


class ${Name}Input(BaseModel):
    """The job's arguments: small and JSON-friendly (ids, not objects), as the failed-jobs store
    keeps them to run the job again."""

    reference: str = ""


CONTRACT = JobContract(
    name="${snake}",
    input_model=${Name}Input,
    max_tries=5,  # tries in all, the first one included
    timeout=60.0,  # seconds per try
    retry_after=10.0,  # base of the exponential, jittered backoff between tries, in seconds
    queue="default",
)


def handle(settings: Settings, payload: ${Name}Input) -> None:
    """The work itself; blocking code is fine. Raise `PermanentJobError` (internal.jobs.contract)
    when retrying cannot help; any other exception is retried up to CONTRACT.max_tries."""
    log.info("${words} done", extra={"reference": payload.reference})


async def dispatch(runner: JobRunner, payload: ${Name}Input) -> None:
    runner.submit(CONTRACT, handle, payload)
'''

JOB_TEST = '''\
"""Tests of the ${Name} job.

Its work, its registration, and a run through the in-process runner.
"""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from internal.config import Settings
from internal.db.sync import sync_sessionmaker
from internal.jobs import registry
from internal.jobs.${snake} import CONTRACT, ${Name}Input, dispatch, handle
from internal.jobs.runner import JobRunner
from internal.models import FailedJob

LOGGER = "internal.jobs.${snake}"


def done(caplog: pytest.LogCaptureFixture) -> list[str]:
    """References of the runs that completed, from the job's log."""
    return [
        str(getattr(record, "reference", ""))
        for record in caplog.records
        if record.name == LOGGER and record.getMessage() == "${words} done"
    ]


def failed_jobs(settings: Settings) -> list[FailedJob]:
    with sync_sessionmaker(settings.sync_database_url)() as session:
        return list(session.scalars(select(FailedJob)))


def test_handle_does_the_work(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=LOGGER):
        handle(settings, ${Name}Input(reference="direct"))
    assert done(caplog) == ["direct"]


def test_job_is_registered() -> None:
    assert registry.job_modules()[CONTRACT.name] == (CONTRACT, dispatch)


async def test_dispatched_job_runs_in_process(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    runner = JobRunner(settings)
    await runner.start()
    try:
        with caplog.at_level(logging.INFO, logger=LOGGER):
            await registry.dispatch(runner, CONTRACT, ${Name}Input(reference="dispatched"))
            await runner.join()
    finally:
        await runner.close()
    assert done(caplog) == ["dispatched"]
    assert failed_jobs(settings) == []
'''

# Appended to JOB_TEST for `lich make job <Name> --schedule CRON`.
PERIODIC_TEST = """

async def test_the_scheduler_runs_it_when_due(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    \"\"\"What the API's scheduler does each second, at two chosen moments: the first only notes the
    next run time, the second (that time) runs the job once, with the schedule's payload.\"\"\"
    from internal.db.base import utcnow
    from internal.jobs.periodic import Scheduler

    assert CONTRACT.schedule is not None
    assert CONTRACT in registry.periodic_contracts()
    runner = JobRunner(settings)
    await runner.start()
    try:
        scheduler = Scheduler(runner, [CONTRACT])
        now = utcnow()
        due = CONTRACT.schedule.next_after(now)
        assert await scheduler.tick(now) == []
        with caplog.at_level(logging.INFO, logger=LOGGER):
            assert await scheduler.tick(due) == [(CONTRACT.name, due)]
            await runner.join()
    finally:
        await runner.close()
    assert done(caplog) == [CONTRACT.scheduled_payload().reference]
"""
