"""Tier `e2e` for celery projects: the compose services' commands, run natively, against real
Postgres, Redis and SMTP.

`migrate`, `api`, `celery_worker` and `celery_beat` run exactly as docker-compose.yml says (from
backend/); the API only gets a free port. The kill test stalls the SMTP conversation at RCPT TO (the
message is not accepted yet), SIGKILLs the worker's pool process that is sending, releases the
stall, and shows the job is redelivered and exactly one email arrives.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from aiosmtpd.controller import Controller

from tests.helpers import (
    E2E_PASSWORD,
    Mailbox,
    Process,
    SmtpServer,
    admin_token_from_lich,
    app_env,
    compose,
    free_port,
    http_get,
    http_json,
    http_status,
    migrate,
    native_command,
    project_env,
    sign_up,
    sign_up_log_in_and_get_welcomed,
    start_api,
    wait_until,
)

pytestmark = pytest.mark.e2e

E2E_REDIS_DB = 4


class PeerMailbox(Mailbox):
    """The helpers' mailbox, also remembering the client address of each stalled RCPT."""

    def __init__(self) -> None:
        super().__init__()
        self.rcpt_peers: list[tuple[str, int]] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        self.rcpt_peers.append(tuple(session.peer[:2]))  # type: ignore[arg-type]
        return await super().handle_RCPT(server, session, envelope, address, options)


class PeerSmtpServer(SmtpServer):
    def __init__(self) -> None:
        super().__init__()
        self.mailbox = PeerMailbox()
        self._controller = Controller(self.mailbox, hostname=self.host, port=self.port)


@dataclass
class Stack:
    project: Path
    env: dict[str, str]
    base: str
    smtp: SmtpServer
    database_url: str
    api: Process
    worker: Process
    beat: Process
    # An admin made with `lich users create-admin` once the API is up.
    admin_token: str = ""

    @property
    def mailbox(self) -> PeerMailbox:
        mailbox = self.smtp.mailbox
        assert isinstance(mailbox, PeerMailbox)
        return mailbox

    def processes(self) -> tuple[Process, ...]:
        return (self.api, self.worker, self.beat)


@pytest.fixture
def celery_stack(
    synced: Callable[[str], Path], fresh_database: Callable[[str], str], redis_url: str, tmp_path: Path
) -> Iterator[Stack]:
    project = synced("celery")
    backend = project / "backend"
    broker = f"{redis_url.rsplit('/', 1)[0]}/{E2E_REDIS_DB}"
    client = redis.Redis.from_url(broker)
    client.flushdb()
    client.close()
    database_url = fresh_database("lich_e2e_celery")
    for stale in backend.glob("celerybeat-schedule*"):
        stale.unlink()
    with PeerSmtpServer() as smtp:
        env = app_env(database_url, smtp, REDIS_URL=broker, CELERY_BROKER_URL="", CELERY_RESULT_BACKEND="")
        migrate(project, env, tmp_path)
        base, api = start_api(project, env, tmp_path)
        worker = Process(
            "celery_worker", native_command(project, "celery_worker"), cwd=backend, env=env, log_dir=tmp_path
        )
        beat = Process("celery_beat", native_command(project, "celery_beat"), cwd=backend, env=env, log_dir=tmp_path)
        stack = Stack(project, env, base, smtp, database_url, api, worker, beat)
        try:
            wait_until(
                lambda: http_status(f"{stack.base}/ready") == 200,
                within=60,
                what="api /ready",
                processes=stack.processes(),
            )
            wait_until(lambda: " ready." in worker.log(), within=60, what="worker ready", processes=stack.processes())
            stack.admin_token = admin_token_from_lich(project, env, base)
            yield stack
        finally:
            for process in stack.processes():
                process.stop(timeout=30)


def pool_children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in children.read_text().split()] if children.exists() else []


