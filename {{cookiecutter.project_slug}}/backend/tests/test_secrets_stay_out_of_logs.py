"""No password, hash or reset token ever reaches a log line (the app's, the job's, the server's)."""

from __future__ import annotations

import logging
from email.message import Message

import httpx
import pytest
from sqlalchemy import select

from internal.config import Settings
from internal.db.sync import sync_sessionmaker
from internal.models import PasswordReset, User
from tests.support import PASSWORD, Mailbox, eventually, log_in, reset_token_in, sign_up

NEW_PASSWORD = "another fine passphrase"


# The test's own SMTP server (aiosmtpd) logs what it receives: the email carries the token by design.
RECEIVING_SERVER = "mail.log"


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    """Each record's message, arguments and `extra` fields, as text (the receiving server's aside)."""
    return "\n".join(
        f"{record.getMessage()} {record.__dict__!r}"
        for record in caplog.records
        if record.name != RECEIVING_SERVER
    )


async def test_sign_up_login_and_reset_log_no_password_hash_or_token(
    client: httpx.AsyncClient, mailbox: Mailbox, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await sign_up(client, "ada@example.com")
    await log_in(client, "ada@example.com")
    await log_in(client, "ada@example.com", "a wrong password")
    await client.post("/api/v1/auth/password-reset", json={"email": "ada@example.com"})
    token = reset_token_in(await eventually(lambda: _reset_email(mailbox), within=60))
    await client.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD})
    with sync_sessionmaker(settings.sync_database_url)() as session:
        password_hash = session.scalars(select(User.password_hash)).one()
        token_hash = session.scalars(select(PasswordReset.token_hash)).one()

    logged = everything_logged(caplog)
    assert caplog.records, "nothing was logged: the test would prove nothing"
    for secret in (PASSWORD, NEW_PASSWORD, "a wrong password", token, password_hash, token_hash, "$argon2"):
        assert secret
        assert secret not in logged


async def _reset_email(mailbox: Mailbox) -> Message | None:
    found = [m for m in mailbox.messages if "Reset" in m["Subject"]]
    return found[0] if found else None
