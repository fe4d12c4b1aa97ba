"""CELERY_TASK_SENT_EVENTS: a dispatch publishes Flower's "task sent" event only when it is on."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis
from celery import Celery  # type: ignore[import-untyped]

from internal.celery_app import celery_config
from internal.config import Settings

QUEUE = "task-events-test"


def dispatcher(settings: Settings, *, sent_events: bool) -> Celery:
    app = Celery(f"events-{sent_events}")
    app.conf.update(celery_config(settings.model_copy(update={"celery_task_sent_events": sent_events})))
    return app


def test_a_task_sent_event_is_published_only_when_the_setting_is_on(settings: Settings) -> None:
    quiet, announced = dispatcher(settings, sent_events=False), dispatcher(settings, sent_events=True)
    events: list[dict[str, Any]] = []
    with quiet.connection_for_read() as connection:
        receiver = quiet.events.Receiver(connection, handlers={"*": events.append})
        listening = threading.Thread(target=receiver.capture, kwargs={"wakeup": False}, daemon=True)
        listening.start()
        try:
            with quiet.events.default_dispatcher() as marks:

                def ready() -> bool:
                    """Subscribed once a mark of ours arrives; later events arrive after it, in order."""
                    marks.send("test-mark", step="ready")
                    return _marked(events, "ready")

                wait_until(ready)
                quiet_id, announced_id = str(uuid.uuid4()), str(uuid.uuid4())
                quiet.send_task("events.test", task_id=quiet_id, queue=QUEUE)
                announced.send_task("events.test", task_id=announced_id, queue=QUEUE)
                marks.send("test-mark", step="done")
                wait_until(lambda: _marked(events, "done"))
        finally:
            receiver.should_stop = True
            listening.join(timeout=5)
            redis.Redis.from_url(settings.redis_url).delete(QUEUE)
    assert [event["uuid"] for event in events if event["type"] == "task-sent"] == [announced_id]


def _marked(events: list[dict[str, Any]], step: str) -> bool:
    return any(event["type"] == "test-mark" and event.get("step") == step for event in events)


def wait_until(condition: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        time.sleep(0.05)
