"""Runner fixtures for the in-process runner: there is no separate worker to start."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def runner_settings() -> dict[str, Any]:
    return {}


@pytest.fixture(scope="session")
def job_worker() -> None:
    """Jobs run inside the app's own process."""
