"""Tier `crash`: jobs survive crashes and outages, counted.

Against real services (Postgres, the project's own API processes, a real SMTP server whose DATA
reply is delayed so that jobs are in flight when the crash comes). Each scenario creates users,
crashes something on the way, and then asserts that every user's welcome email was sent (0 lost)
within the runner's documented bound, and counts duplicates: the only kind the README allows is a
message the SMTP server accepted around a kill (before the job could commit), re-sent with the same
Message-ID; any other duplicate fails the test.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.helpers import (
    CRASH_REPORTS,
    RUNNERS,
    Mailbox,
    PostgresCluster,
    Process,
    SmtpServer,
    admin_token_from_lich,
    app_env,
    create_database,
    free_port,
    http_json,
    http_status,
    migrate,
    native_command,
    sign_up,
    temporal_server_command,
    wait_until,
)

pytestmark = pytest.mark.crash

CRASH_PASSWORD = "crash-test-password-1"  # noqa: S105  (a test user's)

USERS = 120
KILLS = 3
DATA_DELAY_SECONDS = 0.3
# The in-process runner's documented bound: an unfinished job's lease (30 s) expires, then the
# relay of the restarted API runs it; the margin covers the API's start on a loaded machine.
NONE_RECOVERY_BOUND_SECONDS = 30 + 60


# A message accepted this long before a kill or a backend restart (or while the sender, stopped,
# waited for the reply) may not have been committed as sent: the one duplicate the README documents.
COMMIT_WINDOW_SECONDS = 3.0
CRASH_TIMES: list[float] = []


class SlowMailbox(Mailbox):
    """Accepts every message, `delay` seconds after it arrived: a send takes a while."""

    def __init__(self, delay: float = DATA_DELAY_SECONDS) -> None:
        super().__init__()
        self.delay = delay
        self.accepted_at: dict[str, float] = {}

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.delay)
        reply = await super().handle_DATA(server, session, envelope)
        message_id = self.received()[-1]["Message-ID"]
        self.accepted_at.setdefault(message_id, time.monotonic())
        return reply


def count_duplicates(mailbox: Mailbox, crash_times: list[float] = CRASH_TIMES) -> tuple[Counter[str], int]:
    """Messages per Message-ID, and the number of copies; every copy must be of the documented
    kind: its first send was accepted within COMMIT_WINDOW_SECONDS of a kill or restart."""
    per_message = Counter(message["Message-ID"] for message in mailbox.received())
    assert isinstance(mailbox, SlowMailbox)
    duplicated = [message_id for message_id, count in per_message.items() if count > 1]
    undocumented = [
        message_id
        for message_id in duplicated
        if not any(
            kill - COMMIT_WINDOW_SECONDS <= mailbox.accepted_at[message_id] <= kill + mailbox.delay + 1
            for kill in crash_times
        )
    ]
    assert not undocumented, f"duplicates not explained by a kill or restart: {undocumented}"
    return per_message, sum(count - 1 for count in per_message.values())


class SlowSmtpServer(SmtpServer):
    def __init__(self, delay: float = DATA_DELAY_SECONDS) -> None:
        super().__init__()
        from aiosmtpd.controller import Controller

        self.mailbox = SlowMailbox(delay)
        self._controller = Controller(self.mailbox, hostname=self.host, port=self.port)


def crash_env(database_url: str, smtp: SmtpServer, **runner: str) -> dict[str, str]:
    """The app containers' environment (`app_env`) with ARGON2_PROFILE=owasp-minimum: the scenarios
    sign up 410 users, whose hashes at the default profile (about 0.3 s of CPU each) were a third of
    this tier's CPU, for nothing it tests."""
    return app_env(database_url, smtp, ARGON2_PROFILE="owasp-minimum", **runner)


def kill_group(process: Process) -> None:
    """SIGKILL the process and everything it started, as `docker kill` or the OOM killer would."""
    CRASH_TIMES.append(time.monotonic())
    os.killpg(process.popen.pid, signal.SIGKILL)
    process.popen.wait(timeout=10)
    process.stop()


