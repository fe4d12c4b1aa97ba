"""Fixtures of the Temporal tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from internal.config import Settings, use_settings
from internal.jobs.periodic import sync_schedules


@pytest.fixture
def activity_env(settings: Settings) -> ActivityEnvironment:
    """Runs an activity function outside a worker, with the test settings."""
    use_settings(settings)
    return ActivityEnvironment()


@pytest.fixture
async def schedules_removed(settings: Settings, temporal_client: Client) -> AsyncIterator[None]:
    """Delete the test task queue's Temporal Schedules afterwards (a worker start creates them)."""
    yield
    await sync_schedules(temporal_client, settings, [])
