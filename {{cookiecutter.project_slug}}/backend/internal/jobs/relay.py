"""The outbox relay: hands pending job intents to the runner until it accepts them.

One runs in every API process (the FastAPI lifespan starts it); no extra service. Several
processes share the work safely: each claims due intents with ``SELECT ... FOR UPDATE SKIP LOCKED``
(on SQLite, a development database, the single writer lock does the same). An intent the runner
refuses (broker or server down) is tried again with backoff, forever: it is never dropped.

With a runner that keeps jobs durably elsewhere (a workflow server) the intent is done once the
runner has accepted it (`JobRunner.intent_lease` is None). Otherwise the relay only leases the
intent for `intent_lease` seconds; the job marks it done when it has ended (finished, or recorded
as failed), and an intent whose job never ended (its process died; a broker lost the message) is
handed over again once its lease expires.
"""

from __future__ import annotations

import asyncio
import logging
import random
from contextlib import suppress
from datetime import datetime, timedelta

import anyio.to_thread
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from internal.db.base import utcnow
from internal.jobs import outbox, registry
from internal.jobs.runner import JobRunner
from internal.models import JobIntent
from internal.services.failed_jobs import record_failed_job

log = logging.getLogger(__name__)

BATCH = 50
POLL_SECONDS = 1.0
MAX_POLL_SECONDS = 5.0
HANDOVER_TIMEOUT_SECONDS = 15.0
MAX_BACKOFF_SECONDS = 60.0
# Delivered intents are kept this long (to inspect what was dispatched), then deleted.
KEEP_DELIVERED = timedelta(days=1)
PURGE_EVERY = timedelta(minutes=10)


def backoff(attempts: int) -> float:
    """Seconds before handing an intent over again after `attempts` refusals: exponential, jittered."""
    ceiling = min(MAX_BACKOFF_SECONDS, 2.0 ** (attempts - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


class Relay:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], runner: JobRunner) -> None:
        self.sessionmaker = sessionmaker
        self.runner = runner
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._purged_at: datetime | None = None
        self._stopping = False

    async def start(self) -> None:
        outbox.wakers.add(self._wake)
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def close(self) -> None:
        """Stop after the pass in progress (cancelling it mid-transaction could strand its rows)."""
        outbox.wakers.discard(self._wake)
        if self._task is not None:
            self._stopping = True
            self._wake.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=HANDOVER_TIMEOUT_SECONDS + 5)
            except TimeoutError:
                self._task.cancel()
                with suppress(asyncio.CancelledError):
                    await self._task
            self._task = None

    async def _run(self) -> None:
        wait = POLL_SECONDS
        while not self._stopping:
            self._wake.clear()
            try:
                handled = await self.deliver_due()
                await self._purge_delivered()
                wait = POLL_SECONDS
            except Exception as exc:
                # Typically the database is down: nothing is lost, the intents wait in it.
                log.warning("outbox relay pass failed; retrying", extra={"error": repr(exc)})
                handled, wait = 0, min(wait * 2, MAX_POLL_SECONDS)
            if handled >= BATCH or self._stopping:
                continue
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def deliver_due(self) -> int:
        """One pass: hand every due intent (up to BATCH) to the runner; return how many were due."""
        async with self.sessionmaker() as session, session.begin():
            intents = list(
                await session.scalars(
                    select(JobIntent)
                    .where(JobIntent.delivered_at.is_(None), JobIntent.available_at <= utcnow())
                    .order_by(JobIntent.id)
                    .limit(BATCH)
                    .with_for_update(skip_locked=True)
                )
            )
            for intent in intents:
                await self._deliver(intent)
        return len(intents)

    async def _deliver(self, intent: JobIntent) -> None:
        try:
            contract, payload = registry.resolve(intent.job_name, intent.arguments)
        except registry.UnknownJob as exc:
            # The code changed under a pending intent: keep it where a person can see and retry it.
            reason = exc.detail
            await anyio.to_thread.run_sync(
                lambda: record_failed_job(
                    self.runner.settings,
                    job_name=intent.job_name,
                    arguments=intent.arguments,
                    exception=reason,
                    attempts=0,
                )
            )
            intent.delivered_at = utcnow()
            return
        _, send = registry.job_modules()[contract.name]
        token = outbox.current_intent.set(intent.id)
        try:
            await asyncio.wait_for(send(self.runner, payload), timeout=HANDOVER_TIMEOUT_SECONDS)
        except Exception as exc:
            intent.attempts += 1
            intent.last_error = repr(exc)[:2000]
            delay = backoff(intent.attempts)
            intent.available_at = utcnow() + timedelta(seconds=delay)
            log.warning(
                "runner did not accept the job; will hand it over again",
                extra={
                    "job": contract.name,
                    "intent": intent.id,
                    "retry_in": round(delay, 2),
                    "error": repr(exc),
                },
            )
            return
        finally:
            outbox.current_intent.reset(token)
        if self.runner.intent_lease is None:
            intent.delivered_at = utcnow()
        else:
            intent.available_at = utcnow() + timedelta(seconds=self.runner.intent_lease)

    async def _purge_delivered(self) -> None:
        now = utcnow()
        if self._purged_at is not None and now - self._purged_at < PURGE_EVERY:
            return
        async with self.sessionmaker() as session, session.begin():
            await session.execute(delete(JobIntent).where(JobIntent.delivered_at < now - KEEP_DELIVERED))
        self._purged_at = now
