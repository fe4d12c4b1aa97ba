"""What `lich make job` writes in this project: a Temporal workflow with its activity, and its test.

Placeholders: ``$Name`` (GenerateReport), ``$snake`` (generate_report), ``$words`` (generate report);
``$$`` is a literal dollar sign.
"""

from __future__ import annotations

RUNNER = "temporal"
KIND = "a Temporal workflow <Name>Workflow and its activity, run by `python -m internal.workers.main`"
# Whether `--queue temporal` means `--type temporal` (the Lich docs' spelling; runners they name).
QUEUE_SPELLING = True

JOB_MODULE = '''\
r"""${Name}: describe what the job does, in one line.

A Temporal workflow that runs one activity under CONTRACT (`internal.workers.jobs`): `timeout` is
the activity's start-to-close timeout, and its retry policy is bounded to `max_tries` attempts,
exponential from `retry_after`; a job that fails for good is recorded in the failed-jobs store
(`lich jobs failed`). The worker registers every workflow and activity it finds in `internal.jobs`:
nothing else needs an edit. Every input field has a default, so it also runs from the command line:

    temporal workflow execute --input '{}' --task-queue <TEMPORAL_TASK_QUEUE> \\
        --type ${Name}Workflow

Dispatch it from the API in the transaction of the data it needs (the job outbox: it runs once
that commits, at least once, so keep it idempotent):

    outbox.dispatch(uow, CONTRACT, ${Name}Input(reference="..."))
"""

from __future__ import annotations

import logging

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from internal.config import Settings
    from internal.jobs.contract import JobContract
    from internal.jobs.runner import JobRunner
    from internal.workers.jobs import run_activity, run_job

log = logging.getLogger(__name__)


class ${Name}Input(BaseModel):
    """The job's arguments: small (ids, not blobs) and every field with a default, so that
    `--input '{}'` works and histories recorded before a field was added still decode."""

    reference: str = ""


class ${Name}Result(BaseModel):
    reference: str = ""


CONTRACT = JobContract(
    name="${snake}",
    input_model=${Name}Input,
    max_tries=5,  # attempts of the activity in all, the first one included
    timeout=60.0,  # start-to-close timeout of one attempt, in seconds
    retry_after=10.0,  # first retry interval; doubles each attempt, capped at max_backoff
    queue="default",
)


def handle(settings: Settings, payload: ${Name}Input) -> ${Name}Result:
    """The work itself, in the activity (a worker thread): I/O belongs here, never in the workflow.
    An activity may run more than once: keep it idempotent. Raise `PermanentJobError`
    (internal.jobs.contract) when retrying cannot help. `run_activity` heartbeats while this runs,
    so a killed worker's attempt is retried within seconds; for long work over many items, call
    `activity.heartbeat(progress)` here too and resume from `activity.info().heartbeat_details`."""
    log.info("${words} done", extra={"reference": payload.reference})
    return ${Name}Result(reference=payload.reference)


@activity.defn(name="${snake}")
def ${snake}_activity(payload: ${Name}Input) -> ${Name}Result:
    return run_activity(CONTRACT, handle, payload)


# Workflow code is replayed from history, and the worker imports this module once for all runs
# (`internal.workers.main`): time, randomness and ids come from `workflow.now()`, `workflow.random()`
# and `workflow.uuid4()`; no I/O here and no module-level state that a run changes.
@workflow.defn(name="${Name}Workflow")
class ${Name}Workflow:
    @workflow.run
    async def run(self, payload: ${Name}Input) -> ${Name}Result:
        return await run_job(CONTRACT, ${snake}_activity, payload)


async def dispatch(runner: JobRunner, payload: ${Name}Input) -> None:
    # The workflow id is made of the job name and this key (by default, the outbox intent's id):
    # a second start with the same key while a run is in progress is a no-op.
    await runner.start_job(CONTRACT, ${Name}Workflow.run, payload, key=payload.reference or None)
'''

JOB_TEST = '''\
"""Tests of the ${Name} job.

Its work, its registration with the worker, and runs on a real worker.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from temporalio.client import Client

from internal.config import Settings
from internal.db.sync import sync_sessionmaker
from internal.jobs import registry
from internal.jobs.${snake} import (
    CONTRACT,
    ${Name}Input,
    ${Name}Result,
    ${Name}Workflow,
    dispatch,
    handle,
    ${snake}_activity,
)
from internal.jobs.runner import JobRunner, task_queue
from internal.models import FailedJob
from internal.workers.main import discover


def test_handle_does_the_work(settings: Settings) -> None:
    assert handle(settings, ${Name}Input(reference="direct")) == ${Name}Result(reference="direct")


def test_worker_registers_the_workflow_and_its_activity() -> None:
    assert registry.job_modules()[CONTRACT.name] == (CONTRACT, dispatch)
    workflows, activities = discover()
    assert ${Name}Workflow in workflows
    assert ${snake}_activity in activities


async def test_workflow_runs_with_an_empty_input(settings: Settings, job_worker: Client) -> None:
    """As `temporal workflow execute --input '{}'` starts it."""
    result = await job_worker.execute_workflow(
        "${Name}Workflow",
        {},
        id=f"test-${snake}-{uuid.uuid4().hex}",
        task_queue=task_queue(settings, CONTRACT.queue),
        result_type=${Name}Result,
    )
    assert result == ${Name}Result()


async def test_dispatched_job_runs_on_the_worker(settings: Settings, job_worker: Client) -> None:
    key = uuid.uuid4().hex
    runner = JobRunner(settings)
    await runner.start()
    try:
        await registry.dispatch(runner, CONTRACT, ${Name}Input(reference=key))
    finally:
        await runner.close()
    with sync_sessionmaker(settings.sync_database_url)() as session:
        assert list(session.scalars(select(FailedJob))) == []
    run = job_worker.get_workflow_handle_for(${Name}Workflow.run, f"{CONTRACT.name.replace('_', '-')}-{key}")
    assert await run.result() == ${Name}Result(reference=key)
'''

# Appended to JOB_TEST for `lich make job <Name> --schedule CRON`.
PERIODIC_TEST = """

async def test_the_worker_keeps_a_temporal_schedule_for_it(settings: Settings, job_worker: Client) -> None:
    \"\"\"What the worker does at start (internal.jobs.periodic.sync_schedules), for this job alone.\"\"\"
    from internal.jobs.periodic import PeriodicJob, periodic_jobs, schedule_id, sync_schedules

    assert CONTRACT.schedule is not None
    job = PeriodicJob(CONTRACT, "${Name}Workflow")
    assert job in periodic_jobs()
    schedule = job_worker.get_schedule_handle(schedule_id(settings, CONTRACT.name))
    try:
        await sync_schedules(job_worker, settings, [job])
        description = await schedule.describe()
        assert description.schedule.state.note == CONTRACT.schedule.fingerprint()
    finally:
        await sync_schedules(job_worker, settings, [])
"""