def create_user(base: str, index: int) -> None:
    """POST until the API says the user exists (201, or 409 when a killed API had committed it)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            status, _ = sign_up(base, f"crash{index}@example.com", CRASH_PASSWORD)
        except OSError:
            status = None
        if status in (201, 409):
            return
        time.sleep(0.2)
    raise AssertionError(f"user {index} could not be created within 120 s")


def unsent(database_url: str) -> list[str]:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute("SELECT email FROM users WHERE welcome_email_sent_at IS NULL").fetchall()
    return [row[0] for row in rows]


def user_count(database_url: str) -> int:
    with psycopg.connect(database_url) as connection:
        row = connection.execute("SELECT count(*) FROM users").fetchone()
    return int(row[0]) if row else 0


def report(scenario: str, **counts: object) -> None:
    """Print a scenario's figures, and keep them for the terminal summary (shown without `-s`)."""
    line = f"{scenario}: " + ", ".join(f"{key}={value}" for key, value in counts.items())
    CRASH_REPORTS.append(line)
    print(f"\n[crash] {line}")


def assert_every_job_done(
    scenario: str,
    database_url: str,
    mailbox: Mailbox,
    *,
    users: int,
    bound: float,
    processes: tuple[Process, ...],
    **crashes: int,
) -> None:
    """Wait (up to the documented `bound` after the last POST) until every user's welcome email
    was sent; then count: 0 lost, duplicates only of the documented kind; print the figures."""
    done_posting = time.monotonic()
    wait_until(lambda: not unsent(database_url), within=bound, what="every welcome email sent", processes=processes)
    recovered_in = time.monotonic() - done_posting
    per_message, duplicates = count_duplicates(mailbox)
    created = user_count(database_url)
    lost = created - len(per_message)
    report(
        scenario,
        jobs=created,
        **crashes,
        recovered=len(per_message),
        lost=lost,
        duplicates=duplicates,
        recovery_seconds=round(recovered_in, 1),
    )
    assert created == users
    assert lost == 0


