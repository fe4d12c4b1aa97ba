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
    app_env,
    http_get,
    http_json,
    http_status,
    migrate,
    start_api,
    wait_until,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def none_stack(
    synced: Callable[[str], Path], fresh_database: Callable[[str], str], tmp_path: Path
) -> Iterator[tuple[str, SmtpServer, Process]]:
    project = synced("none")
    with SmtpServer() as smtp:
        env = app_env(fresh_database("lich_e2e_none"), smtp)
        migrate(project, env, tmp_path)
        base, api = start_api(project, env, tmp_path)
        try:
            wait_until(lambda: http_status(f"{base}/health") == 200, within=60, what="api /health", processes=(api,))
            yield base, smtp, api
        finally:
            assert api.stop() is not None


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
