"""`python -m internal.migrate`, the compose `migrate` one-shot, run as the container runs it: it
migrates, then creates (or promotes) FIRST_ADMIN_EMAIL, idempotently."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
from sqlalchemy import func, insert, select

from internal.config import Settings
from internal.db.sync import sync_sessionmaker
from internal.models import User
from internal.services import passwords
from tests.conftest import BACKEND
from tests.support import log_in

ADMIN = "first@example.com"
ADMIN_PASSWORD = "first admin passphrase"


def run_migrate(settings: Settings, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "ENVIRONMENT": "test",
        "DATABASE_URL": settings.database_url,
        "SECRET_KEY": settings.secret_key,
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "internal.migrate"],
        cwd=BACKEND,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def admins(settings: Settings) -> list[tuple[str, bool]]:
    with sync_sessionmaker(settings.sync_database_url)() as session:
        return [(u.email, u.is_admin) for u in session.scalars(select(User).order_by(User.id))]


def test_without_first_admin_it_only_migrates(settings: Settings) -> None:
    result = run_migrate(settings, FIRST_ADMIN_EMAIL="")
    assert result.returncode == 0, result.stderr
    assert admins(settings) == []


async def test_it_creates_the_first_admin_who_can_log_in(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    result = run_migrate(settings, FIRST_ADMIN_EMAIL=ADMIN, FIRST_ADMIN_PASSWORD=ADMIN_PASSWORD)
    assert result.returncode == 0, result.stderr
    assert admins(settings) == [(ADMIN, True)]
    assert (await log_in(client, ADMIN, ADMIN_PASSWORD)).status_code == 200


def test_running_it_twice_keeps_one_admin(settings: Settings) -> None:
    for _ in range(2):
        result = run_migrate(settings, FIRST_ADMIN_EMAIL=ADMIN, FIRST_ADMIN_PASSWORD=ADMIN_PASSWORD)
        assert result.returncode == 0, result.stderr
    with sync_sessionmaker(settings.sync_database_url)() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 1


def test_an_existing_user_is_promoted_and_keeps_their_password(settings: Settings) -> None:
    own_hash = passwords.hash_password("their own passphrase")
    with sync_sessionmaker(settings.sync_database_url).begin() as session:
        session.execute(insert(User).values(email=ADMIN, name="First", password_hash=own_hash))
    result = run_migrate(settings, FIRST_ADMIN_EMAIL=ADMIN, FIRST_ADMIN_PASSWORD=ADMIN_PASSWORD)
    assert result.returncode == 0, result.stderr
    assert admins(settings) == [(ADMIN, True)]
    with sync_sessionmaker(settings.sync_database_url)() as session:
        assert session.scalars(select(User.password_hash)).one() == own_hash


def test_a_weak_first_admin_password_fails_with_one_line_and_creates_nobody(settings: Settings) -> None:
    result = run_migrate(settings, FIRST_ADMIN_EMAIL=ADMIN, FIRST_ADMIN_PASSWORD="short")
    assert result.returncode == 1
    assert result.stderr.strip().startswith("migrate: invalid setting FIRST_ADMIN_PASSWORD")
    assert "Traceback" not in result.stderr
    assert admins(settings) == []
