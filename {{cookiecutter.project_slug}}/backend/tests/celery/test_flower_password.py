"""Flower's basic-auth password is a secret like the others: a placeholder is refused in production."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from internal.config import Settings


def test_production_refuses_a_placeholder_flower_password() -> None:
    with pytest.raises(ValidationError, match="FLOWER_PASSWORD"):
        Settings(
            _env_file=None,
            environment="production",
            secret_key="s3cr3t-K3y_with-many-different-chars-42",
            flower_password="change-me",
        )
