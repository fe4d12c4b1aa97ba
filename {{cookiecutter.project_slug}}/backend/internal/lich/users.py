"""`lich users create-admin EMAIL`: create an admin, or promote an existing user, with a password
typed at a prompt (twice), or read from stdin when it is not a terminal (scripts, `docker compose run`)."""

from __future__ import annotations

import getpass
from typing import TextIO

from pydantic import TypeAdapter, ValidationError

from internal.config import Settings
from internal.lich.errors import LichError
from internal.lich.failed import unit_of_work
from internal.schemas import Email, Password
from internal.services import users


def _valid(adapter: TypeAdapter[str], value: str, what: str) -> str:
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        raise LichError(f"{what} refused: {exc.errors()[0]['msg']}") from None


def valid_email(email: str) -> str:
    return _valid(TypeAdapter(Email), email.strip(), "email")


def read_password(stdin: TextIO) -> str:
    """The new password: prompted twice on a terminal, else the first line of stdin; refused if weak."""
    if stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password (again): ") != password:
            raise LichError("the two passwords differ; nothing changed")
    else:
        password = stdin.readline().rstrip("\r\n")
    return _valid(TypeAdapter(Password), password, "password")


async def create_admin(settings: Settings, email: str, password: str) -> bool:
    """Create the admin or promote the user (and set this password); True when created."""
    async with unit_of_work(settings) as uow:
        return await users.ensure_admin(uow.session, email, password, replace_password=True)
