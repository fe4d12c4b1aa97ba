"""The Celery runner against a real Redis and a real worker (the `job_worker` fixture): loss-safe
configuration, the job contract as task options, retries with backoff, the failed-jobs store, the
redelivery cap, and readiness."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
import redis
from celery.signals import worker_process_init  # type: ignore[import-untyped]
from pydantic import BaseModel
from sqlalchemy import select

from internal.celery_app import (
    HARD_TIME_LIMIT_SECONDS,
    MAX_REDELIVERIES,
    SOFT_SHUTDOWN_TIMEOUT_SECONDS,
    SOFT_TIME_LIMIT_SECONDS,
    VISIBILITY_TIMEOUT_SECONDS,
    broker_url,
    result_backend_url,
)
from internal.celery_app import app as celery_app
from internal.config import Settings
from internal.db.base import utcnow
from internal.db.sync import sync_sessionmaker
from internal.jobs import registry
from internal.jobs.contract import JobContract, PermanentJobError
from internal.jobs.purge_failed_jobs import task as purge
from internal.jobs.runner import deliveries_key, job_task
from internal.jobs.send_welcome_email import task as send_welcome_email_task
from internal.models import FailedJob
from tests.support import Mailbox, api_client, eventually, sign_up, welcome_email_sent_at


class Payload(BaseModel):
    key: str = "k"


# Test jobs, registered at import (before the session's worker starts, so it knows them).
CALLS: dict[str, list[float]] = {}
_calls_lock = threading.Lock()


def _record(key: str) -> int:
    with _calls_lock:
        CALLS.setdefault(key, []).append(time.monotonic())
        return len(CALLS[key])


def _flaky(_settings: Settings, payload: Payload) -> None:
    """Fails twice with a transient error, then succeeds."""
    if _record(payload.key) < 3:
        raise ConnectionError("not yet")


def _always_down(_settings: Settings, payload: Payload) -> None:
    _record(payload.key)
    raise ConnectionError("always down")


def _rejected(_settings: Settings, payload: Payload) -> None:
    _record(payload.key)
    raise PermanentJobError("bad input")


HOOKED: list[tuple[str, str]] = []


def _on_failure(_settings: Settings, payload: Payload, exc: BaseException) -> None:
    HOOKED.append((payload.key, type(exc).__name__))


FLAKY = job_task(JobContract(name="tests.flaky", input_model=Payload, max_tries=3, retry_after=0.4), _flaky)
ALWAYS_DOWN = job_task(
    JobContract(name="tests.always_down", input_model=Payload, max_tries=3, retry_after=0.05),
    _always_down,
    on_failure=_on_failure,
)
REJECTED = job_task(JobContract(name="tests.rejected", input_model=Payload, max_tries=5), _rejected)


def stored(settings: Settings) -> list[FailedJob]:
    with sync_sessionmaker(settings.sync_database_url)() as session:
        return list(session.scalars(select(FailedJob).order_by(FailedJob.id)))


async def store_has(settings: Settings, count: int = 1) -> list[FailedJob] | None:
    entries = stored(settings)
    return entries if len(entries) >= count else None


def test_a_pool_process_starts_without_the_database_pools_it_inherited(settings: Settings) -> None:
    """A forked pool process must not use its parent's connections (`worker_process_init`)."""
    inherited = sync_sessionmaker(settings.sync_database_url)
    worker_process_init.send(sender=None)
    assert sync_sessionmaker(settings.sync_database_url) is not inherited


