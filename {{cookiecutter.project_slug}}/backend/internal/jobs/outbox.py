"""Dispatching a job: the transactional outbox.

`dispatch(uow, CONTRACT, payload)` adds the job's intent to the request's own transaction. If the
transaction commits, the job will run: the relay (`internal.jobs.relay`) hands every pending intent
to the runner, retrying with backoff while the runner is unreachable. If it rolls back, the job
never existed. No request ever waits on, or fails because of, the runner.

Delivery is at least once: an intent handed over just before the database became unreachable is
handed over again. Job ids derived from business keys and idempotent jobs make that harmless.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import update

from internal.config import Settings
from internal.db.base import utcnow
from internal.db.session import UnitOfWork
from internal.db.sync import sync_sessionmaker
from internal.jobs.contract import JobContract
from internal.models import JobIntent

# An in-process run holds its intent this long, renewed while it runs; a process that died stops
# renewing, and its intents are run again (by any API process) once their lease has expired.
LEASE_SECONDS = 30.0
# The intent being handed over by the relay, seen by a runner that completes intents itself.
current_intent: ContextVar[int | None] = ContextVar("current_intent", default=None)
# Relays of this process, woken after a commit that added intents (instead of waiting for a poll).
wakers: set[asyncio.Event] = set()


def dispatch(uow: UnitOfWork, contract: JobContract[Any], payload: BaseModel) -> None:
    """Write the job's intent in `uow`'s transaction; the relay delivers it once that commits."""
    if not isinstance(payload, contract.input_model):
        expected, given = contract.input_model.__name__, type(payload).__name__
        raise TypeError(f"job {contract.name} takes {expected}, not {given}")
    uow.session.add(JobIntent(job_name=contract.name, arguments=payload.model_dump(mode="json")))
    uow.after_commit(wake_relays)


async def wake_relays() -> None:
    for event in wakers:
        event.set()


def finish(settings: Settings, intent_id: int) -> None:
    """Mark an intent done (for a runner that completes intents itself: the job has finished)."""
    with sync_sessionmaker(settings.sync_database_url).begin() as session:
        session.execute(update(JobIntent).where(JobIntent.id == intent_id).values(delivered_at=utcnow()))


def extend_leases(settings: Settings, intent_ids: Iterable[int], seconds: float = LEASE_SECONDS) -> None:
    """Hold these intents for `seconds` more (0: hand them back to the relay now)."""
    ids = list(intent_ids)
    if not ids:
        return
    with sync_sessionmaker(settings.sync_database_url).begin() as session:
        session.execute(
            update(JobIntent)
            .where(JobIntent.id.in_(ids), JobIntent.delivered_at.is_(None))
            .values(available_at=utcnow() + timedelta(seconds=seconds))
        )
