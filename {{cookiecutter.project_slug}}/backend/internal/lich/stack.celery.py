"""What `lich dev` runs in this project, and how `lich jobs retry` hands a job to the runner.

The stack is the API, a Celery worker and beat (the commands of docker-compose.yml), on the Redis
that REDIS_URL names: Redis itself is not started here.
"""

from __future__ import annotations

from typing import Any

import redis
from pydantic import BaseModel

from internal.celery_app import broker_url
from internal.config import Settings
from internal.jobs import registry
from internal.jobs.contract import JobContract
from internal.jobs.runner import JobRunner
from internal.lich.dev import Process, api_process, python_module, require_free_port
from internal.lich.errors import LichError
from internal.lich.project import Project

# What `lich jobs schedules` says runs the periodic jobs.
SCHEDULER = "Periodic jobs are sent by beat: `celery -A internal.celery_app beat` (exactly one)."


def require_broker(settings: Settings) -> None:
    url = broker_url(settings)
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise LichError(
            f"Redis is not reachable at {url} ({exc}); start it with `docker compose up -d redis` "
            "(or a local `redis-server`), or point REDIS_URL at one"
        ) from exc
    finally:
        client.close()


def processes(project: Project, settings: Settings, *, host: str, port: int) -> list[Process]:
    """The long-running processes, in start order."""
    require_free_port(port, "the API", "pick another with --port")
    require_broker(settings)
    return [
        python_module("worker", "celery", "-A", "internal.celery_app", "worker", "-l", "INFO", script=True),
        python_module("beat", "celery", "-A", "internal.celery_app", "beat", "-l", "INFO", script=True),
        api_process(host, port),
    ]


def banner(settings: Settings, *, host: str, port: int) -> list[str]:
    return [
        f"API on http://{host}:{port} (docs: http://{host}:{port}/docs); Celery on {broker_url(settings)}",
        "Ctrl-C stops everything",
    ]


async def hand_over(settings: Settings, contract: JobContract[Any], payload: BaseModel) -> str:
    """Send the job to the broker; a running worker picks it up."""
    require_broker(settings)
    runner = JobRunner(settings)
    await runner.start()
    try:
        await registry.dispatch(runner, contract, payload)
    finally:
        await runner.close()
    return f"sent to Celery (queue {contract.queue!r}); a running worker picks it up"
