"""The users resource: open sign-up with a password, the welcome email it triggers, and who may
read which user."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from internal.config import Settings
from internal.db.sync import sync_sessionmaker
from internal.models import User
from internal.services import passwords, users
from tests.support import PASSWORD, Mailbox, bearer, eventually, log_in, sign_up, welcome_email_sent_at


async def token_of(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    return bearer((await log_in(client, email)).json()["access_token"])


async def test_create_user_returns_201_with_the_user(client: httpx.AsyncClient) -> None:
    response = await sign_up(client, "ada@example.com")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["email"] == "ada@example.com"
    assert body["name"] == "Ada"
    assert body["is_admin"] is False
    assert isinstance(body["id"], int)


async def test_response_carries_neither_password_nor_hash(client: httpx.AsyncClient) -> None:
    body = (await sign_up(client, "ada@example.com")).json()
    assert PASSWORD not in str(body)
    assert "password" not in str(body)
    assert "argon2" not in str(body)


async def test_the_database_holds_only_an_argon2id_hash(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await sign_up(client, "ada@example.com")
    with sync_sessionmaker(settings.sync_database_url)() as session:
        stored = session.scalars(select(User.password_hash)).one()
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


async def test_a_user_reads_themself_with_their_token(client: httpx.AsyncClient) -> None:
    user_id = (await sign_up(client, "ada@example.com")).json()["id"]
    response = await client.get(f"/api/v1/users/{user_id}", headers=await token_of(client, "ada@example.com"))
    assert response.status_code == 200
    assert response.json()["email"] == "ada@example.com"


async def test_another_users_record_is_404(client: httpx.AsyncClient) -> None:
    first_id = (await sign_up(client, "ada@example.com")).json()["id"]
    await sign_up(client, "bob@example.com")
    response = await client.get(
        f"/api/v1/users/{first_id}", headers=await token_of(client, "bob@example.com")
    )
    assert response.status_code == 404


async def test_an_admin_reads_any_user(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    user_id = (await sign_up(client, "ada@example.com")).json()["id"]
    response = await client.get(f"/api/v1/users/{user_id}", headers=admin_headers)
    assert response.status_code == 200
    assert response.json()["email"] == "ada@example.com"


async def test_reading_a_user_anonymously_is_401(client: httpx.AsyncClient) -> None:
    user_id = (await sign_up(client, "ada@example.com")).json()["id"]
    response = await client.get(f"/api/v1/users/{user_id}")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_email_is_stored_lower_case(client: httpx.AsyncClient) -> None:
    response = await sign_up(client, "Grace.Hopper@Example.COM")
    assert response.json()["email"] == "grace.hopper@example.com"


async def test_duplicate_email_is_409_whatever_its_case(client: httpx.AsyncClient) -> None:
    assert (await sign_up(client, "ada@example.com")).status_code == 201
    response = await sign_up(client, "ADA@example.com")
    assert response.status_code == 409
    assert "already exists" in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "name": "Ada", "password": PASSWORD},
        {"email": "ada@example.com", "name": "", "password": PASSWORD},
        {"email": "ada@example.com", "name": "   ", "password": PASSWORD},
        {"email": "ada@example.com", "password": PASSWORD},
        {"name": "Ada", "password": PASSWORD},
        {"email": "ada@example.com", "name": "Ada"},
    ],
)
async def test_invalid_input_is_422(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    response = await client.post("/api/v1/users", json=body)
    assert response.status_code == 422


@pytest.mark.parametrize(
    "password", ["short7!", "x" * 129, "change-me", "aaaaaaaaaaaa"], ids=["7", "129", "placeholder", "1-char"]
)
async def test_a_password_too_short_too_long_or_trivial_is_422(
    client: httpx.AsyncClient, password: str
) -> None:
    response = await sign_up(client, "ada@example.com", password=password)
    assert response.status_code == 422


async def test_passwords_of_8_and_128_characters_are_accepted(client: httpx.AsyncClient) -> None:
    assert (await sign_up(client, "a@example.com", password="abcdefg1")).status_code == 201
    assert (await sign_up(client, "b@example.com", password="abcdefgh" * 16)).status_code == 201


async def test_unknown_user_is_404_for_an_admin(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get("/api/v1/users/999999", headers=admin_headers)
    assert response.status_code == 404


async def test_welcome_email_is_sent_once_and_recorded(
    client: httpx.AsyncClient, mailbox: Mailbox, admin_headers: dict[str, str]
) -> None:
    user = (await sign_up(client, "lin@example.com", name="Lin")).json()
    assert user["welcome_email_sent_at"] is None

    assert await eventually(lambda: welcome_email_sent_at(client, user["id"], admin_headers))
    assert [m["To"] for m in mailbox.messages] == ["lin@example.com"]
    assert "Lin" in mailbox.messages[0].get_payload()


async def test_rejected_duplicate_sends_no_email(
    client: httpx.AsyncClient, mailbox: Mailbox, admin_headers: dict[str, str]
) -> None:
    first = (await sign_up(client, "ada@example.com")).json()
    await sign_up(client, "ADA@example.com")

    await eventually(lambda: welcome_email_sent_at(client, first["id"], admin_headers))
    assert len(mailbox.messages) == 1


async def test_password_hashes_and_checks_run_two_per_core_at_most(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 takes 64 MiB and tens of milliseconds of a core per hash: a burst of sign-ups and
    logins waits for a turn instead of running one hash per request."""
    lock = threading.Lock()
    running, most = 0, 0

    def slow_argon2(*_: object) -> str:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return "$argon2id$"

    monkeypatch.setattr(passwords, "hash_password", slow_argon2)
    monkeypatch.setattr(passwords, "verify", slow_argon2)
    limit = users.ARGON2_THREADS_PER_CORE * (os.cpu_count() or 1)

    await asyncio.gather(
        *(users.hash_password("a pass phrase") for _ in range(2 * limit)),
        *(users.verify_password(None, "a pass phrase") for _ in range(2 * limit)),
    )

    assert most == limit