def test_configuration_is_loss_safe() -> None:
    conf = celery_app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.worker_cancel_long_running_tasks_on_connection_loss is True
    assert conf.broker_connection_retry_on_startup is True
    assert conf.broker_transport_options["visibility_timeout"] == VISIBILITY_TIMEOUT_SECONDS
    assert conf.result_backend_transport_options["visibility_timeout"] == VISIBILITY_TIMEOUT_SECONDS
    assert conf.visibility_timeout == VISIBILITY_TIMEOUT_SECONDS
    assert SOFT_TIME_LIMIT_SECONDS < HARD_TIME_LIMIT_SECONDS < VISIBILITY_TIMEOUT_SECONDS
    assert (conf.task_soft_time_limit, conf.task_time_limit) == (
        SOFT_TIME_LIMIT_SECONDS,
        HARD_TIME_LIMIT_SECONDS,
    )
    assert conf.task_serializer == "json"
    assert conf.accept_content == ["json"]
    assert conf.enable_utc is True
    assert conf.timezone == "UTC"
    assert conf.task_ignore_result is True
    # Worker events only while Flower runs (it enables them); "task sent" events when asked for.
    assert conf.worker_send_task_events is False
    assert conf.task_send_sent_event is False
    assert 0 < SOFT_SHUTDOWN_TIMEOUT_SECONDS < 30  # below the compose stop_grace_period


def test_broker_and_results_derive_from_redis_url_unless_set() -> None:
    plain = Settings(_env_file=None, redis_url="redis://r:6379/3")
    assert broker_url(plain) == result_backend_url(plain) == "redis://r:6379/3"
    split = Settings(
        _env_file=None,
        redis_url="redis://r:6379/3",
        celery_broker_url="redis://b:6379/0",
        celery_result_backend="redis://rb:6379/1",
    )
    assert (broker_url(split), result_backend_url(split)) == ("redis://b:6379/0", "redis://rb:6379/1")


def test_every_job_module_is_a_registered_task(job_worker: Any) -> None:
    names = set(registry.job_modules())
    assert {"send_welcome_email", "purge_failed_jobs"} <= names
    assert names <= set(celery_app.tasks)
    assert "purge_failed_jobs" in {entry["task"] for entry in celery_app.conf.beat_schedule.values()}


def test_contract_becomes_task_options() -> None:
    task = send_welcome_email_task.task
    contract = send_welcome_email_task.contract
    assert task.max_retries == contract.max_tries - 1
    assert task.soft_time_limit == contract.timeout
    assert contract.timeout < task.time_limit < VISIBILITY_TIMEOUT_SECONDS
    assert task.acks_late is True
    assert task.reject_on_worker_lost is True


async def test_email_arrives_once_even_if_the_job_is_delivered_twice(
    client: httpx.AsyncClient, mailbox: Mailbox, admin_headers: dict[str, str]
) -> None:
    user = (await sign_up(client, "twice@example.com")).json()
    send_welcome_email_task.apply_async(args=[{"user_id": user["id"]}])  # a duplicate delivery

    await eventually(lambda: welcome_email_sent_at(client, user["id"], admin_headers))
    await asyncio.sleep(1.0)  # give the duplicate time to run (it must find the email sent)
    assert [m["To"] for m in mailbox.messages] == ["twice@example.com"]


async def test_transient_smtp_error_is_retried_with_backoff(
    client: httpx.AsyncClient, mailbox: Mailbox, settings: Settings, admin_headers: dict[str, str]
) -> None:
    mailbox.reply_next_with("451 try again later")
    started = time.monotonic()
    user = (await sign_up(client, "later@example.com")).json()

    await eventually(lambda: welcome_email_sent_at(client, user["id"], admin_headers), within=60)
    elapsed = time.monotonic() - started
    retry_after = send_welcome_email_task.contract.retry_after
    assert elapsed >= retry_after / 2, f"retried after {elapsed:.2f}s, before the backoff"
    assert [m["To"] for m in mailbox.messages] == ["later@example.com"]
    assert stored(settings) == []


async def test_backoff_grows_between_tries(job_worker: Any, settings: Settings) -> None:
    FLAKY.apply_async(args=[Payload(key="flaky").model_dump()])

    async def three_calls() -> list[float] | None:
        calls = CALLS.get("flaky", [])
        return calls if len(calls) >= 3 else None

    first, second, third = await eventually(three_calls, within=30)
    assert second - first >= 0.4 / 2  # backoff(1) is in [retry_after/2, retry_after]
    assert third - second >= 0.4  # backoff(2) is in [retry_after, 2 * retry_after]
    await asyncio.sleep(0.3)
    assert stored(settings) == []


