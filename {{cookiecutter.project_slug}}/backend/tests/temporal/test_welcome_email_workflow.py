"""SendWelcomeEmail end to end: dispatched like the API does, run by the real worker, delivered to a
real SMTP server; one workflow per user."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from internal.config import Settings
from internal.jobs import send_welcome_email
from internal.jobs.runner import JobRunner
from internal.jobs.send_welcome_email import (
    SendWelcomeEmailInput,
    SendWelcomeEmailResult,
    SendWelcomeEmailWorkflow,
)
from internal.models import User
from tests.support import Mailbox, api_client, eventually, sign_up
from tests.temporal.helpers import make_user, row


@pytest.fixture
async def runner(settings: Settings, job_worker: Client) -> AsyncIterator[JobRunner]:
    instance = JobRunner(settings)
    await instance.start()
    yield instance
    await instance.close()


async def test_dispatch_runs_the_workflow_and_sends_the_email(
    runner: JobRunner, job_worker: Client, settings: Settings, mailbox: Mailbox
) -> None:
    user_id = make_user(settings, "wf@example.com")
    await send_welcome_email.dispatch(runner, SendWelcomeEmailInput(user_id=user_id))

    handle = job_worker.get_workflow_handle_for(SendWelcomeEmailWorkflow.run, f"send-welcome-email-{user_id}")
    assert await handle.result() == SendWelcomeEmailResult(sent=True)
    assert [m["To"] for m in mailbox.messages] == ["wf@example.com"]
    assert row(settings, User, user_id).welcome_email_sent_at is not None
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.COMPLETED
    assert description.task_queue == settings.temporal_task_queue


async def test_dispatching_twice_sends_one_email(
    runner: JobRunner, job_worker: Client, settings: Settings, mailbox: Mailbox
) -> None:
    payload = SendWelcomeEmailInput(user_id=make_user(settings, "twice@example.com"))
    await send_welcome_email.dispatch(runner, payload)
    await send_welcome_email.dispatch(runner, payload)
    await job_worker.get_workflow_handle(f"send-welcome-email-{payload.user_id}").result()
    assert len(mailbox.messages) == 1


async def test_ready_names_temporal_when_it_is_down(settings: Settings) -> None:
    async with api_client(settings.model_copy(update={"temporal_address": "127.0.0.1:1"})) as client:
        response = await client.get("/ready")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == "ok"
    assert checks["temporal"] != "ok"


async def test_user_created_while_temporal_is_down_lands_in_the_store(
    settings: Settings, admin_headers: dict[str, str]
) -> None:
    async with api_client(settings.model_copy(update={"temporal_address": "127.0.0.1:1"})) as client:
        response = await sign_up(client, "down@example.com")
        assert response.status_code == 201
        failed = (await client.get("/api/v1/jobs/failed", headers=admin_headers)).json()
    assert [(f["job_name"], f["attempts"]) for f in failed] == [("send_welcome_email", 0)]
    assert "dispatch failed" in failed[0]["exception"]


async def test_ready_is_200_with_temporal_up(client: httpx.AsyncClient) -> None:
    async def ready() -> dict[str, str] | None:
        response = await client.get("/ready")
        checks: dict[str, str] = response.json()["checks"]
        return checks if response.status_code == 200 else None

    assert (await eventually(ready))["temporal"] == "ok"
