"""What `lich jobs retry` and `lich jobs schedules` do and say that depends on the runner: here,
Celery. Operational code (it ships in the image); `lich dev` reuses `require_broker`.
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
from internal.lich.errors import LichError

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
