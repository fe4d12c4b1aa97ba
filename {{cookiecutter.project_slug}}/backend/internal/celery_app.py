"""The Celery application, configured from Settings with loss-safe defaults.

Run from `backend/`:

    celery -A internal.celery_app worker -l INFO
    celery -A internal.celery_app beat -l INFO     # exactly one, schedule in ./celerybeat-schedule

Nothing connects at import time. Tasks are registered by `internal.celery_tasks` (imported by the
worker and beat at startup), which imports every job module of `internal.jobs`.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery  # type: ignore[import-untyped]
from celery.signals import (  # type: ignore[import-untyped]
    setup_logging,
    worker_process_init,
    worker_process_shutdown,
)

from internal.config import Settings, get_settings, use_settings
from internal.db.sync import dispose_all
from internal.logs import configure_logging

log = logging.getLogger(__name__)

# Redis re-delivers a message that is not acknowledged within the visibility timeout. With late
# acknowledgement that is every running or waiting (retry countdown) task, so it must exceed the
# longest hard time limit plus the longest retry delay; `job_task` refuses a job contract whose
# timeout + max_backoff does not fit. It is also the recovery bound: the messages a worker held
# when it was killed outright (SIGKILL, OOM, a lost node) are delivered again within
# VISIBILITY_TIMEOUT_SECONDS + UNACKED_RESTORE_INTERVAL_SECONDS once any worker is running, and a
# countdown retry is never delivered twice (its wait is shorter than the timeout). The default
# (5 minutes) is CELERY_VISIBILITY_TIMEOUT's; tests lower the setting to see a recovery sooner.
VISIBILITY_TIMEOUT_SECONDS = int(Settings.model_fields["celery_visibility_timeout"].default)
UNACKED_RESTORE_INTERVAL_SECONDS = 10
SOFT_TIME_LIMIT_SECONDS = 120
HARD_TIME_LIMIT_SECONDS = 150
# On SIGTERM (remapped to SIGQUIT in compose) running tasks get this long to finish before the
# worker stops them and hands their messages back; below the container's stop grace period (30 s).
SOFT_SHUTDOWN_TIMEOUT_SECONDS = 20.0
# A task whose worker process died (SIGKILL, OOM) is redelivered at most this many times.
MAX_REDELIVERIES = 3
DEFAULT_QUEUE = "default"


def broker_url(settings: Settings) -> str:
    return settings.celery_broker_url or settings.redis_url


def result_backend_url(settings: Settings) -> str:
    return settings.celery_result_backend or settings.redis_url


def celery_config(settings: Settings) -> dict[str, Any]:
    """Every Celery setting this project relies on, in one place."""
    transport_options = {
        "visibility_timeout": settings.celery_visibility_timeout,
        # Sweep for messages of dead workers every interval (not every 10th one).
        "unacked_restore_interval": UNACKED_RESTORE_INTERVAL_SECONDS,
        "unacked_restore_throttle": 1,
    }
    return {
        "broker_url": broker_url(settings),
        "result_backend": result_backend_url(settings),
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": 5.0,
        "broker_transport_options": transport_options,
        "result_backend_transport_options": transport_options,
        "visibility_timeout": settings.celery_visibility_timeout,
        # A message is acknowledged only once its task finished; a task whose process died is put
        # back (capped by MAX_REDELIVERIES), and a lost broker connection stops running tasks
        # instead of letting their redelivered copies run alongside them.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "task_soft_time_limit": SOFT_TIME_LIMIT_SECONDS,
        "task_time_limit": HARD_TIME_LIMIT_SECONDS,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "timezone": "UTC",
        "enable_utc": True,
        "task_default_queue": DEFAULT_QUEUE,
        "task_ignore_result": True,
        "result_expires": 24 * 60 * 60,
        # A leaking pool process is replaced once it holds 512 MiB (KiB here), and every 10,000
        # jobs whatever its size. Not every 1,000: forking and warming a replacement costs about
        # 0.1 s, a tenth of a millisecond per job at that rate, 15 % of a short job's cost.
        "worker_max_tasks_per_child": 10_000,
        "worker_max_memory_per_child": 512 * 1024,
        "worker_soft_shutdown_timeout": SOFT_SHUTDOWN_TIMEOUT_SECONDS,
        "worker_enable_soft_shutdown_on_idle": True,
        # Task events feed Flower, which turns them on in every worker while it runs (a broadcast
        # every few seconds): a stack without Flower does not pay ~3 extra messages per job. The
        # producer's "task sent" event cannot be switched on that way: CELERY_TASK_SENT_EVENTS.
        "worker_send_task_events": False,
        "task_send_sent_event": settings.celery_task_sent_events,
        "worker_hijack_root_logger": False,
    }


def configure(celery: Any, settings: Settings) -> None:
    """(Re)configure `celery` from `settings`; job code in this process then runs with them too."""
    celery.conf.update(celery_config(settings))
    use_settings(settings)


app = Celery("internal", include=["internal.celery_tasks"])
# Not `configure`: importing the app must not pin the settings job code runs with.
app.conf.update(celery_config(get_settings()))


@setup_logging.connect  # type: ignore[untyped-decorator]
def _logging(loglevel: int | str | None = None, **_: Any) -> None:
    """Route worker and beat logs through the project's formatter (JSON lines in production)."""
    level = logging.getLevelName(loglevel.upper()) if isinstance(loglevel, str) else loglevel
    configure_logging(
        json_lines=get_settings().environment == "production",
        level=level if isinstance(level, int) else logging.INFO,
    )


@worker_process_init.connect  # type: ignore[untyped-decorator]
def _after_fork(**_: Any) -> None:
    """A forked pool process must not use its parent's database connections: start afresh."""
    dispose_all()


@worker_process_shutdown.connect  # type: ignore[untyped-decorator]
def _before_exit(**_: Any) -> None:
    dispose_all()
