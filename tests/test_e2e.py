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
    E2E_PASSWORD,
    Process,
    SmtpServer,
    admin_token_from_lich,
    app_env,
    http_get,
    http_json,
    http_status,
    log_in,
    migrate,
    sign_up,
    sign_up_log_in_and_get_welcomed,
    start_api,
    wait_until,
)

pytestmark = pytest.mark.e2e


FIRST_ADMIN = "first@example.com"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def none_env(fresh_database: Callable[[str], str], smtp: SmtpServer) -> dict[str, str]:
    """The app's environment; the migrate command also creates FIRST_ADMIN."""
    return app_env(
        fresh_database("lich_e2e_none"), smtp, FIRST_ADMIN_EMAIL=FIRST_ADMIN, FIRST_ADMIN_PASSWORD=E2E_PASSWORD
    )


@pytest.fixture
def none_stack(
    synced: Callable[[str], Path], none_env: dict[str, str], smtp: SmtpServer, tmp_path: Path
) -> Iterator[tuple[str, SmtpServer, Process]]:
    project = synced("none")
    migrate(project, none_env, tmp_path)
    base, api = start_api(project, none_env, tmp_path)
    try:
        wait_until(lambda: http_status(f"{base}/health") == 200, within=60, what="api /health", processes=(api,))
        yield base, smtp, api
    finally:
        assert api.stop() is not None


def test_none_api_is_ready(none_stack: tuple[str, SmtpServer, Process]) -> None:
    base, _, _ = none_stack
    status, body = http_get(f"{base}/ready")
    assert status == 200, body
    assert json.loads(body)["checks"] == {"database": "ok"}


def test_none_sign_up_log_in_me_and_welcome_email(none_stack: tuple[str, SmtpServer, Process]) -> None:
    base, smtp, api = none_stack
    sign_up_log_in_and_get_welcomed(base, smtp, "e2e@example.com", processes=(api,))
    assert [m["To"] for m in smtp.mailbox.received()] == ["e2e@example.com"]


def test_none_admin_from_lich_reads_failed_jobs_and_others_cannot(
    synced: Callable[[str], Path], none_stack: tuple[str, SmtpServer, Process], none_env: dict[str, str]
) -> None:
    base, _, _ = none_stack
    admin = admin_token_from_lich(synced("none"), none_env, base)
    status, entries = http_json("GET", f"{base}/api/v1/jobs/failed", token=admin)
    assert (status, entries) == (200, [])
    assert sign_up(base, "plain@example.com", E2E_PASSWORD)[0] == 201
    user = log_in(base, "plain@example.com", E2E_PASSWORD)
    assert http_json("GET", f"{base}/api/v1/jobs/failed", token=user)[0] == 403
    assert http_json("GET", f"{base}/api/v1/jobs/failed")[0] == 401


def test_none_first_admin_from_the_migrate_command_can_log_in(none_stack: tuple[str, SmtpServer, Process]) -> None:
    base, _, _ = none_stack
    token = log_in(base, FIRST_ADMIN, E2E_PASSWORD)
    status, me = http_json("GET", f"{base}/api/v1/users/me", token=token)
    assert (status, me["is_admin"]) == (200, True)


def test_none_api_answers_409_and_404_natively(none_stack: tuple[str, SmtpServer, Process]) -> None:
    base, _, _ = none_stack
    assert sign_up(base, "dup@example.com", E2E_PASSWORD)[0] == 201
    assert sign_up(base, "dup@example.com", E2E_PASSWORD)[0] == 409
    token = log_in(base, "dup@example.com", E2E_PASSWORD)
    assert http_json("GET", f"{base}/api/v1/users/999999", token=token)[0] == 404


def test_none_api_stops_cleanly_on_sigterm(none_stack: tuple[str, SmtpServer, Process]) -> None:
    _, _, api = none_stack
    # uvicorn finishes the lifespan, then re-raises the signal: exit by SIGTERM, never by SIGKILL.
    assert api.stop(timeout=15) in (0, -signal.SIGTERM), api.log()[-3000:]
    assert "Application shutdown complete" in api.log()
