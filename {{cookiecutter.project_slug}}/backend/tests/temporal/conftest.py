"""Fixtures of the Temporal tests."""

from __future__ import annotations

import pytest
from temporalio.testing import ActivityEnvironment

from internal.config import Settings, use_settings


@pytest.fixture
def activity_env(settings: Settings) -> ActivityEnvironment:
    """Runs an activity function outside a worker, with the test settings."""
    use_settings(settings)
    return ActivityEnvironment()
