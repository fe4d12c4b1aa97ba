"""Test helpers: a real SMTP server (aiosmtpd) whose replies a test can script, and polling."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from email import message_from_bytes
from email.message import Message
from typing import Any, TypeVar

import httpx
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from sqlalchemy.sql import Executable

from internal.config import Settings
from internal.db.sync import sync_sessionmaker
from internal.main import create_app
from internal.models import User
from internal.services import access_tokens
from internal.services.passwords import hash_password
from tests.processes import free_port

T = TypeVar("T")

# A password every test user signs up with (tests never need a secret one).
PASSWORD = "correct horse battery staple"


class Mailbox:
    """Messages the SMTP server accepted; scripted replies are used first, one per message."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[Message] = []
        self._replies: list[str] = []
        self.quit_reply: str | None = None

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
            self._replies.clear()
            self.quit_reply = None

    def reply_next_with(self, *replies: str) -> None:
        """Answer the next messages' DATA with these replies (e.g. "451 try later", "550 no")."""
        with self._lock:
            self._replies.extend(replies)

    @property
    def messages(self) -> list[Message]:
        with self._lock:
            return list(self._messages)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self._lock:
            if self._replies:
                return self._replies.pop(0)
            self._messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """Answer QUIT with `quit_reply` if set (a server that misbehaves after accepting)."""
        return self.quit_reply or "221 Bye"


@asynccontextmanager
async def api_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app built from `settings`, its lifespan running, behind an in-process httpx client."""
    async with running_app_client(create_app(settings)) as client:
        yield client


@asynccontextmanager
async def running_app_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """`app` with a lifespan of its own (started here, ended on exit), behind an in-process httpx client."""
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        yield client


class SmtpServer:
    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.mailbox = Mailbox()
        self._controller = Controller(self.mailbox, hostname=self.host, port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


async def eventually(probe: Callable[[], Awaitable[T | None]], *, within: float = 20.0) -> T:
    """Poll `probe` until it returns something other than None; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.05)


async def welcome_email_sent_at(
    client: httpx.AsyncClient, user_id: int, headers: dict[str, str]
) -> str | None:
    """The user's `welcome_email_sent_at` as the API reports it (None until the job sent it)."""
    response = await client.get(f"/api/v1/users/{user_id}", headers=headers)
    assert response.status_code == 200, response.text
    sent_at: str | None = response.json()["welcome_email_sent_at"]
    return sent_at


async def sign_up(
    client: httpx.AsyncClient, email: str, name: str = "Ada", password: str = PASSWORD
) -> httpx.Response:
    return await client.post("/api/v1/users", json={"email": email, "name": name, "password": password})


async def log_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/v1/auth/token", data={"username": email, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def execute_off_the_loop(settings: Settings, statement: Executable) -> None:
    """Execute and commit `statement` from a worker thread, while the app under test runs on this
    event loop. Made on the loop, a write would wait for SQLite's write lock while the app's outbox
    relay holds it between its flush and its commit, which only the (then blocked) loop can run."""

    def execute() -> None:
        with sync_sessionmaker(settings.sync_database_url).begin() as session:
            session.execute(statement)

    await asyncio.to_thread(execute)


def make_admin(settings: Settings, email: str = "admin@example.com", password: str = PASSWORD) -> int:
    """An admin straight in the database (as `lich users create-admin` makes one); returns the id."""
    with sync_sessionmaker(settings.sync_database_url).begin() as session:
        admin = User(email=email, name="Admin", is_admin=True, password_hash=hash_password(password))
        session.add(admin)
        session.flush()
        return admin.id


def headers_for(settings: Settings, user_id: int) -> dict[str, str]:
    """Authorization headers of a valid token for `user_id`."""
    return bearer(access_tokens.issue(settings, user_id))


def reset_token_in(message: Message) -> str:
    """The token of a password-reset email (its body decoded from the transfer encoding)."""
    payload = message.get_payload(decode=True)
    body = payload.decode() if isinstance(payload, bytes) else str(payload)
    match = re.search(r"token: (\S+)", body)
    assert match, body
    return match.group(1)
