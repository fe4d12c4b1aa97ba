"""Tier `fuzz`: schemathesis against each variant's running API finds no server error and no
schema violation.

Per variant: the project is baked and synced, its API started natively (the compose `api` command,
production settings with DOCS_ENABLED=true so the schema is served) on a fresh Postgres database,
with the runner's backend (Redis, or the Temporal dev server) and a real SMTP server. Schemathesis
runs every check, all phases, a fixed seed and a fixed number of examples per operation. Requests
are counted from the API's own access log, so the summary says what the server really received.
When the project has the token route, an admin is created with `lich users create-admin EMAIL`
(password on stdin) and every request carries its token (schemathesis's `ignored_auth` check then
also tries them without it).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import (
    RUNNERS,
    TEMPLATE,
    Process,
    SmtpServer,
    app_env,
    free_port,
    http_get,
    http_status,
    migrate,
    start_api,
    temporal_server_command,
    wait_until,
)

pytestmark = pytest.mark.fuzz

SEED = 20251202
EXAMPLES_PER_OPERATION = 50
TOKEN_ROUTE = "/api/v1/auth/token"  # noqa: S105  (a path, not a secret)
ACCESS_LINE = re.compile(r'HTTP/[0-9.]+\\?" (\d{3})')


@dataclass
class FuzzRun:
    requests: int
    server_errors: int
    failures: list[dict[str, object]]
    errors: list[dict[str, object]]
    test_cases: int
    with_token: bool
    output: str


def runner_env(runner: str, redis_url: str, temporal_port: int) -> dict[str, str]:
    if runner == "celery":
        broker = f"{redis_url.rsplit('/', 1)[0]}/7"
        return {"REDIS_URL": broker, "CELERY_BROKER_URL": "", "CELERY_RESULT_BACKEND": ""}
    if runner == "temporal":
        return {
            "TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
            "TEMPORAL_NAMESPACE": "default",
            "TEMPORAL_TASK_QUEUE": f"fuzz-{uuid.uuid4().hex[:8]}",
        }
    return {}


def admin_token(project: Path, env: dict[str, str], base: str) -> str | None:
    """A bearer token for an admin, when the project has authentication; None otherwise."""
    status, body = http_get(f"{base}/openapi.json")
    assert status == 200, body
    if TOKEN_ROUTE not in json.loads(body)["paths"]:
        return None
    email, password = "fuzz-admin@example.com", "fuzz-" + uuid.uuid4().hex
    lich = project / "backend" / ".venv" / "bin" / "lich"
    created = subprocess.run(
        [str(lich), "users", "create-admin", email],
        input=password + "\n",
        cwd=project / "backend",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert created.returncode == 0, created.stdout + created.stderr
    form = urllib.parse.urlencode({"username": email, "password": password}).encode()
    with urllib.request.urlopen(f"{base}{TOKEN_ROUTE}", data=form, timeout=10) as response:  # noqa: S310
        token: str = json.loads(response.read())["access_token"]
    return token


def run_schemathesis(base: str, token: str | None, report: Path) -> subprocess.CompletedProcess[str]:
    command = [
        str(Path(sys.executable).parent / "st"),
        "--config-file",
        str(TEMPLATE / "tests" / "schemathesis.toml"),
        "run",
        f"{base}/openapi.json",
        "--checks",
        "all",
        "--seed",
        str(SEED),
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        # One worker: CPython 3.11's parser is not thread-safe for hypothesis's lambda descriptions.
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    if token:
        command += ["--header", f"Authorization: Bearer {token}"]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.fuzz_hooks", "PYTHONPATH": str(TEMPLATE)}
    return subprocess.run(command, cwd=TEMPLATE, env=env, capture_output=True, text=True, timeout=900, check=False)


@pytest.fixture(scope="module")
def fuzz(
    request: pytest.FixtureRequest,
    synced: Callable[[str], Path],
    fresh_database: Callable[[str], str],
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, FuzzRun]:
    """Fuzz every selected variant at once (each API and schemathesis in its own thread): the runs
    are independent, and side by side the tier stays within a few minutes on two cores."""
    selected = sorted(
        {item.callspec.params["runner"] for item in request.session.items if item.module is request.module}
    )
    projects = {runner: synced(runner) for runner in selected}
    databases = {runner: fresh_database(f"lich_fuzz_{runner}") for runner in selected}
    with ThreadPoolExecutor(max_workers=len(selected)) as pool:
        futures = {
            runner: pool.submit(fuzz_variant, projects[runner], runner, databases[runner], redis_url, tmp_path_factory)
            for runner in selected
        }
        return {runner: future.result() for runner, future in futures.items()}


def fuzz_variant(
    project: Path, runner: str, database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> FuzzRun:
    logs = tmp_path_factory.mktemp(f"fuzz-{runner}")
    temporal_port = free_port()
    processes: list[Process] = []
    with SmtpServer() as smtp:
        # OWASP's minimum Argon2 cost: sign-up and login examples hash, at the default profile about 0.3 s
        # of CPU each, for nothing the fuzzing checks.
        env = app_env(
            database_url,
            smtp,
            DOCS_ENABLED="true",
            ARGON2_PROFILE="owasp-minimum",
            **runner_env(runner, redis_url, temporal_port),
        )
        try:
            if runner == "temporal":
                command = temporal_server_command(project, temporal_port, logs / "temporal.db")
                processes.append(Process("temporal", command, cwd=project / "backend", env=env, log_dir=logs))
            migrate(project, env, logs)
            base, api = start_api(project, env, logs)
            processes.append(api)
            wait_until(
                lambda: http_status(f"{base}/ready") == 200,
                within=90,
                what=f"the {runner} API to be ready",
                processes=tuple(processes),
            )
            token = admin_token(project, env, base)
            result = run_schemathesis(base, token, logs / "schemathesis.json")
        finally:
            for process in reversed(processes):
                process.stop()
    report = json.loads((logs / "schemathesis.json").read_text())
    statuses = [int(status) for status in ACCESS_LINE.findall(api.log())]
    return FuzzRun(
        requests=len(statuses),
        server_errors=sum(status >= 500 for status in statuses),
        failures=report["failures"],
        errors=report["errors"],
        test_cases=report["test_cases"]["generated"],
        with_token=token is not None,
        output=result.stdout[-8000:] + result.stderr[-4000:],
    )


@pytest.mark.parametrize("runner", RUNNERS)
def test_fuzzing_the_api_finds_no_server_error_and_no_schema_violation(fuzz: dict[str, FuzzRun], runner: str) -> None:
    run = fuzz[runner]
    print(
        f"\nfuzz {runner}: {run.requests} requests sent, {run.server_errors} server errors, "
        f"{len(run.failures)} failure kinds, {run.test_cases} test cases (seed {SEED}), "
        f"{'with an admin token' if run.with_token else f'no token ({TOKEN_ROUTE} absent)'}"
    )
    assert run.requests > 0, run.output
    assert run.server_errors == 0, run.output
    assert run.failures == [], run.output
    assert run.errors == [], run.output
