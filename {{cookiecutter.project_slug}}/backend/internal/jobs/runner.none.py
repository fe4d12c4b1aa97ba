"""In-process job runner: jobs run on worker threads of the API process, after the response.

Not durable. A job still waiting or running when the process stops is lost, and nothing runs it
again; only jobs that exhaust their tries are kept, in the failed-jobs store. Generate the project
with a durable task runner when work must survive a restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread
from pydantic import BaseModel

from internal.config import Settings
from internal.jobs.contract import JobContract, PermanentJobError
from internal.services.failed_jobs import record_failed_job

log = logging.getLogger(__name__)

Handler = Callable[[Settings, Any], object]
SHUTDOWN_GRACE_SECONDS = 10.0


class JobRunner:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Nothing to connect to: jobs run in this process."""

    async def close(self) -> None:
        """Give running jobs a grace period, then cancel what is left."""
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=SHUTDOWN_GRACE_SECONDS)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def join(self) -> None:
        """Wait until every job submitted so far has finished, retries included (`lich jobs retry`)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def readiness_checks(self) -> dict[str, Callable[[], Awaitable[None]]]:
        """No external backend to check."""
        return {}

    def submit(self, contract: JobContract[Any], handler: Handler, payload: BaseModel) -> asyncio.Task[None]:
        """Start the job in the background and return at once."""
        task = asyncio.create_task(self.run(contract, handler, payload), name=f"job:{contract.name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def run(self, contract: JobContract[Any], handler: Handler, payload: BaseModel) -> None:
        """Run the job under its contract: timeout per try, backoff between tries, store on failure."""
        for attempt in range(1, contract.max_tries + 1):
            try:
                # The thread cannot be killed: on timeout it finishes in the background, unobserved.
                await asyncio.wait_for(
                    anyio.to_thread.run_sync(handler, self.settings, payload), timeout=contract.timeout
                )
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
        await anyio.to_thread.run_sync(
            lambda: record_failed_job(
                self.settings,
                job_name=contract.name,
                arguments=payload.model_dump(mode="json"),
                exception=repr(error),
                attempts=attempt,
            )
        )
