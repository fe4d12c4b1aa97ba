"""Task registry and beat schedule, imported by the worker and beat at startup.

Every module of `internal.jobs` that declares a CONTRACT is imported here (through the job
registry), which registers its task: a new job module needs no edit in this file. Queues named by
job contracts are consumed by a worker started without `-Q`. Beat's entries come from the
contracts that declare a `schedule` (`internal.jobs.periodic`); exactly one beat process sends them.
"""

from __future__ import annotations

from internal.celery_app import app
from internal.db.base import utcnow
from internal.jobs.periodic import beat_schedule
from internal.jobs.registry import job_modules, periodic_contracts

JOBS = job_modules()
for _contract, _ in JOBS.values():
    app.amqp.queues.select_add(_contract.queue)

app.conf.beat_schedule = beat_schedule(periodic_contracts(), utcnow())
