"""The failed-jobs store over HTTP: a job rejected for good is listed, and a retry delivers it."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support import Mailbox, eventually, welcome_email_sent_at


async def failed_jobs(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/jobs/failed")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


async def first_failed_job(client: httpx.AsyncClient) -> dict[str, Any] | None:
    entries = await failed_jobs(client)
    return entries[0] if entries else None


async def test_store_is_empty_when_nothing_failed(client: httpx.AsyncClient) -> None:
    assert await failed_jobs(client) == []


async def create_user_whose_welcome_email_is_rejected(
    client: httpx.AsyncClient, mailbox: Mailbox, email: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Create a user while the SMTP server answers 550; return the user and its failed-jobs entry."""
    mailbox.reply_next_with("550 mailbox unavailable")
    user = (await client.post("/api/v1/users", json={"email": email, "name": "Rejected"})).json()
    entry = await eventually(lambda: first_failed_job(client), within=60)
    return user, entry


async def test_smtp_rejection_lands_in_the_store_without_retrying(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    user, entry = await create_user_whose_welcome_email_is_rejected(client, mailbox, "no@example.com")

    assert entry["job_name"] == "send_welcome_email"
    assert entry["arguments"] == {"user_id": user["id"]}
    assert entry["attempts"] == 1
    assert "550" in entry["exception"]
    assert entry["retried_at"] is None
    assert mailbox.messages == []


async def test_retry_dispatches_the_job_again_and_marks_the_entry(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    user, entry = await create_user_whose_welcome_email_is_rejected(client, mailbox, "re@example.com")

    response = await client.post(f"/api/v1/jobs/failed/{entry['id']}/retry")
    assert response.status_code == 202
    assert response.json()["job_name"] == "send_welcome_email"

    await eventually(lambda: welcome_email_sent_at(client, user["id"]), within=60)
    assert [m["To"] for m in mailbox.messages] == ["re@example.com"]
    assert (await failed_jobs(client))[0]["retried_at"] is not None


async def test_retry_of_an_unknown_entry_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/jobs/failed/424242/retry")
    assert response.status_code == 404
