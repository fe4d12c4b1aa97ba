"""Fixtures for real services: a database (SQLite, or Postgres via TEST_DATABASE_URL), a real SMTP
server, the app with its lifespan, and the task runner's own fixtures (`tests.runner_fixtures`)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, make_url, text

from internal.config import Settings, sync_database_url
from internal.db.base import Base
from tests.support import Mailbox, SmtpServer, api_client, headers_for, make_admin

pytest_plugins = ["tests.runner_fixtures"]

BACKEND = Path(__file__).resolve().parents[1]


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


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database: Postgres from TEST_DATABASE_URL (emptied first), else a fresh SQLite file."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        database = make_url(url).database or ""
        if "test" not in database:
            pytest.exit(f"TEST_DATABASE_URL names {database!r}: it is emptied, its name must contain 'test'")
        engine = create_engine(sync_database_url(url))
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    migrate(url)
    return url


@pytest.fixture(autouse=True)
def _empty_tables(database_url: str) -> Iterator[None]:
    """Per-test isolation: every test starts with empty tables."""
    yield
    engine = create_engine(sync_database_url(database_url))
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    engine.dispose()


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


@pytest.fixture
async def client(settings: Settings, job_worker: None) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(settings) as http:
        yield http


@pytest.fixture
def admin_headers(settings: Settings) -> dict[str, str]:
    """Authorization headers of a fresh admin (tables are emptied after each test)."""
    return headers_for(settings, make_admin(settings))
