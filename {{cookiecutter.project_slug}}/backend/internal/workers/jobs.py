"""The job contract (`internal.jobs.contract`) expressed in Temporal terms.

A job is a workflow that runs one activity:

- `run_activity` is the activity's body: it runs the job's blocking `handle(settings, payload)`,
  heartbeating while it runs, and turns its errors into Temporal failures (`PermanentJobError` and
  SMTP rejections non-retryable);
- `run_job` is the workflow's body: it executes that activity with the contract's timeout and a
  bounded, exponential retry policy, and when the job fails for good it records it in the
  failed-jobs store (through an activity retried until the database takes the record) and fails
  the workflow.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, RetryState

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from internal.config import Settings, get_settings
    from internal.jobs.contract import JobContract
    from internal.workers.activities import FailedJobInput, as_failure, record_failed_job

log = logging.getLogger(__name__)

InputT = TypeVar("InputT", bound=BaseModel)
ResultT = TypeVar("ResultT")

# Error types (exception class names) that no retry can fix.
NON_RETRYABLE_ERROR_TYPES = ["PermanentJobError", "MailRejected"]
RECORD_FAILURE_TIMEOUT = timedelta(seconds=30)
# Recording a failed job is retried without limit (at least every 15 s) while
# the database is unreachable: a workflow that gave up recording would lose the job without a trace.
RECORD_FAILURE_RETRY = RetryPolicy(maximum_attempts=0, maximum_interval=timedelta(seconds=15))
# A job's activity heartbeats this often while `handle` runs; the server retries it elsewhere once
# no heartbeat arrived for HEARTBEAT_TIMEOUT (a killed worker), instead of after the whole timeout.
HEARTBEAT_EVERY_SECONDS = 2.0
HEARTBEAT_TIMEOUT = timedelta(seconds=8)


def retry_policy(contract: JobContract[Any]) -> RetryPolicy:
    """Bounded: `max_tries` attempts, exponential from `retry_after`, capped at `max_backoff`."""
    return RetryPolicy(
        initial_interval=timedelta(seconds=max(contract.retry_after, 0.001)),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=max(contract.max_backoff, contract.retry_after, 0.001)),
        maximum_attempts=contract.max_tries,
        non_retryable_error_types=NON_RETRYABLE_ERROR_TYPES,
    )


class Heartbeats:
    """One thread per worker process heartbeats every running job activity.

    A thread of its own per activity would cost a thread start and join on every job (scheduling
    waits on a busy machine); the shared thread beats each registered activity every
    HEARTBEAT_EVERY_SECONDS, the first beat coming within that time, far inside HEARTBEAT_TIMEOUT.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[object, contextvars.Context] = {}
        self._thread: threading.Thread | None = None

    def add(self, context: contextvars.Context) -> object:
        """Beat for the activity whose context this is (a copy: heartbeats go to its attempt)."""
        token = object()
        with self._lock:
            self._running[token] = context
            if self._thread is None:
                self._thread = threading.Thread(target=self._beat, name="activity-heartbeats", daemon=True)
                self._thread.start()
        return token

    def remove(self, token: object) -> None:
        """Stop beating for it; once this returns, its attempt gets no further heartbeat."""
        with self._lock:
            del self._running[token]

    def _beat(self) -> None:
        while True:
            time.sleep(HEARTBEAT_EVERY_SECONDS)
            with self._lock:
                for context in self._running.values():
                    try:
                        context.run(activity.heartbeat)
                    except Exception:
                        log.warning("could not heartbeat a job activity", exc_info=True)


HEARTBEATS = Heartbeats()


def run_activity(
    contract: JobContract[InputT], handle: Callable[[Settings, InputT], ResultT], payload: InputT
) -> ResultT:
    """Run a job's `handle` inside its (sync, thread-pool) activity, heartbeating meanwhile.

    The heartbeat says "this worker is alive", not "the job progresses": a handle that hangs is
    still ended by the contract's timeout. A job whose work is a loop over items can call
    `activity.heartbeat(progress)` itself, and read `activity.info().heartbeat_details` on retry
    to resume where the killed attempt stopped.
    """
    token = HEARTBEATS.add(contextvars.copy_context())
    try:
        return handle(get_settings(), payload)
    except Exception as exc:
        # The attempt number travels in the failure, so the failed-jobs entry can report it.
        raise as_failure(exc) from exc
    finally:
        HEARTBEATS.remove(token)


def describe_failure(contract: JobContract[Any], error: ActivityError) -> tuple[str, int]:
    """The exception text and the number of attempts made, from the activity's final failure."""
    cause = error.cause
    if isinstance(cause, ApplicationError):
        details = cause.details[0] if cause.details else {}
        attempt = details.get("attempt") if isinstance(details, dict) else None
        text = f"{cause.type}: {cause.message}" if cause.type else cause.message
        return text, int(attempt) if attempt else contract.max_tries
    text = f"{type(cause).__name__}: {cause}" if cause else str(error)
    if error.retry_state == RetryState.MAXIMUM_ATTEMPTS_REACHED:
        return text, contract.max_tries
    return text, 1


async def run_job(
    contract: JobContract[InputT], activity_fn: Callable[[InputT], ResultT], payload: InputT
) -> ResultT:
    """Workflow side: run the job's activity under its contract; record a permanent failure."""
    try:
        return await workflow.execute_activity(
            activity_fn,
            payload,
            start_to_close_timeout=timedelta(seconds=contract.timeout),
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=retry_policy(contract),
        )
    except ActivityError as error:
        exception, attempts = describe_failure(contract, error)
        await workflow.execute_activity(
            record_failed_job,
            FailedJobInput(
                job_name=contract.name,
                arguments=payload.model_dump(mode="json"),
                exception=exception,
                attempts=attempts,
            ),
            start_to_close_timeout=RECORD_FAILURE_TIMEOUT,
            retry_policy=RECORD_FAILURE_RETRY,
        )
        # Fail the run: it shows as failed in the UI, and a retry from the store may start a new run.
        raise ApplicationError(
            f"job {contract.name} failed after {attempts} attempt(s): {exception}",
            type="JobFailed",
            non_retryable=True,
        ) from error
