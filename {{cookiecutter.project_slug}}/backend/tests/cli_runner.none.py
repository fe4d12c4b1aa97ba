"""What the `lich` tests need to know about this project's runner (see tests/test_cli.py)."""

from __future__ import annotations

from internal.jobs.registry import job_modules
from tests.processes import environ_for_a_nested_session


def nested_session_env() -> dict[str, str]:
    """Environment of a test session started from within this one: nothing of it is shared."""
    return environ_for_a_nested_session()


def native_job_names() -> list[str]:
    """Jobs as the runner itself knows them: the in-process runner runs what the registry finds."""
    return sorted(job_modules())


def expected_native_names(snake: str, pascal: str) -> set[str]:
    """The names a new job is registered under."""
    return {snake}
