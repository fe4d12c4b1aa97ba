"""Settings: driver selection from provider URLs, production refusals, `.env.example` loading."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from internal.config import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@h:5432/db", "postgresql+psycopg://u:p@h:5432/db"),
        ("postgresql://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///./app.db", "sqlite+aiosqlite:///./app.db"),
        ("sqlite+aiosqlite:///./app.db", "sqlite+aiosqlite:///./app.db"),
        ("postgres://u:p%40ss@h/db?sslmode=require", "postgresql+psycopg://u:p%40ss@h/db?sslmode=require"),
    ],
)
def test_database_url_gets_the_async_driver(given: str, expected: str) -> None:
    assert Settings(_env_file=None, database_url=given).database_url == expected


def test_sync_url_uses_the_blocking_driver() -> None:
    assert Settings(_env_file=None, database_url="sqlite:///x.db").sync_database_url == "sqlite:///x.db"
    assert (
        Settings(_env_file=None, database_url="postgres://h/db").sync_database_url
        == "postgresql+psycopg://h/db"
    )


@pytest.mark.parametrize("url", ["mysql://h/db", "not a url"])
def test_unsupported_database_url_is_refused_with_a_reason(url: str) -> None:
    with pytest.raises(ValidationError, match="DATABASE_URL"):
        Settings(_env_file=None, database_url=url)


@pytest.mark.parametrize("secret", ["change-me", "short"])
def test_production_refuses_placeholder_secrets(secret: str) -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(_env_file=None, environment="production", secret_key=secret)


def test_production_accepts_a_real_secret() -> None:
    settings = Settings(_env_file=None, environment="production", secret_key="x" * 40)
    assert settings.environment == "production"


def test_env_example_loads_into_settings() -> None:
    settings = Settings(_env_file=PROJECT_ROOT / ".env.example")
    assert settings.environment == "development"


def test_env_example_lists_every_setting() -> None:
    keys = {
        line.split("=", 1)[0]
        for line in (PROJECT_ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert {name.upper() for name in Settings.model_fields} <= keys
