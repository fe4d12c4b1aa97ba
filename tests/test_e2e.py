"""Tier `e2e`, common to every runner: the compose services' commands, run natively, serve the API.

`migrate` and `api` run exactly as docker-compose.yml says (from backend/, through `uv run`), against
a fresh Postgres database and a real SMTP server. Runner-specific flows (workers, kill tests) live in
`test_e2e_<runner>.py`; this file covers what every variant promises on its own.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import (
    Process,
    SmtpServer,
    free_port,
    http_get,
    http_json,
    native_command,
    project_env,
    wait_until,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def none_stack(
    synced: Callable[[str], Path], fresh_database: Callable[[str], str], tmp_path: Path
) -> Iterator[tuple[str, SmtpServer, Process]]:
    project = synced("none")
    backend = project / "backend"
    with SmtpServer() as smtp:
        env = project_env(
            ENVIRONMENT="production",
            SECRET_KEY="e2e-" + "x" * 40,
            DATABASE_URL=fresh_database("lich_e2e_none"),
            SMTP_HOST=smtp.host,
            SMTP_PORT=str(smtp.port),
        )
        migrate = Process("migrate", native_command(project, "migrate"), cwd=backend, env=env, log_dir=tmp_path)
        assert migrate.wait(timeout=120) == 0, migrate.log()
        port = free_port()
        api = Process("api", native_command(project, "api", port=port), cwd=backend, env=env, log_dir=tmp_path)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: _status(f"{base}/health") == 200, within=60, what="api /health", processes=(api,))
            yield base, smtp, api
        finally:
            assert api.stop() is not None


def _status(url: str) -> int | None:
    try:
        return http_get(url, timeout=2)[0]
    except OSError:
        return None


def test_none_api_is_ready_and_sends_the_welcome_email(none_stack: tuple[str, SmtpServer, Process]) -> None:
    base, smtp, api = none_stack
    status, body = http_get(f"{base}/ready")
    assert status == 200, body
    assert json.loads(body)["checks"] == {"database": "ok"}

    status, user = http_json(
        "POST", f"{base}/api/v1/users", json.dumps({"email": "e2e@example.com", "name": "E"}).encode()
    )
    assert status == 201, user
    wait_until(lambda: smtp.mailbox.received(), within=30, what="the welcome email", processes=(api,))
    sent = wait_until(
        lambda: http_json("GET", f"{base}/api/v1/users/{user['id']}")[1]["welcome_email_sent_at"],
        within=30,
        what="welcome_email_sent_at",
    )
    assert sent
    assert [m["To"] for m in smtp.mailbox.received()] == ["e2e@example.com"]


def test_none_api_answers_409_and_404_natively(none_stack: tuple[str, SmtpServer, Process]) -> None:
    base, _, _ = none_stack
    body = json.dumps({"email": "dup@example.com", "name": "D"}).encode()
    assert http_json("POST", f"{base}/api/v1/users", body)[0] == 201
    assert http_json("POST", f"{base}/api/v1/users", body)[0] == 409
    assert http_json("GET", f"{base}/api/v1/users/999999")[0] == 404


def test_none_api_stops_cleanly_on_sigterm(none_stack: tuple[str, SmtpServer, Process]) -> None:
    _, _, api = none_stack
    # uvicorn finishes the lifespan, then re-raises the signal: exit by SIGTERM, never by SIGKILL.
    assert api.stop(timeout=15) in (0, -signal.SIGTERM), api.log()[-3000:]
    assert "Application shutdown complete" in api.log()
