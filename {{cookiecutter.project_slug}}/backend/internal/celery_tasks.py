"""Task registry and beat schedule, imported by the worker and beat at startup.

Every module of `internal.jobs` that declares a CONTRACT is imported here (through the job
registry), which registers its task: a new job module needs no edit in this file. Queues named by
job contracts are consumed by a worker started without `-Q`.
"""

from __future__ import annotations

from typing import Any

from internal.celery_app import app
from internal.jobs.purge_failed_jobs import CONTRACT as PURGE_FAILED_JOBS
from internal.jobs.purge_failed_jobs import PurgeFailedJobsInput
from internal.jobs.registry import job_modules

JOBS = job_modules()
for _contract, _ in JOBS.values():
    app.amqp.queues.select_add(_contract.queue)

# Periodic jobs (exactly one beat process sends them). `expires` drops a run nobody picked up
# before the next one is due, so a stopped worker does not come back to a pile of them.
PURGE_EVERY_SECONDS = 60.0
BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "purge-retried-failed-jobs": {
        "task": PURGE_FAILED_JOBS.name,
        "schedule": PURGE_EVERY_SECONDS,
        "args": [PurgeFailedJobsInput(older_than_days=30).model_dump(mode="json")],
        "options": {"queue": PURGE_FAILED_JOBS.queue, "expires": PURGE_EVERY_SECONDS - 5},
    },
}
app.conf.beat_schedule = BEAT_SCHEDULE
