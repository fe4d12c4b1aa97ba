"""Celery job runner: jobs are Celery tasks, run by `celery -A internal.celery_app worker`.

`job_task(CONTRACT, handle)` turns a job's contract into a native task: `max_retries`, time limits,
exponential jittered backoff, queue. Transient errors are retried; `PermanentJobError` (and input
that no longer validates) fails at once. A job that fails for good is recorded in the failed-jobs
store; if that store cannot be written (database down), the job stays on the broker (it is sent
again as a retry) until it can. Messages are acknowledged late, so a job whose worker process dies
is delivered again, at most `MAX_REDELIVERIES` times (the broker flags such a delivery; they are
counted in Redis per task id and try, so a first delivery costs no Redis round trip); a worker
killed outright leaves its messages to come back within the visibility timeout
(`internal.celery_app`). A try that ignores its soft time limit is killed at the hard one
(`HARD_LIMIT_GRACE_SECONDS` later) and the job is recorded as failed (`JobTask.on_failure`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

import redis
import redis.asyncio
from celery import Task  # type: ignore[import-untyped]
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded  # type: ignore[import-untyped]
from pydantic import BaseModel, ValidationError

from internal.celery_app import (
    MAX_REDELIVERIES,
    VISIBILITY_TIMEOUT_SECONDS,
    app,
)
from internal.config import Settings, get_settings
from internal.jobs import outbox
from internal.jobs.contract import JobContract, PermanentJobError
from internal.services.failed_jobs import record_failed_job

log = logging.getLogger(__name__)

InputT = TypeVar("InputT", bound=BaseModel)
Handler = Callable[[Settings, InputT], object]
FailureHook = Callable[[Settings, InputT, BaseException], object]
# Grace between the soft limit (the job is interrupted) and the hard one (its process is killed).
HARD_LIMIT_GRACE_SECONDS = 30.0
# A job whose failure could not be recorded is tried again after this long.
RECORD_RETRY_SECONDS = 10.0
# Task ids of jobs dispatched through the outbox: `<job>-intent-<intent id>`.
INTENT_MARK = "-intent-"
# Threads that publish to the broker (a publish blocks, and retries while the broker is down).
PUBLISH_THREADS = 4


class JobRunner:
    """The API side: sends jobs to the broker and reports whether Redis answers."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._redis: redis.asyncio.Redis | None = None
        # The broker can lose a message a worker popped but had not yet registered as unacked
        # (killed in between), so an outbox intent stays leased until its task ends (`run` marks
        # it done); an intent whose task never ended is published again once this lease expires.
        self.intent_lease: float | None = 2.0 * settings.celery_visibility_timeout
        # A pool of its own rather than anyio's threads: a third less CPU per hand-over.
        self._publisher: ThreadPoolExecutor | None = None

    async def start(self) -> None:
        """Create the Redis client; it connects on first use, so startup never waits on Redis."""
        self._publisher = ThreadPoolExecutor(PUBLISH_THREADS, thread_name_prefix="celery-publish")
        self._redis = redis.asyncio.Redis.from_url(
            self.settings.redis_url, socket_connect_timeout=3, socket_timeout=3
        )

    async def close(self) -> None:
        if self._publisher is not None:
            self._publisher.shutdown(wait=False)  # a publish in progress ends on its own
            self._publisher = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    def readiness_checks(self) -> dict[str, Callable[[], Awaitable[None]]]:
        async def ping() -> None:
            if self._redis is None:
                raise RuntimeError("job runner not started")
            await self._redis.ping()

        return {"redis": ping}

    async def enqueue(self, task: JobTaskProxy[InputT], payload: InputT) -> None:
        """Send the job; publishing blocks (and retries) on the broker, so it runs off the loop."""
        arguments = payload.model_dump(mode="json")
        # The outbox intent's id makes the task id: a redelivered intent is recognisable in logs
        # and shares the redelivery cap.
        intent = outbox.current_intent.get()
        task_id = f"{task.name}{INTENT_MARK}{intent}" if intent is not None else None
        publish = functools.partial(task.apply_async, args=[arguments], task_id=task_id)
        await asyncio.get_running_loop().run_in_executor(self._publisher, publish)


class JobTaskProxy(Generic[InputT]):
    """Typed view of a job's Celery task (Celery has no type hints of its own)."""

    def __init__(self, task: Any, contract: JobContract[InputT]) -> None:
        self.task = task
        self.contract = contract
        self.name: str = task.name

    def apply_async(self, args: list[Any], **options: Any) -> Any:
        """Send the job to its contract's queue (retries go back to the queue they came from)."""
        options.setdefault("queue", self.contract.queue)
        return self.task.apply_async(args=args, **options)


