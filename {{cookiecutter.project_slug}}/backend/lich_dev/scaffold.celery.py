"""What `lich make job` writes in this project: a Celery task with the job contract, and its test.

Placeholders: ``$Name`` (GenerateReport), ``$snake`` (generate_report), ``$words`` (generate report);
``$$`` is a literal dollar sign.
"""

from __future__ import annotations

RUNNER = "celery"
KIND = "a Celery task with the job contract, run by `celery -A internal.celery_app worker`"
# Whether `--queue celery` means `--type celery` (the Lich docs' spelling; runners they name).
QUEUE_SPELLING = True

JOB_MODULE = '''\
"""${Name}: describe what the job does, in one line.

A Celery task built from CONTRACT (`internal.jobs.runner.job_task`): `max_tries` tries in all,
`timeout` seconds per try (soft time limit; the hard limit follows shortly after), an exponential,
jittered backoff from `retry_after` between tries, sent to `queue`. A job that fails for good
(`PermanentJobError`, or out of tries) is recorded in the failed-jobs store (`lich jobs failed`),
then `failed` below runs. The worker registers every module of `internal.jobs` at startup: nothing
else needs an edit. Dispatch it in the transaction of the data it needs (the job outbox: it runs
once that commits, at least once, so keep it idempotent):

    outbox.dispatch(uow, CONTRACT, ${Name}Input(reference="..."))
"""

from __future__ import annotations

import logging

from pydantic import BaseModel

from internal.config import Settings
from internal.jobs.contract import JobContract
from internal.jobs.runner import JobRunner, job_task

log = logging.getLogger(__name__)


class ${Name}Input(BaseModel):
    """The job's arguments: small and JSON-friendly (ids, not objects). They travel through the
    broker and the failed-jobs store keeps them to run the job again."""

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
    """The work itself, in a worker process. Messages are acknowledged late, so a job whose worker
    dies runs again: keep it idempotent. Raise `PermanentJobError` (internal.jobs.contract) when
    retrying cannot help; any other exception is retried up to CONTRACT.max_tries."""
    log.info("${words} done", extra={"reference": payload.reference})


def failed(settings: Settings, payload: ${Name}Input, error: BaseException) -> None:
    """Runs once the job failed for good, after it was recorded in the failed-jobs store."""
    log.error("${words} failed for good", extra={"reference": payload.reference, "error": repr(error)})


task = job_task(CONTRACT, handle, on_failure=failed)


async def dispatch(runner: JobRunner, payload: ${Name}Input) -> None:
    await runner.enqueue(task, payload)
'''

JOB_TEST = '''\
"""Tests of the ${Name} job.

Its work, its registration with the worker, and a run on a real worker.
"""

from __future__ import annotations

import logging

import pytest

from internal.celery_app import app as celery_app
from internal.config import Settings
from internal.jobs import registry
from internal.jobs.${snake} import CONTRACT, ${Name}Input, dispatch, handle, task
from internal.jobs.runner import JobRunner
from tests.support import eventually

LOGGER = "internal.jobs.${snake}"


def done(caplog: pytest.LogCaptureFixture) -> list[str]:
    """References of the runs that completed, from the job's log."""
    return [
        str(getattr(record, "reference", ""))
        for record in caplog.records
        if record.name == LOGGER and record.getMessage() == "${words} done"
    ]


def test_handle_does_the_work(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=LOGGER):
        handle(settings, ${Name}Input(reference="direct"))
    assert done(caplog) == ["direct"]


def test_task_carries_the_contract() -> None:
    assert registry.job_modules()[CONTRACT.name] == (CONTRACT, dispatch)
    assert celery_app.tasks[CONTRACT.name] is task.task
    assert task.task.max_retries == CONTRACT.max_tries - 1
    assert task.task.soft_time_limit == CONTRACT.timeout


async def test_worker_runs_the_dispatched_job(
    settings: Settings, job_worker: object, caplog: pytest.LogCaptureFixture
) -> None:
    runner = JobRunner(settings)
    await runner.start()
    try:
        with caplog.at_level(logging.INFO, logger=LOGGER):
            await registry.dispatch(runner, CONTRACT, ${Name}Input(reference="dispatched"))

            async def ran() -> bool | None:
                return "dispatched" in done(caplog) or None

            assert await eventually(ran, within=30)
    finally:
        await runner.close()
'''

# Appended to JOB_TEST for `lich make job <Name> --schedule CRON`.
PERIODIC_TEST = """

def test_beat_sends_it_on_its_schedule() -> None:
    \"\"\"Beat's entry comes from CONTRACT.schedule (internal.jobs.periodic), with its payload.\"\"\"
    import internal.celery_tasks  # noqa: F401  (installs beat's entries)

    assert CONTRACT.schedule is not None
    entry = celery_app.conf.beat_schedule[CONTRACT.name]
    assert entry["task"] == task.name
    assert entry["schedule"].declared == CONTRACT.schedule
    assert entry["args"] == [CONTRACT.scheduled_payload().model_dump(mode="json")]
"""
