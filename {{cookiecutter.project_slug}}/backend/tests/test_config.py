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


REAL_SECRET = "s3cr3t-K3y_with-many-different-chars-42"


@pytest.mark.parametrize(
    "secret", ["change-me", "short", "x" * 40, "ab" * 20], ids=["placeholder", "short", "1-char", "2-chars"]
)
def test_production_refuses_a_placeholder_short_or_low_entropy_secret_key(secret: str) -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(_env_file=None, environment="production", secret_key=secret)


def test_production_accepts_a_real_secret() -> None:
    settings = Settings(_env_file=None, environment="production", secret_key=REAL_SECRET)
    assert settings.environment == "production"


def test_production_refuses_a_placeholder_database_password() -> None:
    with pytest.raises(ValidationError, match="DATABASE_URL password"):
        Settings(
            _env_file=None,
            environment="production",
            secret_key=REAL_SECRET,
            database_url="postgresql://app:change-me@db:5432/app",
        )


def test_production_refuses_a_placeholder_first_admin_password() -> None:
    with pytest.raises(ValidationError, match="FIRST_ADMIN_PASSWORD"):
        Settings(
            _env_file=None,
            environment="production",
            secret_key=REAL_SECRET,
            first_admin_email="admin@example.com",
            first_admin_password="change-me",
        )


def test_an_unknown_argon2_profile_is_refused_with_the_choices() -> None:
    with pytest.raises(ValidationError, match="'rfc9106-low-memory' or 'owasp-minimum'"):
        Settings(_env_file=None, argon2_profile="fast")


def test_development_accepts_the_placeholders() -> None:
    settings = Settings(_env_file=None, database_url="postgresql://app:change-me@db:5432/app")
    assert settings.secret_key == "change-me"


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
