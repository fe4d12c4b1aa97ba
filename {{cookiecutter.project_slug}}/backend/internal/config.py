"""Application settings, read from the environment (and `.env` at the project root).

Environment variable names are part of the project's contract: compose, CI and the docs use them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", "dev-secret-key", "password"})
SECRET_KEY_MIN_LENGTH = 32
# A key like "aaaa...a" or "abababab..." is long but guessable; random keys use far more symbols.
SECRET_KEY_MIN_DISTINCT = 10


# The driver each accepted URL scheme runs on, async (the app) and blocking (job code in worker
# threads). `postgres://` and `postgresql://` are what hosting providers hand out.
ASYNC_DRIVERS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "postgresql+psycopg_async": "postgresql+psycopg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}
SYNC_DRIVERS = {"postgresql+psycopg": "postgresql+psycopg", "sqlite+aiosqlite": "sqlite"}


def _with_driver(url: str, drivers: dict[str, str]) -> str:
    """Parse with SQLAlchemy's own URL parser and swap only the driver; the rest stays as given."""
    # Imported on first use: commands that never read the settings (`lich --help`, `lich make job`)
    # start without loading SQLAlchemy (about half a second).
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        example = "postgresql://user@host/db"
        raise ValueError(f"DATABASE_URL {url!r} is not a URL (expected e.g. {example})") from None
    if parsed.drivername not in drivers:
        raise ValueError(
            f"DATABASE_URL scheme {parsed.drivername!r} is not supported (use postgresql:// or sqlite://)"
        )
    return parsed.set(drivername=drivers[parsed.drivername]).render_as_string(hide_password=False)


def async_database_url(url: str) -> str:
    """Pick the async driver for a URL as hosting providers hand it out (``postgres://...``)."""
    return _with_driver(url, ASYNC_DRIVERS)


def sync_database_url(url: str) -> str:
    """The same database through a blocking driver, for job code that runs in worker threads."""
    return _with_driver(async_database_url(url), SYNC_DRIVERS)


Argon2Profile = Literal["rfc9106-low-memory", "owasp-minimum"]


