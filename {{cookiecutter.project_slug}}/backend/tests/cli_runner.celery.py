"""What the `lich` tests need to know about this project's runner (see tests/test_cli.py)."""

from __future__ import annotations

from internal.celery_app import app
from tests.processes import environ_for_a_nested_session


def nested_session_env() -> dict[str, str]:
    """Environment of a test session started from within this one: nothing of it is shared.

    The nested session empties its Redis database at start, so it gets the next database number,
    away from the broker this session's worker is consuming from.
    """
    # Imported here: the nested session imports this module before pytest loads its plugins.
    from tests.runner_fixtures import redis_url_for_tests

    env = environ_for_a_nested_session()
    base, _, number = redis_url_for_tests().rpartition("/")
    env["TEST_REDIS_URL"] = f"{base}/{(int(number) + 1) % 16 if number.isdigit() else 2}"
    return env


def native_job_names() -> list[str]:
    """Tasks the worker registers at startup (it imports internal.celery_tasks)."""
    import internal.celery_tasks  # noqa: F401  (registers every job's task)

    return sorted(name for name in app.tasks if not name.startswith("celery."))


def expected_native_names(snake: str, pascal: str) -> set[str]:
    """The names a new job is registered under."""
    return {snake}
