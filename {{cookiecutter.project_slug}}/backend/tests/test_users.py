"""The users resource and the welcome email it triggers."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support import Mailbox, eventually, welcome_email_sent_at


async def create(
    client: httpx.AsyncClient, email: str = "ada@example.com", name: str = "Ada"
) -> httpx.Response:
    return await client.post("/api/v1/users", json={"email": email, "name": name})


async def test_create_user_returns_201_with_the_user(client: httpx.AsyncClient) -> None:
    response = await create(client)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["email"] == "ada@example.com"
    assert body["name"] == "Ada"
    assert isinstance(body["id"], int)


async def test_created_user_can_be_read_back(client: httpx.AsyncClient) -> None:
    user_id = (await create(client)).json()["id"]
    response = await client.get(f"/api/v1/users/{user_id}")
    assert response.status_code == 200
    assert response.json()["email"] == "ada@example.com"


async def test_email_is_stored_lower_case(client: httpx.AsyncClient) -> None:
    response = await create(client, email="Grace.Hopper@Example.COM")
    assert response.json()["email"] == "grace.hopper@example.com"


async def test_duplicate_email_is_409_whatever_its_case(client: httpx.AsyncClient) -> None:
    assert (await create(client)).status_code == 201
    response = await create(client, email="ADA@example.com")
    assert response.status_code == 409
    assert "already exists" in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "name": "Ada"},
        {"email": "ada@example.com", "name": ""},
        {"email": "ada@example.com", "name": "   "},
        {"email": "ada@example.com"},
        {"name": "Ada"},
    ],
)
async def test_invalid_input_is_422(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    response = await client.post("/api/v1/users", json=body)
    assert response.status_code == 422


async def test_unknown_user_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/users/999999")
    assert response.status_code == 404


async def test_welcome_email_is_sent_once_and_recorded(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    user = (await create(client, email="lin@example.com", name="Lin")).json()
    assert user["welcome_email_sent_at"] is None

    assert await eventually(lambda: welcome_email_sent_at(client, user["id"]))
    assert [m["To"] for m in mailbox.messages] == ["lin@example.com"]
    assert "Lin" in mailbox.messages[0].get_payload()


async def test_rejected_duplicate_sends_no_email(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    first = (await create(client)).json()
    await create(client, email="ADA@example.com")

    await eventually(lambda: welcome_email_sent_at(client, first["id"]))
    assert len(mailbox.messages) == 1