def test_none_api_killed_mid_stream_loses_no_job(
    synced: Callable[[str], Path], fresh_database: Callable[[str], str], tmp_path: Path
) -> None:
    project = synced("none")
    backend = project / "backend"
    database_url = fresh_database("lich_crash_none")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with SlowSmtpServer() as smtp:
        env = crash_env(database_url, smtp)
        migrate(project, env, tmp_path)
        starts = 0

        def start() -> Process:
            nonlocal starts
            starts += 1
            api = Process(
                f"api-{starts}", native_command(project, "api", port=port), cwd=backend, env=env, log_dir=tmp_path
            )
            wait_until(lambda: http_status(f"{base}/health") == 200, within=90, what="api", processes=(api,))
            return api

        api = start()
        kills = 0
        try:
            for index in range(USERS):
                create_user(base, index)
                if index and index % (USERS // (KILLS + 1)) == 0 and kills < KILLS:
                    kill_group(api)  # jobs of this process are mid-send or waiting
                    kills += 1
                    api = start()
            assert_every_job_done(
                "none, API SIGKILLed mid-stream",
                database_url,
                smtp.mailbox,
                users=USERS,
                bound=NONE_RECOVERY_BOUND_SECONDS,
                processes=(api,),
                kills=kills,
            )
        finally:
            api.stop()


# Temporal: a killed worker's activity is retried once its heartbeat timeout (8 s) passes, after the
# retry interval (5 s, then 10 s); the margin covers starting a worker on a loaded machine.
TEMPORAL_RECOVERY_BOUND_SECONDS = 8 + 15 + 60
WORKER_USERS = 100


def test_temporal_busy_workers_killed_and_server_restarted_lose_no_job(
    synced: Callable[[str], Path], fresh_database: Callable[[str], str], tmp_path: Path
) -> None:
    from tests.test_e2e_temporal import temporal_healthcheck_command

    project = synced("temporal")
    backend = project / "backend"
    database_url = fresh_database("lich_crash_temporal")
    temporal_port = free_port()
    with SlowSmtpServer() as smtp:
        env = crash_env(
            database_url,
            smtp,
            TEMPORAL_ADDRESS=f"127.0.0.1:{temporal_port}",
            TEMPORAL_NAMESPACE="default",
            TEMPORAL_TASK_QUEUE="crash",
        )
        names = Counter[str]()

        def run(service: str, command: list[str]) -> Process:
            names[service] += 1
            return Process(f"{service}-{names[service]}", command, cwd=backend, env=env, log_dir=tmp_path)

        def start_server() -> Process:
            server = run("temporal", temporal_server_command(project, temporal_port, tmp_path / "temporal.db"))
            health = temporal_healthcheck_command(project, temporal_port)
            wait_until(
                lambda: run("health", health).wait(timeout=10) == 0,
                within=90,
                what="the temporal server",
                processes=(server,),
            )
            return server

        def start_worker() -> Process:
            worker = run("worker", native_command(project, "temporal_worker"))
            wait_until(lambda: "worker started" in worker.log(), within=90, what="worker", processes=(worker,))
            return worker

        server = start_server()
        migrate(project, env, tmp_path)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        api = run("api", native_command(project, "api", port=port))
        wait_until(lambda: http_status(f"{base}/health") == 200, within=90, what="api", processes=(api,))
        worker = start_worker()
        kills = restarts = 0
        try:
            for index in range(WORKER_USERS):
                create_user(base, index)
                if index in (25, 50, 75):
                    wait_until(lambda: len(smtp.mailbox.received()) > 0, within=60, what="a busy worker")
                    kill_group(worker)  # mid-send: activities in flight on it
                    kills += 1
                    worker = start_worker()
                if index == 60:
                    CRASH_TIMES.append(time.monotonic())
                    server.stop()  # the server restarts mid-stream; POSTs keep answering 201
                    server = start_server()
                    restarts += 1
            assert_every_job_done(
                "temporal, busy workers SIGKILLed + server restarted",
                database_url,
                smtp.mailbox,
                users=WORKER_USERS,
                bound=TEMPORAL_RECOVERY_BOUND_SECONDS,
                processes=(api, worker, server),
                kills=kills,
                server_restarts=restarts,
            )
            assert worker.alive(), "the worker did not survive the server restart"
        finally:
            for process in (api, worker, server):
                process.stop()


# Celery: a killed worker's messages come back after the visibility timeout (lowered to 20 s here
# through CELERY_VISIBILITY_TIMEOUT; 300 s by default) plus the 10 s restore sweep; the margin
# covers starting a worker on a loaded machine.
CELERY_TEST_VISIBILITY_SECONDS = 20
CELERY_RECOVERY_BOUND_SECONDS = CELERY_TEST_VISIBILITY_SECONDS + 10 + 60


def start_redis(port: int, data_dir: Path, log_dir: Path, generation: int) -> Process:
    """A Redis of the test's own, persisted as compose's (AOF everysec, noeviction)."""
    command = [
        "redis-server",
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--dir", str(data_dir),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--maxmemory-policy", "noeviction",
        "--save", "",
    ]  # fmt: skip
    server = Process(f"redis-{generation}", command, cwd=data_dir, env=dict(os.environ), log_dir=log_dir)
    wait_until(lambda: "Ready to accept connections" in server.log(), within=30, what="redis", processes=(server,))
    return server


def test_celery_busy_workers_killed_and_redis_restarted_lose_no_job(
    synced: Callable[[str], Path], fresh_database: Callable[[str], str], tmp_path: Path
) -> None:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (Debian: redis-server)")
    project = synced("celery")
    backend = project / "backend"
    database_url = fresh_database("lich_crash_celery")
    redis_port = free_port()
    data_dir = tmp_path / "redis"
    data_dir.mkdir()
    redis_server = start_redis(redis_port, data_dir, tmp_path, 1)
    with SlowSmtpServer() as smtp:
        env = crash_env(
            database_url,
            smtp,
            REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
            CELERY_BROKER_URL="",
            CELERY_RESULT_BACKEND="",
            CELERY_VISIBILITY_TIMEOUT=str(CELERY_TEST_VISIBILITY_SECONDS),
        )
        names = Counter[str]()

        def run(service: str, command: list[str]) -> Process:
            names[service] += 1
            return Process(f"{service}-{names[service]}", command, cwd=backend, env=env, log_dir=tmp_path)

        def start_worker() -> Process:
            worker = run("worker", native_command(project, "celery_worker"))
            wait_until(lambda: " ready." in worker.log(), within=90, what="worker", processes=(worker,))
            return worker

        migrate(project, env, tmp_path)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        api = run("api", native_command(project, "api", port=port))
        wait_until(lambda: http_status(f"{base}/health") == 200, within=90, what="api", processes=(api,))
        worker = start_worker()
        kills = restarts = 0
        try:
            for index in range(WORKER_USERS):
                create_user(base, index)
                if index in (25, 50, 75):
                    wait_until(lambda: len(smtp.mailbox.received()) > 0, within=60, what="a busy worker")
                    kill_group(worker)  # whole process group: nothing can hand its messages back
                    kills += 1
                    worker = start_worker()
                if index == 60:
                    CRASH_TIMES.append(time.monotonic())
                    redis_server.stop()  # SIGTERM: Redis flushes its AOF and exits, as on a restart
                    redis_server = start_redis(redis_port, data_dir, tmp_path, 2)
                    restarts += 1
            assert_every_job_done(
                "celery, busy workers SIGKILLed + Redis restarted",
                database_url,
                smtp.mailbox,
                users=WORKER_USERS,
                bound=CELERY_RECOVERY_BOUND_SECONDS,
                processes=(api, worker, redis_server),
                kills=kills,
                broker_restarts=restarts,
            )
            assert worker.alive(), "the worker did not survive the Redis restart"
        finally:
            for process in (api, worker, redis_server):
                process.stop()


# --- (c) a PostgreSQL outage longer than a job's whole retry budget ---------------------------------

# The welcome email's contract (5 tries, retry_after 5 s, doubling): at most 5 + 10 + 20 + 40 s of
# waits between its tries, on every runner. The database stays down longer than that, so every job
# in flight when it stopped runs out of tries while the failed-jobs store cannot be written either
# (the margin covers the tries themselves and a worker slow to pick up a retry on a loaded machine).
WELCOME_RETRY_BUDGET_SECONDS = 5 + 10 + 20 + 40
OUTAGE_SECONDS = WELCOME_RETRY_BUDGET_SECONDS + 15
OUTAGE_USERS = 30
OUTAGE_DATA_DELAY_SECONDS = 1.0
# Once the database is back, every job is done or recorded within the runner's longest wait between
# two writes of its outcome (Celery: a 10 s requeue; Temporal: the record activity's 15 s retry
# interval; none: 30 s at most between writes); the margin covers a loaded machine.
OUTAGE_RECOVERY_BOUND_SECONDS = 30 + 60
# What each runner logs when it keeps a job because the failed-jobs store could not be written
# (once per failed write: `record_retries` counts them).
RECORD_RETRY_MARKS = {
    "celery": "could not record the failed job",
    "none": "could not record the failed job",
    "temporal": "record_failed_job",
}


class OutageStack:
    """One runner's services (API, worker, broker or Temporal server) on the test's Postgres cluster."""

    def __init__(self, runner: str, project: Path, database_url: str, log_dir: Path) -> None:
        self.runner = runner
        self.project = project
        self.database_url = database_url
        self.log_dir = log_dir
        self.smtp = SlowSmtpServer(OUTAGE_DATA_DELAY_SECONDS)
        self.processes: list[Process] = []
        self.base = ""
        self.admin_token = ""
        self.recovery_seconds: float | None = None
        self._smtp_started = False

    def run(self, service: str, command: list[str], env: dict[str, str]) -> Process:
        process = Process(service, command, cwd=self.project / "backend", env=env, log_dir=self.log_dir)
        self.processes.append(process)
        return process

    def start(self) -> None:
        from tests.test_e2e_temporal import temporal_healthcheck_command

        self.smtp.__enter__()
        self._smtp_started = True
        extra: dict[str, str] = {}
        if self.runner == "celery":
            redis_port = free_port()
            (self.log_dir / "redis").mkdir()
            self.processes.append(start_redis(redis_port, self.log_dir / "redis", self.log_dir, 1))
            extra = {
                "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
                "CELERY_BROKER_URL": "",
                "CELERY_RESULT_BACKEND": "",
            }
        if self.runner == "temporal":
            temporal_port = free_port()
            extra = {
                "TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
                "TEMPORAL_NAMESPACE": "default",
                "TEMPORAL_TASK_QUEUE": "outage",
            }
            command = temporal_server_command(self.project, temporal_port, self.log_dir / "temporal.db")
            server = self.run("temporal", command, dict(os.environ))
            health = temporal_healthcheck_command(self.project, temporal_port)
            wait_until(
                lambda: subprocess.run(health, capture_output=True, check=False, timeout=10).returncode == 0,
                within=90,
                what="the temporal server",
                processes=(server,),
            )
        env = crash_env(self.database_url, self.smtp, **extra)
        migrate(self.project, env, self.log_dir)
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        api = self.run("api", native_command(self.project, "api", port=port), env)
        if self.runner != "none":
            worker = self.run("worker", native_command(self.project, f"{self.runner}_worker"), env)
            ready = " ready." if self.runner == "celery" else "worker started"
            wait_until(lambda: ready in worker.log(), within=90, what="worker", processes=(worker,))
        wait_until(lambda: http_status(f"{self.base}/health") == 200, within=90, what="api", processes=(api,))
        self.admin_token = admin_token_from_lich(self.project, env, self.base, "outage-admin@example.com")

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        if self._smtp_started:
            self.smtp.__exit__()

    def logs(self) -> str:
        return "\n".join(process.log() for process in self.processes)


def welcome_states(database_url: str) -> tuple[int, int, int]:
    """Users signed up by the test; of them, how many were sent their email, and how many are
    neither sent nor in the failed-jobs store (unaccounted for: still running, or lost)."""
    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            """
            SELECT count(*),
                   count(*) FILTER (WHERE u.welcome_email_sent_at IS NOT NULL),
                   count(*) FILTER (WHERE u.welcome_email_sent_at IS NULL AND NOT EXISTS (
                       SELECT 1 FROM failed_jobs f
                       WHERE f.job_name = 'send_welcome_email'
                         AND (f.arguments->>'user_id')::int = u.id))
            FROM users u WHERE u.email LIKE 'crash%'
            """
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def failed_welcome_ids(database_url: str) -> list[int]:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT id FROM failed_jobs WHERE job_name = 'send_welcome_email' AND retried_at IS NULL"
        ).fetchall()
    return [int(row[0]) for row in rows]


