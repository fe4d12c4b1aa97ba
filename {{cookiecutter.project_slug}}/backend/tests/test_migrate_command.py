"""`python -m internal.migrate`, the compose `migrate` one-shot: it migrates, then creates (or
promotes) FIRST_ADMIN_EMAIL, idempotently.

One test runs it as the container runs it, a process of its own; the others call its `main()` in
this process with the same environment (a process costs a second or more of CPU to import the app).
"""

from __future__ import annotations

import logging.config
import os
import subprocess
import sys
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import func, insert, select

from internal import migrate
from internal.config import Settings
from internal.db.sync import sync_sessionmaker
from internal.models import User
from internal.services import passwords
from tests.conftest import BACKEND
from tests.support import log_in

ADMIN = "first@example.com"
ADMIN_PASSWORD = "first admin passphrase"


def migrate_environment(settings: Settings, **env: str) -> dict[str, str]:
    return {
        "ENVIRONMENT": "test",
        "DATABASE_URL": settings.database_url,
        "SECRET_KEY": settings.secret_key,
        **env,
    }


def run_migrate_process(settings: Settings, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "internal.migrate"],
        cwd=BACKEND,
        env={**os.environ, **migrate_environment(settings, **env)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def run_migrate(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """`main()` of `python -m internal.migrate` in this process, with the environment it is given.
    Alembic's env.py leaves this process's logging alone (its fileConfig would disable the loggers
    other tests read)."""
    monkeypatch.setattr(logging.config, "fileConfig", lambda *args, **kwargs: None)

    def run(settings: Settings, **env: str) -> subprocess.CompletedProcess[str]:
        capsys.readouterr()
        with monkeypatch.context() as patch:
            for name, value in migrate_environment(settings, **env).items():
                patch.setenv(name, value)
            code = migrate.main()
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess("internal.migrate", code, out, err)

    return run


def admins(settings: Settings) -> list[tuple[str, bool]]:
    with sync_sessionmaker(settings.sync_database_url)() as session:
        return [(u.email, u.is_admin) for u in session.scalars(select(User).order_by(User.id))]


def test_without_first_admin_it_only_migrates(
    settings: Settings, run_migrate: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    result = run_migrate(settings, FIRST_ADMIN_EMAIL="")
    assert result.returncode == 0, result.stderr
    assert admins(settings) == []


async def test_run_as_the_container_runs_it_it_creates_the_first_admin_who_can_log_in(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    result = run_migrate_process(settings, FIRST_ADMIN_EMAIL=ADMIN, FIRST_ADMIN_PASSWORD=ADMIN_PASSWORD)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"migrate: first admin {ADMIN} created"]
    assert admins(settings) == [(ADMIN, True)]
    assert (await log_in(client, ADMIN, ADMIN_PASSWORD)).status_code == 200


def test_running_it_twice_keeps_one_admin(
    settings: Settings, run_migrate: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    for outcome in ("created", "is an admin"):
        result = run_migrate(settings, FIRST_ADMIN_EMAIL=ADMIN, FIRST_ADMIN_PASSWORD=ADMIN_PASSWORD)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == [f"migrate: first admin {ADMIN} {outcome}"]
    with sync_sessionmaker(settings.sync_database_url)() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 1


def test_an_existing_user_is_promoted_and_keeps_their_password(
    settings: Settings, run_migrate: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    own_hash = passwords.hash_password("their own passphrase")
    with sync_sessionmaker(settings.sync_database_url).begin() as session:
        session.execute(insert(User).values(email=ADMIN, name="First", password_hash=own_hash))
    result = run_migrate(settings, FIRST_ADMIN_EMAIL=ADMIN, FIRST_ADMIN_PASSWORD=ADMIN_PASSWORD)
    assert result.returncode == 0, result.stderr
    assert admins(settings) == [(ADMIN, True)]
    with sync_sessionmaker(settings.sync_database_url)() as session:
        assert session.scalars(select(User.password_hash)).one() == own_hash


def test_a_weak_first_admin_password_fails_with_one_line_and_creates_nobody(
    settings: Settings, run_migrate: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    result = run_migrate(settings, FIRST_ADMIN_EMAIL=ADMIN, FIRST_ADMIN_PASSWORD="short")
    assert result.returncode == 1
    assert result.stderr.strip().startswith("migrate: invalid setting FIRST_ADMIN_PASSWORD")
    assert "Traceback" not in result.stderr
    assert admins(settings) == []
