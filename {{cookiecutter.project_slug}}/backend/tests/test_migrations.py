"""The migrations match the models: `alembic check` finds nothing to generate."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from tests.conftest import BACKEND


def test_migrations_are_in_sync_with_the_models(database_url: str) -> None:
    config = Config(str(BACKEND / "alembic.ini"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logging"] = False
    command.check(config)
