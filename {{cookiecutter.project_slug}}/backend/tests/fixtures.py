"""Fixtures for real services: a database (SQLite, or Postgres via TEST_DATABASE_URL), a real SMTP
server, the app with its lifespan, and the task runner's own fixtures (`tests.runner_fixtures`).

tests/conftest.py loads this module in each process that runs tests. `make test` runs them in
parallel (pytest-xdist, a process per core or one more, see `tests.runner_session`): every fixture
here is per process, and each process gets a database of its own (`worker_database_url`)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.config import Config
from argon2 import PasswordHasher
from fastapi import FastAPI
from sqlalchemy import Engine, create_engine, make_url, text

from internal.config import Settings, sync_database_url
from internal.db.base import Base
from internal.logs import configure_logging
from internal.main import create_app
from internal.services import passwords
from tests.conftest import BACKEND
from tests.processes import xdist_worker
from tests.support import Mailbox, SmtpServer, headers_for, make_admin, running_app_client

pytest_plugins = ["tests.runner_fixtures"]


@pytest.fixture(scope="session", autouse=True)
def _logs_in_captured_output() -> None:
    """The app's log handler writes to the stdout of the moment it is made, and importing
    `internal.main` makes one (its module-level app). This module is loaded outside pytest's output
    capture (tests/conftest.py), so remake it here, in the first test's setup, inside the capture:
    a line that a server thread logs between two tests then stays out of the progress output."""
    configure_logging(json_lines=False)


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mailbox(smtp_server: SmtpServer) -> Mailbox:
    smtp_server.mailbox.clear()
    return smtp_server.mailbox


def migrate(url: str) -> None:
    config = Config(str(BACKEND / "alembic.ini"))
    config.attributes["database_url"] = url
    config.attributes["configure_logging"] = False
    command.upgrade(config, "head")


def worker_database_url(url: str) -> str:
    """`url` itself, or under pytest-xdist a database of this worker's own next to it
    (`<name>_gw0`, `<name>_gw1`, ...), created on first use."""
    worker = xdist_worker()
    if worker is None:
        return url
    own = make_url(url).set(database=f"{make_url(url).database}_{worker}")
    engine = create_engine(sync_database_url(url), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        exists = connection.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": own.database}
        )
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{own.database}"'))
    engine.dispose()
    return own.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database: Postgres from TEST_DATABASE_URL (emptied first), else a fresh SQLite file."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        database = make_url(url).database or ""
        if "test" not in database:
            pytest.exit(f"TEST_DATABASE_URL names {database!r}: it is emptied, its name must contain 'test'")
        url = worker_database_url(url)
        engine = create_engine(sync_database_url(url))
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    migrate(url)
    return url


@pytest.fixture(scope="session")
def cleanup_engine(database_url: str) -> Iterator[Engine]:
    """One engine for emptying the tables after every test (pre-ping: a test may restart connections)."""
    engine = create_engine(sync_database_url(database_url), pool_pre_ping=True)
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def _empty_tables(cleanup_engine: Engine) -> Iterator[None]:
    """Per-test isolation: every test starts with empty tables."""
    yield
    with cleanup_engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


# Argon2id at its smallest cost: a real hash, whose parameters travel in it (those made elsewhere,
# e.g. by `python -m internal.migrate`, still verify).
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashes() -> Iterator[pytest.MonkeyPatch]:
    """Every hash in this process at Argon2id's smallest cost: ARGON2_PROFILE's default costs about
    0.3 s of CPU per hash, most of a test that signs up and logs in (`real_password_hashes` lifts
    this for one test)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "_hasher", lambda: CHEAP_HASHER)
        yield patch


@pytest.fixture
def real_password_hashes(_cheap_password_hashes: pytest.MonkeyPatch) -> Iterator[None]:
    """Hashes at the cost of the process's ARGON2_PROFILE, in this test only."""
    _cheap_password_hashes.undo()
    yield
    _cheap_password_hashes.setattr(passwords, "_hasher", lambda: CHEAP_HASHER)


@pytest.fixture(scope="session")
def settings(database_url: str, smtp_server: SmtpServer, runner_settings: dict[str, Any]) -> Settings:
    return Settings(
        _env_file=None,
        environment="test",
        secret_key="test-secret-key-that-is-long-enough-000",
        database_url=database_url,
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        mail_from="noreply@example.com",
        **runner_settings,
    )


@pytest.fixture(scope="session")
def app(settings: Settings) -> FastAPI:
    """The app of the session's settings, built once. FastAPI prepares a route for handling on its
    first request in each app (a few milliseconds per route): an app per test made that two thirds
    of a short test's CPU. Each test still starts and ends the app's lifespan (`client`)."""
    return create_app(settings)


@pytest.fixture
async def client(app: FastAPI, job_worker: None) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app_client(app) as http:
        yield http


@pytest.fixture
def admin_headers(settings: Settings) -> dict[str, str]:
    """Authorization headers of a fresh admin (tables are emptied after each test)."""
    return headers_for(settings, make_admin(settings))
