"""In-process job runner: jobs run on worker threads of the API process, after the response.

Durable through the job outbox (`internal.jobs.outbox`): the relay hands a job over with its
intent's id, and the intent stays pending (leased, the lease renewed while the job runs) until the
job has finished or is recorded in the failed-jobs store. A job whose process stopped or died is
run again, from the start, once its lease has expired: at the next start of the API, or by another
replica. Jobs therefore run at least once and must be idempotent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

import anyio.to_thread
from pydantic import BaseModel

from internal.config import Settings
from internal.jobs import outbox
from internal.jobs.contract import JobContract, PermanentJobError
from internal.services.failed_jobs import record_failed_job

log = logging.getLogger(__name__)

Handler = Callable[[Settings, Any], object]
SHUTDOWN_GRACE_SECONDS = 10.0
# Writing a job's outcome (failed-jobs entry, intent done) is retried this often while the
# database is unreachable; the job stays in this process, and its intent leased, until it succeeds.
WRITE_RETRY_MAX_SECONDS = 30.0


class JobRunner:
    # The relay leases intents to this runner; the runner marks them done when the job has ended,
    # and renews the lease while it runs.
    intent_lease: float | None = outbox.LEASE_SECONDS

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._tasks: set[asyncio.Task[None]] = set()
        self._intents: dict[asyncio.Task[None], int] = {}
        self._renewer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Nothing to connect to: jobs run in this process. Renew the leases of running jobs."""
        self._renewer = asyncio.create_task(self._renew_leases(), name="job-leases")

    async def close(self) -> None:
        """Give running jobs a grace period, then cancel what is left and hand its intents back."""
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=SHUTDOWN_GRACE_SECONDS)
            unfinished = [self._intents[task] for task in pending if task in self._intents]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            with suppress(Exception):
                # Best effort: if this fails, the leases expire and the jobs run again all the same.
                await anyio.to_thread.run_sync(lambda: outbox.extend_leases(self.settings, unfinished, 0))
        if self._renewer is not None:
            self._renewer.cancel()
            with suppress(asyncio.CancelledError):
                await self._renewer

    async def _renew_leases(self) -> None:
        while True:
            await asyncio.sleep(outbox.LEASE_SECONDS / 3)
            try:
                await anyio.to_thread.run_sync(
                    outbox.extend_leases, self.settings, list(self._intents.values())
                )
            except Exception as exc:
                log.warning("could not renew job leases", extra={"error": repr(exc)})

    async def join(self) -> None:
        """Wait until every job submitted so far has finished, retries included (`lich jobs retry`)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def readiness_checks(self) -> dict[str, Callable[[], Awaitable[None]]]:
        """No external backend to check."""
        return {}

    def submit(self, contract: JobContract[Any], handler: Handler, payload: BaseModel) -> asyncio.Task[None]:
        """Start the job in the background and return at once (with the relay's intent, if any)."""
        task = asyncio.create_task(self.run(contract, handler, payload), name=f"job:{contract.name}")
        self._tasks.add(task)
        intent = outbox.current_intent.get()
        if intent is not None:
            self._intents[task] = intent
        task.add_done_callback(self._forget)
        return task

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._intents.pop(task, None)

    async def run(self, contract: JobContract[Any], handler: Handler, payload: BaseModel) -> None:
        """Run the job under its contract: timeout per try, backoff between tries, store on failure;
        then mark its intent done."""
        await self._try(contract, handler, payload)
        intent = outbox.current_intent.get()
        if intent is not None:
            await self._until_written("mark the job done", lambda: outbox.finish(self.settings, intent))

    async def _try(self, contract: JobContract[Any], handler: Handler, payload: BaseModel) -> None:
        for attempt in range(1, contract.max_tries + 1):
            try:
                # The thread cannot be killed: on timeout it finishes in the background, unobserved.
                # (`asyncio.timeout`, not `wait_for`: no extra task per try.)
                async with asyncio.timeout(contract.timeout):
                    await anyio.to_thread.run_sync(handler, self.settings, payload)
                return
            except PermanentJobError as exc:
                error: Exception = exc
                break
            except Exception as exc:
                error = exc
                if attempt < contract.max_tries:
                    delay = contract.backoff(attempt)
                    log.warning(
                        "job failed, will retry",
                        extra={
                            "job": contract.name,
                            "attempt": attempt,
                            "retry_in": round(delay, 2),
                            "error": repr(exc),
                        },
                    )
                    await asyncio.sleep(delay)
        await self._until_written(
            "record the failed job",
            lambda: record_failed_job(
                self.settings,
                job_name=contract.name,
                arguments=payload.model_dump(mode="json"),
                exception=repr(error),
                attempts=attempt,
            ),
        )

    async def _until_written(self, what: str, write: Callable[[], object]) -> None:
        """Run the blocking database `write` until it succeeds (the job is not done until then)."""
        delay = 1.0
        while True:
            try:
                await anyio.to_thread.run_sync(write)
                return
            except Exception as exc:
                log.warning(f"could not {what}; retrying in {delay:g}s", extra={"error": repr(exc)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, WRITE_RETRY_MAX_SECONDS)