def post_users(stack: OutageStack, users: int, created: list[int]) -> None:
    for index in range(users):
        create_user(stack.base, index)
        created[0] += 1


class OutageScenario(threading.Thread):
    """Scenario (c), run in the background while the other scenarios run (it mostly waits: for the
    outage to outlast the retry budget, then for the jobs to recover), so the tier stays short.

    Every runner's stack on one Postgres cluster of the test's own; sign-ups stream in, and the
    cluster is stopped (`pg_ctl -m fast`: sessions end, open transactions roll back) for
    OUTAGE_SECONDS while welcome emails are in flight everywhere, then started again. Once every
    user of a stack is accounted for (email sent or job recorded as failed), the seconds that took
    after the restart are noted on the stack (None: not within OUTAGE_RECOVERY_BOUND_SECONDS).
    """

    def __init__(self, projects: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> None:
        super().__init__(name="postgres-outage", daemon=True)
        self.projects = projects
        self.tmp_path_factory = tmp_path_factory
        self.cluster: PostgresCluster | None = None
        self.stacks: dict[str, OutageStack] = {}
        self.crash_times: list[float] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            # Made here: a machine without initdb fails this scenario, not the module's others.
            self.cluster = PostgresCluster()
            self.cluster.__enter__()
            self._run(self.cluster)
        except BaseException as exc:
            self.error = exc

    def _run(self, cluster: PostgresCluster) -> None:
        for runner in RUNNERS:
            url = create_database(cluster.url, f"outage_{runner}")
            log_dir = self.tmp_path_factory.mktemp(f"outage-{runner}")
            self.stacks[runner] = OutageStack(runner, self.projects[runner], url, log_dir)
        starters = [threading.Thread(target=stack.start) for stack in self.stacks.values()]
        for starter in starters:
            starter.start()
        for starter in starters:
            starter.join()
        for stack in self.stacks.values():
            assert stack.admin_token, f"the {stack.runner} stack did not start:\n{stack.logs()[-4000:]}"
        created = {runner: [0] for runner in RUNNERS}
        posters = [
            threading.Thread(target=post_users, args=(stack, OUTAGE_USERS, created[runner]), daemon=True)
            for runner, stack in self.stacks.items()
        ]
        for poster in posters:
            poster.start()
        # Mid-stream everywhere: users are being created and their emails are being sent.
        wait_until(
            lambda: all(
                created[runner][0] >= OUTAGE_USERS // 3 and stack.smtp.mailbox.received()
                for runner, stack in self.stacks.items()
            ),
            within=120,
            what="sign-ups and emails under way on every runner",
        )
        self.crash_times.append(time.monotonic())
        cluster.stop("fast")
        time.sleep(OUTAGE_SECONDS)
        cluster.start()
        restarted = time.monotonic()
        for poster in posters:
            poster.join(timeout=180)
        pending = dict(self.stacks)
        while pending and time.monotonic() < restarted + OUTAGE_RECOVERY_BOUND_SECONDS:
            for runner, stack in list(pending.items()):
                if welcome_states(stack.database_url)[2] == 0:
                    stack.recovery_seconds = time.monotonic() - restarted
                    del pending[runner]
            time.sleep(0.5)

    def result(self) -> dict[str, OutageStack]:
        self.join(timeout=600)
        assert not self.is_alive(), "the Postgres outage scenario did not end within 10 minutes"
        if self.error is not None:
            raise AssertionError(f"the Postgres outage scenario failed: {self.error!r}") from self.error
        return self.stacks

    def close(self) -> None:
        self.join(timeout=600)
        for stack in self.stacks.values():
            stack.stop()
        if self.cluster is not None:
            self.cluster.__exit__()


OUTAGE_TEST = "test_postgres_outage_longer_than_the_retry_budget_loses_no_job"


@pytest.fixture(scope="module", autouse=True)
def postgres_outage(
    request: pytest.FixtureRequest, synced: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OutageScenario | None]:
    """Start scenario (c) in the background when one of its tests is selected (they come last)."""
    if not any(getattr(item, "originalname", "") == OUTAGE_TEST for item in request.session.items):
        yield None
        return
    # Baked and synced here, not in the scenario's thread: a failure then fails this fixture.
    projects = {runner: synced(runner) for runner in RUNNERS}
    scenario = OutageScenario(projects, tmp_path_factory)
    scenario.start()
    try:
        yield scenario
    finally:
        scenario.close()


@pytest.mark.parametrize("runner", RUNNERS)
def test_postgres_outage_longer_than_the_retry_budget_loses_no_job(
    runner: str, postgres_outage: OutageScenario | None
) -> None:
    assert postgres_outage is not None
    stack = postgres_outage.result()[runner]
    record_retries = stack.logs().count(RECORD_RETRY_MARKS[runner])
    recorded = failed_welcome_ids(stack.database_url)
    users, sent_by_runner, unaccounted = welcome_states(stack.database_url)
    assert stack.recovery_seconds is not None, (
        f"{unaccounted} users neither emailed nor recorded {OUTAGE_RECOVERY_BOUND_SECONDS}s after the "
        f"database came back\n{stack.logs()[-6000:]}"
    )
    # The record is usable: retrying each entry (as an admin would) sends the remaining emails.
    for failed_job_id in recorded:
        status, body = http_json(
            "POST", f"{stack.base}/api/v1/jobs/failed/{failed_job_id}/retry", token=stack.admin_token
        )
        assert status == 202, body
    wait_until(
        lambda: not unsent_signed_up(stack.database_url),
        within=60,
        what="every welcome email sent after the retries",
        processes=tuple(stack.processes),
    )
    per_message, duplicates = count_duplicates(stack.smtp.mailbox, postgres_outage.crash_times)
    lost = users - len(per_message)
    report(
        f"{runner}, Postgres down {OUTAGE_SECONDS}s (retry budget {WELCOME_RETRY_BUDGET_SECONDS}s)",
        jobs=users,
        sent_by_runner=sent_by_runner,
        record_retries=record_retries,
        recorded=len(recorded),
        recovered=len(per_message),
        lost=lost,
        duplicates=duplicates,
        recovery_seconds=round(stack.recovery_seconds, 1),
    )
    assert users == OUTAGE_USERS
    assert lost == 0
    assert record_retries > 0, "no job ran out of tries during the outage: the scenario did not test recording"


def unsent_signed_up(database_url: str) -> list[str]:
    return [email for email in unsent(database_url) if email.startswith("crash")]