def pid_with_local_port(candidates: list[int], port: int) -> int | None:
    """Which of `candidates` owns the TCP socket whose local port is `port` (from /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    for pid in candidates:
        fd_dir = Path(f"/proc/{pid}/fd")
        for fd in fd_dir.iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                return pid
    return None


def create_user(stack: Stack, email: str) -> dict[str, Any]:
    status, user = sign_up(stack.base, email, E2E_PASSWORD)
    assert status == 201, user
    return user  # type: ignore[no-any-return]


def sent_at(stack: Stack, user_id: int) -> str | None:
    """`welcome_email_sent_at` as the admin reads it."""
    url = f"{stack.base}/api/v1/users/{user_id}"
    return http_json("GET", url, token=stack.admin_token)[1]["welcome_email_sent_at"]  # type: ignore[no-any-return]


def emails_to(stack: Stack, address: str) -> int:
    return sum(1 for message in stack.mailbox.received() if message["To"] == address)


def purges_sent(stack: Stack) -> int:
    return stack.beat.log().count("Sending due task purge_failed_jobs")


def purges_done(stack: Stack) -> int:
    return len(re.findall(r"Task purge_failed_jobs\[[^\]]+\] succeeded", stack.worker.log()))


def purge_ran_since(stack: Stack, sent_before: int) -> bool:
    """Beat has sent the purge since it had sent `sent_before`, and the worker has run every purge
    beat sent (so that one too)."""
    sent = purges_sent(stack)
    return sent > sent_before and purges_done(stack) >= sent


def test_celery_stack_sends_the_email_survives_a_killed_pool_process_and_runs_beat(celery_stack: Stack) -> None:
    stack = celery_stack
    status, body = http_get(f"{stack.base}/ready")
    assert status == 200, body
    assert json.loads(body)["checks"] == {"database": "ok", "redis": "ok"}

    # An entry beat's periodic purge must delete (retried 40 days ago), and one it must keep.
    with psycopg.connect(stack.database_url, autocommit=True) as connection:
        for retried in ("now() - interval '40 days'", "NULL"):
            connection.execute(
                "INSERT INTO failed_jobs (job_name, arguments, exception, attempts, failed_at, retried_at) "
                f"VALUES ('send_welcome_email', '{{}}', 'old', 1, now(), {retried})"
            )
    # Beat sends the purge each minute on the minute, so one may have run just before the inserts:
    # step 3 waits for one sent after them.
    purges_sent_before = purges_sent(stack)

    # 1. Sign-up, login, /users/me and the welcome email, end to end; the latency is printed so it
    # can be quoted.
    started = time.monotonic()
    sign_up_log_in_and_get_welcomed(stack.base, stack.smtp, "first@example.com", stack.processes())
    latency = time.monotonic() - started
    warm_started = time.monotonic()
    create_user(stack, "warm@example.com")
    wait_until(
        lambda: emails_to(stack, "warm@example.com"), within=30, what="second email", processes=stack.processes()
    )
    warm = time.monotonic() - warm_started
    print(
        f"\ncelery e2e: sign-up, login, /users/me -> email received in {latency * 1000:.0f} ms "
        f"(first job of a fresh worker), {warm * 1000:.0f} ms (second job)"
    )

    # The worker's compose healthcheck, run natively against this worker's own node name.
    check = compose(stack.project)["services"]["celery_worker"]["healthcheck"]["test"]
    assert check[0] == "CMD-SHELL"
    ping = check[1].replace("$$HOSTNAME", socket.gethostname()).split()
    result = subprocess.run(
        [str(stack.project / "backend/.venv/bin" / ping[0]), *ping[1:]],
        cwd=stack.project / "backend",
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and "pong" in result.stdout, result.stdout + result.stderr

    # 2. Kill the pool process while it is mid-send (stalled at RCPT TO: nothing accepted yet).
    stack.mailbox.stall_next_rcpt()
    victim_user = create_user(stack, "killed@example.com")
    wait_until(stack.mailbox.rcpt_seen.is_set, within=30, what="the stalled RCPT", processes=stack.processes())
    peer_port = stack.mailbox.rcpt_peers[-1][1]
    children = pool_children(stack.worker.popen.pid)
    victim = pid_with_local_port(children, peer_port)
    assert victim is not None, f"no pool process of {children} owns the SMTP connection from port {peer_port}"
    killed_at = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    wait_until(
        lambda: "WorkerLostError" in stack.worker.log() or "SIGKILL" in stack.worker.log(),
        within=30,
        what="the worker to notice its lost pool process",
        processes=stack.processes(),
    )
    stack.mailbox.release.set()

    wait_until(
        lambda: emails_to(stack, "killed@example.com"),
        within=60,
        what="the redelivered email",
        processes=stack.processes(),
    )
    redelivered_in = time.monotonic() - killed_at
    assert wait_until(lambda: sent_at(stack, victim_user["id"]), within=30, what="welcome_email_sent_at after kill")
    time.sleep(2)  # a duplicate, if any, would arrive now
    assert emails_to(stack, "killed@example.com") == 1
    assert emails_to(stack, "first@example.com") == 1
    print(f"celery e2e: pool process {victim} SIGKILLed mid-send; redelivered, one email, {redelivered_in:.1f} s later")
    status, failed = http_json("GET", f"{stack.base}/api/v1/jobs/failed", token=stack.admin_token)
    assert status == 200
    # The kill added nothing: only the two entries inserted above, or the one step 3 keeps if a purge
    # sent after the inserts has already run. In production the list shows an error's type only, not
    # its text.
    assert [entry["exception"] for entry in failed] in (
        ["old (full error in the logs)"] * 2,
        ["old (full error in the logs)"],
    ), failed

    # 3. Beat stays up and its periodic job runs for real (every 60 s): once a purge sent after the
    # inserts has run, the old retried entry is gone.
    wait_until(
        lambda: purge_ran_since(stack, purges_sent_before),
        within=120,
        what="beat to send purge_failed_jobs after the inserts and the worker to run it",
        processes=stack.processes(),
    )
    with psycopg.connect(stack.database_url) as connection:
        remaining = connection.execute("SELECT retried_at FROM failed_jobs WHERE exception = 'old'").fetchall()
    assert remaining == [(None,)]
    assert stack.beat.alive(), stack.beat.log()[-3000:]
    assert stack.worker.alive(), stack.worker.log()[-3000:]
    print("celery e2e: beat up, purge_failed_jobs ran and deleted the entry retried 40 days ago")


def test_flower_command_serves_its_healthcheck_and_requires_basic_auth(
    synced: Callable[[str], Path], redis_url: str, tmp_path: Path
) -> None:
    project = synced("celery")
    service = compose(project)["services"]["flower"]
    port = free_port()
    command = [part.replace("--port=5555", f"--port={port}") for part in native_command(project, "flower")]
    assert command != native_command(project, "flower"), "flower's command no longer sets --port=5555"
    env = project_env(
        REDIS_URL=f"{redis_url.rsplit('/', 1)[0]}/{E2E_REDIS_DB}",
        FLOWER_BASIC_AUTH="admin:e2e-secret",
        FLOWER_ADDRESS="127.0.0.1",
    )
    assert service["environment"]["FLOWER_BASIC_AUTH"].startswith("${FLOWER_USER")
    flower = Process("flower", command, cwd=project / "backend", env=env, log_dir=tmp_path)
    try:
        wait_until(
            lambda: http_status(f"http://127.0.0.1:{port}/healthcheck") == 200,
            within=60,
            what="flower /healthcheck",
            processes=(flower,),
        )
        assert http_status(f"http://127.0.0.1:{port}/") == 401
    finally:
        flower.stop()
