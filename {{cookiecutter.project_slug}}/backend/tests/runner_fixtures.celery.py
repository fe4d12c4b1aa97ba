"""Runner fixtures for Celery: a real Redis and a real worker (not eager mode).

Redis comes from TEST_REDIS_URL, else redis://127.0.0.1:6379/1 (emptied at the start of the
session: use a database number of its own). Under pytest-xdist worker N takes the number 2N above
it, so each worker has its own broker (and a nested session the number after that, see
`tests.cli_runner`). Without Redis the tests that need it are skipped with the reason, except under
CI=true, where that is a failure.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from celery.contrib.testing.worker import start_worker  # type: ignore[import-untyped]
from celery.signals import before_task_publish  # type: ignore[import-untyped]

from internal.celery_app import app as celery_app
from internal.celery_app import configure
from internal.config import Settings
from tests.processes import xdist_worker_index
from tests.runner_session import REDIS_DATABASES

DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/1"
DRAIN_SECONDS = 30.0
log = logging.getLogger(__name__)


def redis_url_for_tests() -> str:
    url = os.environ.get("TEST_REDIS_URL") or DEFAULT_TEST_REDIS_URL
    index = xdist_worker_index()
    if not index:
        return url
    parts = urlsplit(url)
    number = int(parts.path.strip("/") or 0) + 2 * index
    return urlunsplit(parts._replace(path=f"/{number % REDIS_DATABASES}"))


@pytest.fixture(scope="session")
def runner_settings() -> dict[str, Any]:
    url = redis_url_for_tests()
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        reason = f"REDIS IS NOT REACHABLE at {url} ({exc}): Celery tests need a real Redis (TEST_REDIS_URL)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    client.flushdb()
    client.close()
    return {"redis_url": url, "celery_broker_url": "", "celery_result_backend": ""}


@pytest.fixture(scope="session")
def job_worker(settings: Settings) -> Iterator[Any]:
    """A real Celery worker in a thread of this process, consuming from the test Redis."""
    configure(celery_app, settings)
    import internal.celery_tasks  # noqa: F401  (registers every job and its queue)

    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30) as worker:
        yield worker


_published = [0]  # messages this process sent (the app, the worker's retries, an embedded beat)


def _count_published(**_: Any) -> None:
    _published[0] += 1


before_task_publish.connect(_count_published, weak=False)


def _jobs_in_flight(client: redis.Redis, queues: set[str]) -> int:
    """Messages of `queues` queued, or delivered and not yet acknowledged (late acks: a running
    job's message stays in kombu's `unacked` hash until the job has ended, a retry's until its
    countdown ran). Each `unacked` entry is [message, exchange, routing key]."""
    pipe = client.pipeline()
    for queue in sorted(queues):
        pipe.llen(queue)
    pipe.hvals("unacked")
    *lengths, unacked = pipe.execute()
    queued: int = sum(lengths)
    return queued + sum(1 for entry in unacked if json.loads(entry)[-1] in queues)


@pytest.fixture(autouse=True)
def _finish_jobs(request: pytest.FixtureRequest, _empty_tables: None) -> Iterator[None]:
    """After a test that ran the worker, let the jobs it queued end before the tables are emptied.

    Otherwise a job still queued would find its rows gone and fail into the next test's store (and
    its log). Idle means nothing in flight on the worker's queues twice in a row (a message moves
    from its queue to the `unacked` hash in two steps), or once when this process sent nothing
    during the test (most tests: no message can then be between the two steps). Whatever is still
    in flight after DRAIN_SECONDS is purged.
    """
    published = _published[0]
    yield
    if "job_worker" not in request.fixturenames:
        return
    worker = request.getfixturevalue("job_worker")
    queues = {queue.name for queue in worker.consumer.task_consumer.queues}
    client = redis.Redis.from_url(redis_url_for_tests())
    try:
        deadline = time.monotonic() + DRAIN_SECONDS
        idle = 1 if _published[0] == published else 0
        while True:
            if time.monotonic() > deadline:
                log.warning("jobs still in flight after %.0f s: purged", DRAIN_SECONDS)
                celery_app.control.purge()
                break
            idle = idle + 1 if _jobs_in_flight(client, queues) == 0 else 0
            if idle >= 2:
                break
            time.sleep(0.02)
    finally:
        client.close()
