"""`make bench` runs and prints its table (tier e2e: it bakes, syncs and serves real APIs).

No figure is asserted: performance is what the benchmark reports, not what a test checks; the test
only proves that every comparison ran without a failed measurement and appears in the table.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import TEMPLATE, project_env

pytestmark = pytest.mark.e2e

EXPECTED_ROWS = (
    "GET /health, 32 connections",
    "GET /health, 64 connections",
    "DB read GET /api/v1/users/{id}, 32 connections",
    "DB read GET /api/v1/users/{id}, 64 connections",
    "DB write POST /api/v1/users (sign-up), steady state, 32 connections",
    "DB write POST /api/v1/users (sign-up), steady state, 64 connections",
    "RSS after 2,000 requests vs idle",
)


def test_make_bench_quick_prints_every_ratio(postgres_url: str, redis_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--quick", "--only", "api_http", "api_memory"],
        cwd=TEMPLATE,
        env=project_env(TEST_DATABASE_URL=postgres_url, TEST_REDIS_URL=redis_url),
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| API |")]
    for expected in EXPECTED_ROWS:
        assert any(f"| {expected}" in row for row in rows), f"no row {expected!r} in:\n{result.stdout}"
    assert all("x** |" in row for row in rows), rows
