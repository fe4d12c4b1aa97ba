"""Tier `e2e`, temporal: the compose services' commands run natively against real services.

The Temporal dev server is the `temporal` binary the project's dev dependencies install, run with
the `temporal` service's own command (listen address, database file and port adapted); `migrate`,
`api` and `temporal_worker` run exactly as docker-compose.yml says, against a fresh Postgres
database and a real SMTP server. Proves the user flow, the order saga (completed and compensated),
and that a worker SIGKILLed mid-send is recovered from with exactly one email.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import (
    E2E_PASSWORD,
    Process,
    SmtpServer,
    admin_token_from_lich,
    app_env,
    dev_compose,
    free_port,
    http_get,
    http_json,
    http_status,
    log_in,
    migrate,
    native_command,
    sign_up,
    sign_up_log_in_and_get_welcomed,
    start_api,
    temporal_server_command,
    wait_until,
)

pytestmark = pytest.mark.e2e


def temporal_healthcheck_command(project: Path, port: int) -> list[str]:
    """The `temporal` service's healthcheck, natively, against the native server."""
    test = [str(part) for part in dev_compose(project)["services"]["temporal"]["healthcheck"]["test"]][1:]
    test[0] = str(project / "backend" / ".venv" / "bin" / "temporal")
    test[test.index("--address") + 1] = f"127.0.0.1:{port}"
    return test


