"""The run as a whole, for Celery: how many test processes `-n auto` starts. Loaded in every process
of the run (tests/conftest.py), the pytest-xdist controller included: it imports nothing of the app.
"""

from __future__ import annotations

import pytest

from tests.processes import one_process_more_than_cores

REDIS_DATABASES = 16  # Redis's default `databases`


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto` (`make test`): one test process more than cores. Many Celery tests mostly wait (for
    the worker, retries with backoff, a time limit, a schedule), so a third process on two cores ends
    the run sooner (22-26 s instead of 27-28 s here). At most half of Redis's databases: each process
    takes two numbers (`tests.runner_fixtures.redis_url_for_tests`)."""
    return one_process_more_than_cores(at_most=REDIS_DATABASES // 2)
