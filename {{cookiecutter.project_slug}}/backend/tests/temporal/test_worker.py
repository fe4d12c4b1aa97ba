"""The worker process: discovery without a list, connection retries, heartbeat, clean SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from temporalio.client import Client

from internal.config import Settings
from internal.workers.main import discover, run
from tests.conftest import BACKEND
from tests.support import eventually


def test_every_workflow_and_activity_is_discovered() -> None:
    workflows, activities = discover()
    workflow_names = {getattr(w, "__temporal_workflow_definition").name for w in workflows}
    activity_names = {getattr(a, "__temporal_activity_definition").name for a in activities}
    # At least these: jobs added later (`lich make job`) are discovered too.
    assert {"SendWelcomeEmailWorkflow", "ProcessOrderWorkflow"} <= workflow_names
    assert {
        "send_welcome_email",
        "record_failed_job",
        "validate_order",
        "charge_payment",
        "refund_payment",
        "reserve_inventory",
        "release_inventory",
        "send_order_confirmation",
        "finish_order",
    } <= activity_names


async def test_worker_retries_until_the_server_answers_and_stops_on_request(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    unreachable = settings.model_copy(update={"temporal_address": "127.0.0.1:1"})
    stop = asyncio.Event()
    with caplog.at_level(logging.WARNING, logger="internal.workers"):
        task = asyncio.create_task(run(unreachable, stop))

        async def retried() -> bool | None:
            return True if "Temporal is not reachable at 127.0.0.1:1" in caplog.text else None

        await eventually(retried, within=15)
        stop.set()
        await asyncio.wait_for(task, timeout=10)


@pytest.mark.usefixtures("schedules_removed")
async def test_worker_touches_its_heartbeat_and_removes_it_on_stop(
    settings: Settings, job_worker: Client, tmp_path: Path
) -> None:
    heartbeat = tmp_path / "worker.heartbeat"
    stop = asyncio.Event()
    task = asyncio.create_task(run(settings, stop, heartbeat))

    async def beating() -> bool | None:
        return True if heartbeat.exists() else None

    await eventually(beating, within=20)
    stop.set()
    await asyncio.wait_for(task, timeout=30)
    assert not heartbeat.exists()


@pytest.mark.usefixtures("schedules_removed")
def test_worker_process_exits_cleanly_on_sigterm(
    settings: Settings, job_worker: Client, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "TEMPORAL_NAMESPACE": settings.temporal_namespace,
        "TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
    }
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603  (this interpreter, fixed arguments)
            [sys.executable, "-m", "internal.workers.main", "--heartbeat-file", str(tmp_path / "hb")],
            cwd=BACKEND,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            for _ in range(300):
                if "worker started" in log_path.read_text() or process.poll() is not None:
                    break
                time.sleep(0.1)
            assert "worker started" in log_path.read_text(), log_path.read_text()
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0, log_path.read_text()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert "worker stopped" in log_path.read_text()