async def test_exhausted_tries_land_in_the_store_and_run_the_failure_hook(
    job_worker: Any, settings: Settings
) -> None:
    ALWAYS_DOWN.apply_async(args=[Payload(key="down").model_dump()])

    [entry] = await eventually(lambda: store_has(settings), within=30)
    assert (entry.job_name, entry.arguments, entry.attempts) == ("tests.always_down", {"key": "down"}, 3)
    assert "always down" in entry.exception
    assert len(CALLS["down"]) == 3
    assert ("down", "ConnectionError") in HOOKED


async def test_permanent_error_is_not_retried(job_worker: Any, settings: Settings) -> None:
    REJECTED.apply_async(args=[Payload(key="rejected").model_dump()])

    [entry] = await eventually(lambda: store_has(settings), within=30)
    assert (entry.job_name, entry.attempts) == ("tests.rejected", 1)
    await asyncio.sleep(0.5)
    assert len(CALLS["rejected"]) == 1


async def test_arguments_that_do_not_validate_fail_permanently(job_worker: Any, settings: Settings) -> None:
    send_welcome_email_task.apply_async(args=[{"user_id": "not a number"}])

    [entry] = await eventually(lambda: store_has(settings), within=30)
    assert (entry.job_name, entry.attempts) == ("send_welcome_email", 1)
    assert "invalid arguments" in entry.exception


def send_as_redelivered(settings: Settings, task: Any, arguments: dict[str, Any], task_id: str) -> None:
    """Put the task's message on its queue the way Redis hands back the message of a dead worker:
    kombu flags it redelivered (sent to a queue no worker reads first, so none takes it unflagged)."""
    held = f"held-{task_id}"
    task.apply_async(args=[arguments], task_id=task_id, queue=held)
    broker = redis.Redis.from_url(broker_url(settings))
    raw = broker.rpop(held)
    assert isinstance(raw, bytes)
    message = json.loads(raw)
    queue = task.contract.queue
    message["headers"]["redelivered"] = True
    message["properties"]["delivery_info"].update(exchange=queue, routing_key=queue, redelivered=True)
    broker.lpush(queue, json.dumps(message))
    broker.close()


async def test_redelivery_cap_sends_the_job_to_the_store_instead_of_running_it(
    client: httpx.AsyncClient, mailbox: Mailbox, settings: Settings, admin_headers: dict[str, str]
) -> None:
    user = (await sign_up(client, "crash@example.com")).json()

    await eventually(lambda: welcome_email_sent_at(client, user["id"], admin_headers))
    mailbox.clear()
    # As if the worker process had died MAX_REDELIVERIES times running this very try, and the
    # broker were handing it back once more.
    task_id = "crashing-job-0001"
    counter = redis.Redis.from_url(settings.redis_url)
    counter.set(deliveries_key(task_id, 0), MAX_REDELIVERIES)
    send_as_redelivered(settings, send_welcome_email_task, {"user_id": user["id"]}, task_id)

    [entry] = await eventually(lambda: store_has(settings), within=30)
    assert entry.job_name == "send_welcome_email"
    assert "RedeliveryCapExceeded" in entry.exception
    assert mailbox.messages == []
    assert counter.get(deliveries_key(task_id, 0)) is None
    counter.close()


async def test_ready_names_redis_when_it_is_down(settings: Settings) -> None:
    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    async with api_client(broken) as client:
        response = await client.get("/ready")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == "ok"
    assert checks["redis"] != "ok"


async def test_ready_checks_redis(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json()["checks"]["redis"] == "ok"


@pytest.mark.usefixtures("job_worker")
async def test_purge_job_deletes_only_old_retried_entries(settings: Settings) -> None:
    now = utcnow()
    with sync_sessionmaker(settings.sync_database_url).begin() as session:
        for retried_at in (now - timedelta(days=40), now - timedelta(days=1), None):
            session.add(
                FailedJob(job_name="x", arguments={}, exception="e", attempts=1, retried_at=retried_at)
            )
    purge.apply_async(args=[{"older_than_days": 30}])

    async def two_left() -> list[FailedJob] | None:
        entries = stored(settings)
        return entries if len(entries) == 2 else None

    remaining = await eventually(two_left, within=30)
    assert sorted(e.retried_at is None for e in remaining) == [False, True]