# --- redelivery cap ------------------------------------------------------------------------------

_local = threading.local()


def _redis_client(settings: Settings) -> redis.Redis:
    """One client per thread and process (a forked pool process must not use its parent's sockets)."""
    client: redis.Redis | None = getattr(_local, "client", None)
    if client is None or getattr(_local, "pid", None) != os.getpid() or _local.url != settings.redis_url:
        client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=5, socket_timeout=5)
        _local.client, _local.pid, _local.url = client, os.getpid(), settings.redis_url
    return client


def deliveries_key(task_id: str, retries: int | str) -> str:
    return f"jobs:deliveries:{task_id}:{retries}"


def count_redelivery(settings: Settings, task_id: str, retries: int) -> int:
    """How many times this try of this task has been delivered again, this delivery included.

    Only redeliveries are counted (the broker flags them: Redis and RabbitMQ do, as Celery's own
    `deduplicate_successful_tasks` relies on), so the usual first delivery costs no round trip.
    If Redis cannot count (only possible with a broker other than REDIS_URL), the job runs: the
    cap guards against crash loops, it must not stop jobs on its own.
    """
    key = deliveries_key(task_id, retries)
    try:
        pipe = _redis_client(settings).pipeline()
        pipe.incr(key)
        pipe.expire(key, VISIBILITY_TIMEOUT_SECONDS * 2)
        count, _ = pipe.execute()
    except redis.RedisError:
        log.warning(
            "could not count the redelivery; running the job", extra={"task_id": task_id}, exc_info=True
        )
        return 0
    return int(count)


def tries_started(settings: Settings, task_id: str) -> int:
    """How many tries of this task were started (the counters of a killed try are still there);
    at least 1. The counters are cleared: the task has ended."""
    try:
        client = _redis_client(settings)
        keys = list(client.scan_iter(match=deliveries_key(task_id, "*"), count=100))
        if keys:
            client.delete(*keys)
        return 1 + max((int(key.rsplit(b":", 1)[1]) for key in keys), default=0)
    except (redis.RedisError, ValueError):
        log.warning("could not count the tries of the job", extra={"task_id": task_id}, exc_info=True)
        return 1


def forget_deliveries(settings: Settings, task_id: str, retries: int) -> None:
    try:
        _redis_client(settings).delete(deliveries_key(task_id, retries))
    except redis.RedisError:
        log.warning("could not clear the delivery counter", extra={"task_id": task_id}, exc_info=True)


def finish_intent(settings: Settings, task_id: str) -> None:
    """Mark the outbox intent of this task done: the job has ended (succeeded or was recorded)."""
    _, mark, tail = task_id.rpartition(INTENT_MARK)
    if not mark or not tail.isdigit():
        return
    try:
        outbox.finish(settings, int(tail))
    except Exception:
        # The intent's lease expires and the job is handed over again; it is idempotent.
        log.warning("could not mark the job's outbox intent done", extra={"task_id": task_id}, exc_info=True)


class RedeliveryCapExceeded(PermanentJobError):
    """The job's worker process died too often while running it (crash, OOM, SIGKILL)."""


# --- the task ------------------------------------------------------------------------------------


