"""Password reset by email, end to end: the request always answers 202, the job emails a
single-use token through the real SMTP server, the token sets the password once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from email.message import Message

import httpx
from sqlalchemy import select, update

from internal.config import Settings
from internal.db.base import utcnow
from internal.db.sync import sync_sessionmaker
from internal.jobs.registry import job_modules
from internal.jobs.send_password_reset_email import SendPasswordResetEmailInput
from internal.models import PasswordReset, User
from internal.services.password_reset import send_password_reset_email, token_hash
from tests.support import Mailbox, eventually, execute_off_the_loop, log_in, reset_token_in, sign_up

NEW_PASSWORD = "a brand new passphrase"


async def reset_email(mailbox: Mailbox, to: str) -> Message | None:
    found = [m for m in mailbox.messages if m["To"] == to and "Reset" in m["Subject"]]
    return found[0] if found else None


async def requested_token(client: httpx.AsyncClient, mailbox: Mailbox, email: str = "ada@example.com") -> str:
    """Sign up, ask for a reset, and return the token from the email that arrives."""
    await sign_up(client, email)
    assert (await client.post("/api/v1/auth/password-reset", json={"email": email})).status_code == 202
    return reset_token_in(await eventually(lambda: reset_email(mailbox, email), within=60))


async def confirm(client: httpx.AsyncClient, token: str, password: str = NEW_PASSWORD) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "password": password}
    )


async def test_the_emailed_token_sets_the_new_password(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    token = await requested_token(client, mailbox)
    assert (await confirm(client, token)).status_code == 200
    assert (await log_in(client, "ada@example.com", NEW_PASSWORD)).status_code == 200
    assert (await log_in(client, "ada@example.com")).status_code == 401


async def test_a_token_works_only_once(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    token = await requested_token(client, mailbox)
    assert (await confirm(client, token)).status_code == 200
    assert (await confirm(client, token, "yet another passphrase")).status_code == 400


async def test_an_expired_token_is_400(
    client: httpx.AsyncClient, mailbox: Mailbox, settings: Settings
) -> None:
    token = await requested_token(client, mailbox)
    await execute_off_the_loop(
        settings, update(PasswordReset).values(expires_at=utcnow() - timedelta(seconds=1))
    )
    assert (await confirm(client, token)).status_code == 400


async def test_an_unknown_token_is_400(client: httpx.AsyncClient) -> None:
    assert (await confirm(client, "not-a-token")).status_code == 400


async def test_a_weak_new_password_is_422(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    token = await requested_token(client, mailbox)
    assert (await confirm(client, token, "short")).status_code == 422


async def test_an_unknown_email_is_202_and_sends_nothing(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    known = await sign_up(client, "ada@example.com")
    assert known.status_code == 201
    response = await client.post("/api/v1/auth/password-reset", json={"email": "nobody@example.com"})
    assert response.status_code == 202
    # The known user's reset, requested afterwards, is the only reset email that arrives.
    await client.post("/api/v1/auth/password-reset", json={"email": "ada@example.com"})
    await eventually(lambda: reset_email(mailbox, "ada@example.com"), within=60)
    assert [m["To"] for m in mailbox.messages if "Reset" in m["Subject"]] == ["ada@example.com"]


async def test_only_the_tokens_hash_is_stored(
    client: httpx.AsyncClient, mailbox: Mailbox, settings: Settings
) -> None:
    token = await requested_token(client, mailbox)
    with sync_sessionmaker(settings.sync_database_url)() as session:
        stored = session.scalars(select(PasswordReset.token_hash)).one()
    assert stored == token_hash(token)
    assert stored != token


async def test_the_job_sends_each_request_once(
    client: httpx.AsyncClient, mailbox: Mailbox, settings: Settings
) -> None:
    await requested_token(client, mailbox)

    def sent_reset() -> int | None:
        """The request's id once the job has recorded the email (it commits after the SMTP server
        accepted it, so the email can arrive first)."""
        with sync_sessionmaker(settings.sync_database_url)() as session:
            sent = select(PasswordReset.id).where(PasswordReset.email_sent_at.is_not(None))
            return session.scalars(sent).first()

    reset_id = await eventually(lambda: asyncio.to_thread(sent_reset), within=30)
    assert send_password_reset_email(settings, reset_id) is False
    assert len([m for m in mailbox.messages if "Reset" in m["Subject"]]) == 1


def test_the_job_is_discovered_with_no_list_to_edit() -> None:
    contract, _ = job_modules()["send_password_reset_email"]
    assert contract.input_model is SendPasswordResetEmailInput


def test_an_expired_request_sends_no_email(settings: Settings, mailbox: Mailbox) -> None:
    with sync_sessionmaker(settings.sync_database_url).begin() as session:
        user = User(email="late@example.com", name="Late")
        session.add(user)
        session.flush()
        reset = PasswordReset(
            user_id=user.id, salt="s", token_hash="h", expires_at=utcnow() - timedelta(seconds=1)
        )
        session.add(reset)
        session.flush()
        reset_id = reset.id
    assert send_password_reset_email(settings, reset_id) is False
    assert mailbox.messages == []
