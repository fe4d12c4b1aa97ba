"""`make bench` runs and prints its table (tier e2e: it bakes, syncs and serves real APIs and workers).

No figure is asserted: performance is what the benchmark reports, not what a test checks; the test
only proves that every comparison ran without a failed measurement and appears in the table. The
benchmarks get a Redis of their own (the Celery one empties its databases), so other tiers running
beside this one under pytest-xdist keep theirs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import TEMPLATE, Process, free_port, project_env, wait_until

pytestmark = pytest.mark.e2e

EXPECTED_ROWS = (
    "GET /health, 32 connections",
    "GET /health, 64 connections",
    "DB read GET /api/v1/users/{id}, 32 connections",
    "DB read GET /api/v1/users/{id}, 64 connections",
    # `--quick` runs the sign-ups at fewer connections (benchmarks/api_http.py says why).
    "DB write POST /api/v1/users (sign-up), steady state, 4 connections",
    "DB write POST /api/v1/users (sign-up), steady state, 8 connections",
    "RSS after 2,000 requests vs idle",
)
AREAS = ("bake", "API", "none", "celery", "temporal")


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[str]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (Debian: redis-server)")
    port = free_port()
    command = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    server = Process("bench-redis", command, cwd=tmp_path, env=dict(os.environ), log_dir=tmp_path)
    try:
        wait_until(lambda: "Ready to accept connections" in server.log(), within=30, what="redis", processes=(server,))
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.stop()


def test_make_bench_quick_prints_every_ratio(postgres_url: str, own_redis: str) -> None:
    result = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--quick"],
        cwd=TEMPLATE,
        env=project_env(TEST_DATABASE_URL=postgres_url, TEST_REDIS_URL=own_redis),
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
    for area in AREAS:
        assert f"| {area} |" in result.stdout, f"no {area} row in:\n{result.stdout}"
