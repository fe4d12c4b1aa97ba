"""What `lich dev` runs in this project.

The stack is the API, a Celery worker and beat (the commands of docker-compose.yml), on the Redis
that REDIS_URL names: Redis itself is not started here.
"""

from __future__ import annotations

from internal.celery_app import broker_url
from internal.config import Settings
from internal.lich.handover import require_broker
from internal.lich.project import Project
from lich_dev.dev import Process, api_process, python_module, require_free_port


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