@dataclass
class Stack:
    project: Path
    base: str
    smtp: SmtpServer
    env: dict[str, str]
    logs: Path
    processes: dict[str, Process] = field(default_factory=dict)
    # An admin made with `lich users create-admin`; `post`, `put` and `get` act as them.
    admin_token: str = ""

    def start_worker(self, name: str) -> Process:
        worker = Process(
            name,
            native_command(self.project, "temporal_worker"),
            cwd=self.project / "backend",
            env=self.env,
            log_dir=self.logs,
        )
        self.processes["worker"] = worker
        wait_until(lambda: "worker started" in worker.log(), within=60, what=f"{name} to poll", processes=(worker,))
        return worker

    @property
    def worker(self) -> Process:
        return self.processes["worker"]

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        return http_json("POST", f"{self.base}{path}", json.dumps(body).encode(), token=self.admin_token)

    def put(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        return http_json("PUT", f"{self.base}{path}", json.dumps(body).encode(), token=self.admin_token)

    def get(self, path: str) -> Any:
        status, body = http_json("GET", f"{self.base}{path}", token=self.admin_token)
        assert status == 200, body
        return body

    def all(self) -> tuple[Process, ...]:
        return tuple(self.processes.values())


@pytest.fixture(scope="module")
def stack(
    synced: Callable[[str], Path],
    fresh_database: Callable[[str], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    project = synced("temporal")
    backend = project / "backend"
    logs = tmp_path_factory.mktemp("e2e-temporal")
    temporal_port = free_port()
    with SmtpServer() as smtp:
        env = app_env(
            fresh_database("lich_e2e_temporal"),
            smtp,
            TEMPORAL_ADDRESS=f"127.0.0.1:{temporal_port}",
            TEMPORAL_NAMESPACE="default",
            TEMPORAL_TASK_QUEUE=f"e2e-{uuid.uuid4().hex[:8]}",
        )
        result = Stack(project, "", smtp, env, logs)
        try:
            server = Process(
                "temporal",
                temporal_server_command(project, temporal_port, logs / "temporal.db"),
                cwd=backend,
                env=env,
                log_dir=logs,
            )
            result.processes["temporal"] = server
            health = temporal_healthcheck_command(project, temporal_port)
            wait_until(
                lambda: Process("health", health, cwd=backend, env=env, log_dir=logs).wait(timeout=10) == 0,
                within=60,
                what="the temporal service's healthcheck",
                processes=(server,),
            )
            migrate(project, env, logs)
            result.base, api = start_api(project, env, logs)
            result.processes["api"] = api
            result.start_worker("temporal_worker")
            wait_until(
                lambda: http_status(f"{result.base}/ready") == 200,
                within=60,
                what="api /ready (database and temporal)",
                processes=result.all(),
            )
            result.admin_token = admin_token_from_lich(project, env, result.base)
            yield result
        finally:
            for process in reversed(result.all()):
                process.stop()


def wait_for_mail(stack: Stack, to: str, *, within: float) -> float:
    """Wait for a message to `to`; return the monotonic time it was seen (polled every 5 ms)."""
    deadline = time.monotonic() + within
    while not any(m["To"] == to for m in stack.smtp.mailbox.received()):
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {p.name}\n{p.log()[-3000:]}" for p in stack.all())
            raise AssertionError(f"no email to {to} within {within}s\n{logs}")
        time.sleep(0.005)
    return time.monotonic()


def test_ready_names_database_and_temporal(stack: Stack) -> None:
    status, body = http_get(f"{stack.base}/ready")
    assert status == 200, body
    assert json.loads(body)["checks"] == {"database": "ok", "temporal": "ok"}


def test_sign_up_log_in_me_and_welcome_email(stack: Stack) -> None:
    sign_up_log_in_and_get_welcomed(stack.base, stack.smtp, "me@example.com", stack.all())


def test_admin_from_lich_reads_failed_jobs_and_a_user_gets_403(stack: Stack) -> None:
    assert isinstance(stack.get("/api/v1/jobs/failed"), list)
    assert sign_up(stack.base, "nobody-special@example.com", E2E_PASSWORD)[0] == 201
    user = log_in(stack.base, "nobody-special@example.com", E2E_PASSWORD)
    assert http_json("GET", f"{stack.base}/api/v1/jobs/failed", token=user)[0] == 403


def test_user_gets_the_welcome_email_once(stack: Stack) -> None:
    posted = time.monotonic()
    status, user = sign_up(stack.base, "flow@example.com", E2E_PASSWORD)
    assert status == 201, user
    latency = wait_for_mail(stack, "flow@example.com", within=60) - posted
    sent = wait_until(
        lambda: stack.get(f"/api/v1/users/{user['id']}")["welcome_email_sent_at"],
        within=30,
        what="welcome_email_sent_at",
    )
    assert sent
    assert [m["To"] for m in stack.smtp.mailbox.received()].count("flow@example.com") == 1
    warm = []
    for n in range(5):
        posted = time.monotonic()
        assert sign_up(stack.base, f"warm{n}@example.com", E2E_PASSWORD)[0] == 201
        warm.append(wait_for_mail(stack, f"warm{n}@example.com", within=60) - posted)
    print(
        f"\nPOST /api/v1/users -> welcome email delivered: first {latency * 1000:.0f} ms, "
        f"then median {statistics.median(warm) * 1000:.0f} ms of {len(warm)} (min {min(warm) * 1000:.0f} ms)"
    )


def order_outcome(stack: Stack, order: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = wait_until(
        lambda: (body := stack.get(f"/api/v1/orders/{order['id']}"))["status"] != "pending" and body,
        within=60,
        what=f"order {order['id']} to finish",
        processes=stack.all(),
    )
    return result


def test_order_completes_and_is_confirmed(stack: Stack) -> None:
    assert stack.put("/api/v1/inventory/lamp", {"quantity": 2})[0] == 200
    status, order = stack.post(
        "/api/v1/orders", {"sku": "lamp", "quantity": 2, "amount_cents": 1999, "email": "lamp@example.com"}
    )
    assert status == 202, order
    assert order["status"] == "pending"
    assert order["workflow_id"] == f"process-order-{order['id']}"
    assert order_outcome(stack, order)["status"] == "completed"
    wait_for_mail(stack, "lamp@example.com", within=30)


def test_order_without_stock_is_compensated(stack: Stack) -> None:
    assert stack.put("/api/v1/inventory/vase", {"quantity": 1})[0] == 200
    status, order = stack.post(
        "/api/v1/orders", {"sku": "vase", "quantity": 5, "amount_cents": 500, "email": "vase@example.com"}
    )
    assert status == 202, order
    outcome = order_outcome(stack, order)
    assert outcome["status"] == "compensated"
    assert "InsufficientStock" in outcome["failure_reason"]
    assert not any(m["To"] == "vase@example.com" for m in stack.smtp.mailbox.received())


def test_worker_killed_mid_send_delivers_exactly_one_email(stack: Stack) -> None:
    """SIGKILL the worker while its activity is inside the SMTP conversation (RCPT accepted by
    nobody yet, no DATA sent), restart it: Temporal retries the activity after its start-to-close
    timeout, the database rolled the first try back, and exactly one email arrives."""
    mailbox = stack.smtp.mailbox
    mailbox.stall_next_rcpt()
    started = time.monotonic()
    status, user = sign_up(stack.base, "kill@example.com", E2E_PASSWORD)
    assert status == 201, user
    assert mailbox.rcpt_seen.wait(timeout=60), "the activity never reached RCPT"

    killed = stack.worker
    os.killpg(killed.popen.pid, signal.SIGKILL)
    killed.wait(timeout=10)
    killed.stop()
    mailbox.release.set()  # the stalled conversation ends with its client gone: nothing delivered
    assert not any(m["To"] == "kill@example.com" for m in mailbox.received())

    restarted = time.monotonic()
    stack.start_worker("temporal_worker_restarted")
    arrived = wait_for_mail(stack, "kill@example.com", within=120)
    wait_until(
        lambda: stack.get(f"/api/v1/users/{user['id']}")["welcome_email_sent_at"],
        within=30,
        what="welcome_email_sent_at after the restart",
    )
    time.sleep(5)  # room for a duplicate to show up, if there were one
    delivered = [m for m in mailbox.received() if m["To"] == "kill@example.com"]
    print(
        f"\nkill test: worker SIGKILLed mid-send; email delivered {arrived - restarted:.1f} s after the "
        f"restart ({arrived - started:.1f} s after the POST); deliveries to the user: {len(delivered)}"
    )
    assert len(delivered) == 1


def test_worker_stops_cleanly_on_sigterm(stack: Stack) -> None:
    worker = stack.worker
    assert worker.stop(timeout=40) == 0, worker.log()[-3000:]
    assert "worker stopped" in worker.log()