class JobTask(Task):  # type: ignore[misc]
    """Base class of every job's task: runs the contract's handler, records permanent failures."""

    contract: JobContract[Any]
    handler: Any  # staticmethod(Handler): called as self.handler(settings, payload)
    failure_hook: Any = None  # staticmethod(FailureHook) or None

    def run(self, arguments: dict[str, Any]) -> None:
        settings = get_settings()
        task_id: str = self.request.id
        retries: int = self.request.retries
        redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
        redeliveries = count_redelivery(settings, task_id, retries) if redelivered else 0
        if redeliveries > MAX_REDELIVERIES:
            error = RedeliveryCapExceeded(
                f"the worker process died {redeliveries} times running this job "
                f"(cap: {MAX_REDELIVERIES} redeliveries); not running it again"
            )
            self.give_up(settings, arguments, error)
            forget_deliveries(settings, task_id, retries)
            return
        try:
            payload = self.contract.input_model.model_validate(arguments)
        except ValidationError as exc:
            invalid = PermanentJobError(f"invalid arguments for {self.name}: {exc}")
            self.give_up(settings, arguments, invalid)
            raise invalid from exc
        try:
            self.handler(settings, payload)
            finish_intent(settings, task_id)
        except PermanentJobError as exc:
            self.give_up(settings, arguments, exc)
            raise
        except (Exception, SoftTimeLimitExceeded) as exc:
            if retries >= self.max_retries:
                self.give_up(settings, arguments, exc)
                raise
            delay = self.contract.backoff(retries + 1)
            log.warning(
                "job failed, will retry",
                extra={
                    "job": self.name,
                    "attempt": retries + 1,
                    "retry_in": round(delay, 2),
                    "error": repr(exc),
                },
            )
            raise self.retry(exc=exc, countdown=delay) from exc
        finally:
            if redelivered:
                forget_deliveries(settings, task_id, retries)

    def give_up(self, settings: Settings, arguments: dict[str, Any], exc: BaseException) -> None:
        """Record the job as failed for good; if the store cannot be written, keep the job.

        Acknowledging the message without a record would lose the job without a trace, so the job
        goes back to the broker as one more retry (it runs again: jobs are idempotent) until the
        record is written.
        """
        try:
            self.fail_permanently(settings, arguments, exc, attempts=self.request.retries + 1)
            finish_intent(settings, self.request.id)
        except Exception as record_error:
            log.warning(
                "could not record the failed job; it stays on the broker",
                extra={"job": self.name, "retry_in": RECORD_RETRY_SECONDS, "error": repr(record_error)},
            )
            raise self.retry(
                exc=record_error, countdown=RECORD_RETRY_SECONDS, max_retries=self.request.retries + 1
            ) from record_error

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        """A try killed at its hard time limit ends here, in the worker's main process.

        The pool killed the process running the job (it ignored its soft time limit), so `run`
        never returned and the message is acknowledged next. A job that overran its time limit
        twice over would overrun it again: it is recorded as failed for good. If the store cannot
        be written, the job is sent again, to run (it is idempotent) and be recorded later.
        Other failures were handled by `run` in the pool process; nothing to do for them.
        """
        if not isinstance(exc, TimeLimitExceeded):
            return
        settings = get_settings()
        arguments: dict[str, Any] = args[0] if args and isinstance(args[0], dict) else {}
        attempts = tries_started(settings, task_id)
        try:
            self.fail_permanently(settings, arguments, exc, attempts=attempts)
            finish_intent(settings, task_id)
        except Exception as record_error:
            log.warning(
                "could not record the job killed at its time limit; it is sent again",
                extra={"job": self.name, "retry_in": RECORD_RETRY_SECONDS, "error": repr(record_error)},
            )
            self.apply_async(
                args=[arguments],
                task_id=task_id,
                countdown=RECORD_RETRY_SECONDS,
                queue=self.contract.queue,
                retries=attempts - 1,
            )

    def fail_permanently(
        self, settings: Settings, arguments: dict[str, Any], exc: BaseException, *, attempts: int
    ) -> None:
        """Record the job in the failed-jobs store, then run the job's own failure hook."""
        record_failed_job(
            settings, job_name=self.name, arguments=arguments, exception=repr(exc), attempts=attempts
        )
        if self.failure_hook is not None:
            try:
                payload = self.contract.input_model.model_validate(arguments)
            except ValidationError:
                return
            try:
                self.failure_hook(settings, payload, exc)
            except Exception:
                log.exception("failure hook of job raised", extra={"job": self.name})


def job_task(
    contract: JobContract[InputT],
    handle: Handler[InputT],
    *,
    on_failure: FailureHook[InputT] | None = None,
) -> JobTaskProxy[InputT]:
    """Register `handle` as the Celery task of `contract`, with the contract as task options."""
    if contract.timeout + HARD_LIMIT_GRACE_SECONDS + contract.max_backoff >= VISIBILITY_TIMEOUT_SECONDS:
        raise ValueError(
            f"job {contract.name}: timeout + max_backoff must stay well below the broker's "
            f"visibility timeout ({VISIBILITY_TIMEOUT_SECONDS} s), or the job is delivered twice"
        )
    attributes = {
        "name": contract.name,
        "__module__": handle.__module__,
        "__doc__": handle.__doc__,
        "contract": contract,
        "handler": staticmethod(handle),
        "failure_hook": staticmethod(on_failure) if on_failure is not None else None,
        "max_retries": contract.max_tries - 1,
        "soft_time_limit": contract.timeout,
        "time_limit": contract.timeout + HARD_LIMIT_GRACE_SECONDS,
        "acks_late": True,
        "reject_on_worker_lost": True,
    }
    task = app.register_task(type(f"{contract.name}_task", (JobTask,), attributes)())
    return JobTaskProxy(task, contract)