class Settings(BaseSettings):
    """Every setting the application reads; `.env.example` lists exactly these."""

    model_config = SettingsConfigDict(
        env_file=PROJECT_ROOT / ".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Literal["development", "test", "production"] = "development"
    secret_key: str = "change-me"  # noqa: S105  (a placeholder, refused in production)
    database_url: str = "sqlite+aiosqlite:///./app.db"
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    mail_from: str = "{{ cookiecutter.project_slug }}@example.com"
    # HTTP: request bodies over this many bytes are refused with 413.
    max_request_bytes: int = Field(default=1_048_576, ge=1)
    # /docs, /redoc and /openapi.json: always served outside production, in production only if true.
    docs_enabled: bool = False
    # Origins allowed to call the API from a browser, comma-separated; empty = no CORS headers at all.
    cors_origins: str = ""
    # Lifetime of a login (the JWT access token) and of a password-reset link.
    access_token_minutes: int = Field(default=30, ge=1, le=60 * 24 * 30)
    password_reset_minutes: int = Field(default=60, ge=1, le=60 * 24 * 7)
    # Cost of each password hash (internal/services/passwords.py): rfc9106-low-memory (64 MiB, about
    # 0.3 s of a core) or owasp-minimum (19 MiB, about 0.03 s). Logins remake older hashes.
    argon2_profile: Argon2Profile = "rfc9106-low-memory"
    # The first admin, created (or promoted) by `python -m internal.migrate` when both are set.
    first_admin_email: str = ""
    first_admin_password: SecretStr = SecretStr("")
    # Login for mail providers; empty: no login.
    smtp_user: str = ""
    smtp_password: str = ""
    # starttls | ssl | none; empty: none in development and test, starttls in production.
    smtp_tls: Literal["starttls", "ssl", "none", ""] = ""
{%- if cookiecutter.task_runner == "celery" %}
    # Celery's broker and result backend are REDIS_URL unless set (empty = use REDIS_URL).
    redis_url: str = "redis://localhost:6379/0"
    celery_broker_url: str = ""
    celery_result_backend: str = ""
    # Seconds after which Redis hands the jobs of a worker that died outright to another worker:
    # the recovery bound. Must exceed every job's timeout plus its longest retry delay.
    celery_visibility_timeout: int = Field(default=300, ge=1)
    # Whether dispatching a job also publishes a "task sent" event, so that Flower lists the job
    # while it waits in the queue (without it, from the moment a worker takes it): one more Redis
    # message per job, which halves the relay's dispatch rate. Off unless you watch queues in Flower.
    celery_task_sent_events: bool = False
    # Flower's basic-auth password (read here only to refuse a placeholder in production).
    flower_password: SecretStr = SecretStr("")
{%- endif %}
{%- if cookiecutter.task_runner == "temporal" %}
    # Temporal frontend (host:port), namespace, and the task queue the worker polls.
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "{{ cookiecutter.project_slug }}"
    # TLS to the frontend (Temporal Cloud, any TLS cluster), with a client certificate for mTLS.
    temporal_tls: bool = False
    temporal_tls_client_cert: str = ""
    temporal_tls_client_key: str = ""
    # Temporal Cloud API key (implies TLS).
    temporal_api_key: str = ""
{%- endif %}

    @field_validator("database_url")
    @classmethod
    def _pick_driver(cls, value: str) -> str:
        return async_database_url(value)

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.environment == "production":
            problems = production_secret_problems(self)
            if problems:
                raise ValueError("refusing to run in production: " + "; ".join(problems))
        return self

    @property
    def docs_served(self) -> bool:
        return self.environment != "production" or self.docs_enabled

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    @property
    def smtp_security(self) -> Literal["starttls", "ssl", "none"]:
        """SMTP_TLS, or the environment's default: encrypted in production, plain for local sinks."""
        if self.smtp_tls:
            return self.smtp_tls
        return "starttls" if self.environment == "production" else "none"

    @property
    def sync_database_url(self) -> str:
        return sync_database_url(self.database_url)


def production_secret_problems(settings: Settings) -> list[str]:
    """Every secret that is a placeholder or too weak to run in production, as readable reasons."""
    problems = []
    key = settings.secret_key
    weak = len(key) < SECRET_KEY_MIN_LENGTH or len(set(key)) < SECRET_KEY_MIN_DISTINCT
    if key in PLACEHOLDER_SECRETS or weak:
        problems.append(
            f"SECRET_KEY is a placeholder, shorter than {SECRET_KEY_MIN_LENGTH} characters or of low "
            "entropy; set a random value (python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    database_password = urlsplit(settings.database_url).password
    if database_password is not None and database_password in PLACEHOLDER_SECRETS:
        problems.append("the DATABASE_URL password is a placeholder (in compose: set POSTGRES_PASSWORD)")
    if settings.first_admin_email and settings.first_admin_password.get_secret_value() in PLACEHOLDER_SECRETS:
        problems.append("FIRST_ADMIN_PASSWORD is empty or a placeholder")
{%- if cookiecutter.task_runner == "celery" %}
    flower_password = settings.flower_password.get_secret_value()
    if flower_password and flower_password in PLACEHOLDER_SECRETS:
        problems.append("FLOWER_PASSWORD is a placeholder")
{%- endif %}
    return problems


class _Process:
    settings: Settings | None = None


def use_settings(settings: Settings | None) -> None:
    """Make `get_settings()` return `settings` in this process (a worker built from explicit
    settings, or tests); None goes back to the environment."""
    _Process.settings = settings


def get_settings() -> Settings:
    """Settings of this process: those given to `use_settings`, else the environment's, read once."""
    return _Process.settings or _environment_settings()


@lru_cache
def _environment_settings() -> Settings:
    return Settings()
