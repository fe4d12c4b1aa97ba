"""`python -m internal.migrate`: the compose `migrate` one-shot (and `make migrate`).

Applies the Alembic migrations, then, when FIRST_ADMIN_EMAIL and FIRST_ADMIN_PASSWORD are both
set, creates that admin or promotes the existing user (whose password is left alone, so a password
changed since is never reset). Safe to run on every start. Exits 1 with one line on stderr when the
settings are invalid or the admin's password is refused.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from pydantic import TypeAdapter, ValidationError

from internal.config import Settings
from internal.db.session import UnitOfWork, create_engine_for, create_sessionmaker
from internal.schemas import Email, Password
from internal.services import users

BACKEND = Path(__file__).resolve().parents[1]
log = logging.getLogger("internal.migrate")


def upgrade(settings: Settings) -> None:
    config = Config(str(BACKEND / "alembic.ini"))
    config.attributes["database_url"] = settings.database_url
    command.upgrade(config, "head")


class InvalidSetting(Exception):
    pass


def _valid(adapter: TypeAdapter[str], value: str, name: str) -> str:
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        raise InvalidSetting(f"{name}: {exc.errors()[0]['msg']}") from None


def first_admin(settings: Settings) -> tuple[str, str] | None:
    """The validated (email, password) of the first admin, or None when FIRST_ADMIN_EMAIL is unset."""
    if not settings.first_admin_email.strip():
        return None
    email = _valid(TypeAdapter(Email), settings.first_admin_email.strip(), "FIRST_ADMIN_EMAIL")
    password = _valid(
        TypeAdapter(Password), settings.first_admin_password.get_secret_value(), "FIRST_ADMIN_PASSWORD"
    )
    return email, password


async def bootstrap_admin(settings: Settings, email: str, password: str) -> bool:
    """Create or promote the admin; True when created."""
    engine = create_engine_for(settings.database_url)
    try:
        async with UnitOfWork.run(create_sessionmaker(engine)) as uow:
            return await users.ensure_admin(uow.session, email, password, replace_password=False)
    finally:
        await engine.dispose()


def main() -> int:
    try:
        settings = Settings()
        admin = first_admin(settings)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]).upper() or "settings"
        print(f"migrate: invalid setting {where}: {first['msg']}", file=sys.stderr)
        return 1
    except InvalidSetting as exc:
        print(f"migrate: invalid setting {exc}", file=sys.stderr)
        return 1
    upgrade(settings)
    if admin is not None:
        created = asyncio.run(bootstrap_admin(settings, *admin))
        print(f"migrate: first admin {admin[0]} {'created' if created else 'is an admin'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
