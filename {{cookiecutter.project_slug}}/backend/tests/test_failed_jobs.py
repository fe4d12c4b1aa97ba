"""The failed-jobs store over HTTP: admins only; a job rejected for good is listed (newest first,
paginated, filterable), and a retry delivers it, once."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from internal.config import Settings
from internal.services.failed_jobs import record_failed_job
from tests.support import Mailbox, eventually, headers_for, sign_up, welcome_email_sent_at

ROUTES = [("GET", "/api/v1/jobs/failed"), ("POST", "/api/v1/jobs/failed/1/retry")]


async def failed_jobs(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/jobs/failed", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def first_failed_job(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any] | None:
    entries = await failed_jobs(client, headers)
    return entries[0] if entries else None


def stored_entries(settings: Settings, count: int, job_name: str = "send_welcome_email") -> list[int]:
    """`count` entries recorded straight in the store (user ids that do not exist); their ids."""
    return [
        record_failed_job(
            settings, job_name=job_name, arguments={"user_id": 900000 + n}, exception="boom", attempts=1
        )
        for n in range(count)
    ]


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_anonymous_calls_are_401_with_www_authenticate(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_a_non_admin_gets_403(
    client: httpx.AsyncClient, settings: Settings, method: str, path: str
) -> None:
    user_id = (await sign_up(client, "user@example.com")).json()["id"]
    response = await client.request(method, path, headers=headers_for(settings, user_id))
    assert response.status_code == 403


async def test_store_is_empty_when_nothing_failed(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    assert await failed_jobs(client, admin_headers) == []


async def create_user_whose_welcome_email_is_rejected(
    client: httpx.AsyncClient, mailbox: Mailbox, email: str, headers: dict[str, str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Create a user while the SMTP server answers 550; return the user and its failed-jobs entry."""
    mailbox.reply_next_with("550 mailbox unavailable")
    user = (await sign_up(client, email, name="Rejected")).json()
    entry = await eventually(lambda: first_failed_job(client, headers), within=60)
    return user, entry


async def test_smtp_rejection_lands_in_the_store_without_retrying(
    client: httpx.AsyncClient, mailbox: Mailbox, admin_headers: dict[str, str]
) -> None:
    user, entry = await create_user_whose_welcome_email_is_rejected(
        client, mailbox, "no@example.com", admin_headers
    )

    assert entry["job_name"] == "send_welcome_email"
    assert entry["arguments"] == {"user_id": user["id"]}
    assert entry["attempts"] == 1
    assert "550" in entry["exception"]
    assert entry["retried_at"] is None
    assert mailbox.messages == []


async def test_retry_dispatches_the_job_again_and_marks_the_entry(
    client: httpx.AsyncClient, mailbox: Mailbox, admin_headers: dict[str, str]
) -> None:
    user, entry = await create_user_whose_welcome_email_is_rejected(
        client, mailbox, "re@example.com", admin_headers
    )

    response = await client.post(f"/api/v1/jobs/failed/{entry['id']}/retry", headers=admin_headers)
    assert response.status_code == 202
    assert response.json()["job_name"] == "send_welcome_email"

    await eventually(lambda: welcome_email_sent_at(client, user["id"], admin_headers), within=60)
    assert [m["To"] for m in mailbox.messages] == ["re@example.com"]
    assert (await failed_jobs(client, admin_headers))[0]["retried_at"] is not None


async def test_a_second_retry_is_409_with_the_entrys_state(
    client: httpx.AsyncClient, settings: Settings, admin_headers: dict[str, str]
) -> None:
    [entry_id] = stored_entries(settings, 1)
    path = f"/api/v1/jobs/failed/{entry_id}/retry"
    assert (await client.post(path, headers=admin_headers)).status_code == 202
    second = await client.post(path, headers=admin_headers)
    assert second.status_code == 409
    assert "already retried" in second.json()["detail"]


async def test_two_racing_retries_dispatch_exactly_once(
    client: httpx.AsyncClient, settings: Settings, admin_headers: dict[str, str]
) -> None:
    [entry_id] = stored_entries(settings, 1)
    path = f"/api/v1/jobs/failed/{entry_id}/retry"
    responses = await asyncio.gather(
        client.post(path, headers=admin_headers), client.post(path, headers=admin_headers)
    )
    assert sorted(r.status_code for r in responses) == [202, 409]
    # The one dispatched job fails again (its user does not exist) and is recorded once more: one new entry.
    await eventually(lambda: _entries_after(client, admin_headers, entry_id), within=60)
    await asyncio.sleep(1.0)
    assert len(await _entries_after(client, admin_headers, entry_id) or []) == 1


async def _entries_after(
    client: httpx.AsyncClient, headers: dict[str, str], entry_id: int
) -> list[dict[str, Any]] | None:
    newer = [e for e in await failed_jobs(client, headers) if e["id"] > entry_id]
    return newer or None


async def test_retry_of_an_unknown_entry_is_404(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post("/api/v1/jobs/failed/424242/retry", headers=admin_headers)
    assert response.status_code == 404


async def test_list_is_newest_first_and_pages_with_before_id(
    client: httpx.AsyncClient, settings: Settings, admin_headers: dict[str, str]
) -> None:
    ids = stored_entries(settings, 5)
    first_page = await failed_jobs(client, admin_headers, limit=2)
    second_page = await failed_jobs(client, admin_headers, limit=2, before_id=first_page[-1]["id"])
    assert [e["id"] for e in first_page + second_page] == sorted(ids, reverse=True)[:4]


async def test_list_filters_by_job_name(
    client: httpx.AsyncClient, settings: Settings, admin_headers: dict[str, str]
) -> None:
    stored_entries(settings, 2)
    [other] = stored_entries(settings, 1, job_name="send_password_reset_email")
    entries = await failed_jobs(client, admin_headers, job_name="send_password_reset_email")
    assert [e["id"] for e in entries] == [other]


async def test_a_limit_over_100_is_422(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    response = await client.get("/api/v1/jobs/failed", headers=admin_headers, params={"limit": 101})
    assert response.status_code == 422
