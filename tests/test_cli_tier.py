"""Tier `cli`: the generated project's `lich` command, in every variant, as a user runs it.

In `backend/`, `uv run lich make job GenerateReport` writes the job and its test; refusals
exit non-zero with one line and write nothing; the project's own tests (the new one included) pass;
and a real worker registers and runs the new job with no other edit: in process (none), a Celery
worker (celery), a Temporal worker on the dev server that `lich dev` embeds (temporal). `uv run lich
dev` answers /ready with no external service, catches the first sign-up's welcome email in its mail
sink, and stops on Ctrl-C within seconds.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest

from tests.helpers import (
    RUNNERS,
    Process,
    bake,
    free_port,
    http_get,
    http_json,
    http_status,
    native_command,
    project_env,
    wait_until,
)

pytestmark = pytest.mark.cli

JOB_FILES = ("backend/internal/jobs/generate_report.py", "backend/tests/jobs/test_generate_report.py")
STOP_WITHIN_SECONDS = 15.0


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def tree(root: Path) -> dict[str, float]:
    """Each file's modification time, outside the environment and the caches, which are not walked
    (the environment alone holds thousands of files)."""
    skip = {".venv", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
    files: dict[str, float] = {}
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = [name for name in subdirectories if name not in skip]
        for name in names:
            path = Path(directory, name)
            files[str(path.relative_to(root))] = path.stat().st_mtime
    return files


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory, uv: str) -> Callable[[str], Path]:
    """A baked, synced project per runner, for this tier only (it adds a job to it)."""
    cache: dict[str, Path] = {}

    def get(runner: str) -> Path:
        if runner not in cache:
            project = bake(tmp_path_factory.mktemp(f"cli-{runner}"), task_runner=runner, project_name="Lich Cli")
            result = run([uv, "sync", "--quiet"], project / "backend", project_env())
            assert result.returncode == 0, result.stderr
            cache[runner] = project
        return cache[runner]

    return get


def lich_env(**overrides: str) -> dict[str, str]:
    """No test database of the caller's (the project's tests empty it) unless one is given, everything
    else as is."""
    env = project_env()
    env.pop("TEST_DATABASE_URL", None)
    return {**env, **overrides}


def make_generate_report(project: Path, uv: str) -> None:
    """`uv run lich make job GenerateReport` in backend/ (where the README says to run it), once per project."""
    if all((project / relative).exists() for relative in JOB_FILES):
        return
    result = run([uv, "run", "lich", "make", "job", "GenerateReport"], project / "backend", lich_env())
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["✅ Job GenerateReportJob created!", "Files created:"], result.stdout
    assert [line.strip() for line in lines[2:4]] == list(JOB_FILES)
    assert all((project / relative).is_file() for relative in JOB_FILES)


def run_tests(project: Path, database_url: str, redis_url: str | None) -> str:
    env = lich_env(TEST_DATABASE_URL=database_url, **({"TEST_REDIS_URL": redis_url} if redis_url else {}))
    result = run(["uv", "run", "--no-sync", "pytest", "-p", "no:cacheprovider"], project / "backend", env)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in summary, summary
    assert "skipped" not in summary, summary
    return result.stdout


# --- make job ------------------------------------------------------------------------------------


@pytest.mark.parametrize("runner", ["none", "celery", "temporal"])
def test_make_job_and_the_projects_tests_pass(
    projects: Callable[[str], Path], uv: str, fresh_database: Callable[[str], str], redis_url: str, runner: str
) -> None:
    project = projects(runner)
    make_generate_report(project, uv)
    database_url = fresh_database(f"lich_cli_tests_{runner}")
    output = run_tests(project, database_url, redis_url if runner == "celery" else None)
    assert "tests/jobs/test_generate_report.py ..." in output, output[-3000:]


@pytest.mark.parametrize("runner", ["none", "celery", "temporal"])
@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["GenerateReport"], 1, "already exist"),
        (["generate-report"], 2, "not a valid job name"),
        (["class"], 2, "keyword"),
        (["9Lives"], 2, "not a valid job name"),
        ([""], 2, "empty"),
        (["GenerateReport", "--type=somethingelse"], 2, "dependencies and worker are not installed"),
        (["NightlyReport", "--schedule", "61 * * * *"], 2, "--schedule: cron expression '61 * * * *'"),
        (["NightlyReport", "--schedule", "0 8 * *"], 2, "it needs 5"),
        (["NightlyReport", "--queue", "high"], 2, "set `queue=` in its CONTRACT"),
    ],
)
def test_refusals_exit_non_zero_with_one_line_and_write_nothing(
    projects: Callable[[str], Path], uv: str, runner: str, args: list[str], code: int, message: str
) -> None:
    project = projects(runner)
    make_generate_report(project, uv)
    before = tree(project)
    result = run([uv, "run", "lich", "make", "job", *args], project / "backend" / "internal", lich_env())
    assert result.returncode == code, result.stderr
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert tree(project) == before


# --- periodic jobs and the Lich docs' spelling ------------------------------------------------------

DAILY_FILES = ("backend/internal/jobs/daily_report.py", "backend/tests/jobs/test_daily_report.py")


def make_daily_report(project: Path, uv: str) -> None:
    """`uv run lich make job DailyReport --schedule "*/1 * * * *"`, once per project."""
    if all((project / relative).exists() for relative in DAILY_FILES):
        return
    result = run(
        [uv, "run", "lich", "make", "job", "DailyReport", "--schedule", "*/1 * * * *"], project / "backend", lich_env()
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("✅ Job DailyReportJob created!"), result.stdout
    assert 'schedule=Schedule(cron="*/1 * * * *")' in (project / DAILY_FILES[0]).read_text()


@pytest.mark.parametrize("runner", ["none", "celery", "temporal"])
def test_a_periodic_job_is_listed_by_jobs_schedules_and_its_test_passes(
    projects: Callable[[str], Path], uv: str, redis_url: str, runner: str
) -> None:
    project = projects(runner)
    make_daily_report(project, uv)
    listed = run([uv, "run", "lich", "jobs", "schedules"], project / "backend", lich_env())
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line.split()[1:] for line in listed.stdout.splitlines()[1:-1]}
    assert rows["daily_report"][:5] == ["*/1", "*", "*", "*", "*"], listed.stdout
    assert rows["purge_failed_jobs"][:2] == ["every", "60s"], listed.stdout
    env = lich_env(**({"TEST_REDIS_URL": redis_url} if runner == "celery" else {}))
    tests = run(
        ["uv", "run", "--no-sync", "pytest", "-q", "-p", "no:cacheprovider", "tests/jobs/test_daily_report.py"],
        project / "backend",
        env,
    )
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    assert "skipped" not in tests.stdout.splitlines()[-1]


@pytest.mark.parametrize(
    ("runner", "queue", "accepted"),
    [
        ("celery", "celery", True),
        ("temporal", "temporal", True),
        ("temporal", "celery", False),
        ("none", "celery", False),
    ],
)
def test_queue_names_the_runner_as_the_lich_docs_spell_it(
    projects: Callable[[str], Path], uv: str, runner: str, queue: str, accepted: bool
) -> None:
    """`lich make job SendEmail --queue celery` works in a celery project, is refused elsewhere."""
    project = projects(runner)
    (project / "backend/internal/jobs/send_email.py").unlink(missing_ok=True)
    (project / "backend/tests/jobs/test_send_email.py").unlink(missing_ok=True)
    before = tree(project)
    result = run([uv, "run", "lich", "make", "job", "SendEmail", "--queue", queue], project / "backend", lich_env())
    if accepted:
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("✅ Job SendEmailJob created!")
        assert (project / "backend/internal/jobs/send_email.py").is_file()
        return
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert f"--queue={queue}: --queue names the task runner, like --type" in result.stderr
    assert f"generated for {runner!r}" in result.stderr
    assert tree(project) == before


# --- a real worker runs the new job ----------------------------------------------------------------


def record_failed_generate_report(project: Path, env: dict[str, str], reference: str) -> int:
    code = (
        "from internal.config import get_settings\n"
        "from internal.services.failed_jobs import record_failed_job\n"
        "print(record_failed_job(get_settings(), job_name='generate_report',"
        f" arguments={{'reference': {reference!r}}}, exception='ConnectionError()', attempts=5))\n"
    )
    result = run(["uv", "run", "--no-sync", "python", "-c", code], project / "backend", env)
    assert result.returncode == 0, result.stderr
    return int(result.stdout.strip().splitlines()[-1])


def migrated_env(project: Path, tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = lich_env(DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}", **overrides)
    result = run(["uv", "run", "--no-sync", "alembic", "upgrade", "head"], project / "backend", env)
    assert result.returncode == 0, result.stderr
    return env


def test_none_registry_finds_the_new_job_and_retry_runs_it_in_process(
    projects: Callable[[str], Path], uv: str, tmp_path: Path
) -> None:
    project = projects("none")
    make_generate_report(project, uv)
    env = migrated_env(project, tmp_path)
    names = run(
        ["uv", "run", "--no-sync", "python", "-c", "from internal.jobs.registry import job_modules as j; print(*j())"],
        project / "backend",
        env,
    )
    assert "generate_report" in names.stdout.split(), names.stderr
    entry = record_failed_generate_report(project, env, "in-process")
    listed = run([uv, "run", "lich", "jobs", "failed"], project / "backend", env)
    assert listed.returncode == 0, listed.stderr
    assert any(line.split()[:2] == [str(entry), "generate_report"] for line in listed.stdout.splitlines())
    retried = run([uv, "run", "lich", "jobs", "retry", str(entry)], project / "backend", env)
    assert retried.returncode == 0, retried.stderr
    assert f"failed job {entry} (generate_report): ran in process" in retried.stdout
    unknown = run([uv, "run", "lich", "jobs", "retry", "424242"], project / "backend", env)
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "lich: failed job 424242 not found"


def test_celery_worker_registers_and_runs_the_new_job(
    projects: Callable[[str], Path], uv: str, redis_url: str, tmp_path: Path
) -> None:
    project = projects("celery")
    make_generate_report(project, uv)
    env = migrated_env(project, tmp_path, REDIS_URL=redis_url, CELERY_BROKER_URL="", CELERY_RESULT_BACKEND="")
    worker = Process(
        "celery_worker", native_command(project, "celery_worker"), cwd=project / "backend", env=env, log_dir=tmp_path
    )
    try:
        wait_until(lambda: " ready." in worker.log(), within=90, what="the worker to start", processes=(worker,))
        assert ". generate_report" in worker.log()  # the worker's own task list
        entry = record_failed_generate_report(project, env, "on-the-worker")
        retried = run([uv, "run", "lich", "jobs", "retry", str(entry)], project / "backend", env)
        assert retried.returncode == 0, retried.stderr
        wait_until(
            lambda: "generate report done" in worker.log(),
            within=60,
            what="the worker to run generate_report",
            processes=(worker,),
        )
    finally:
        worker.stop()


# --- lich dev ------------------------------------------------------------------------------------


def free_port_pair(offset: int) -> int:
    """A free port whose `port + offset` is free as well (the Temporal UI's port)."""
    for _ in range(50):
        port = free_port()
        if port + offset < 65536:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port + offset)) != 0:
                    return port
    raise AssertionError("no free port pair")


def start_dev(project: Path, uv: str, tmp_path: Path, port: int, env: dict[str, str]) -> Process:
    (project / ".env").unlink(missing_ok=True)  # works with no .env: SQLite and the defaults
    for leftover in (project / "backend").glob("app.db*"):
        leftover.unlink()
    command = [uv, "run", "lich", "dev", "--port", str(port)]
    dev = Process("lich_dev", command, cwd=project / "backend", env=env, log_dir=tmp_path)
    wait_until(
        lambda: http_status(f"http://127.0.0.1:{port}/ready", timeout=3) == 200,
        within=120,
        what="lich dev to answer /ready",
        processes=(dev,),
    )
    return dev


def stop_dev(dev: Process, port: int) -> float:
    """Ctrl-C: every child stops within seconds, lich exits 0, nothing listens any more."""
    try:
        started = time.monotonic()
        dev.popen.send_signal(signal.SIGINT)  # what Ctrl-C sends (uv forwards it to lich)
        code = dev.wait(timeout=STOP_WITHIN_SECONDS * 2)
        elapsed = time.monotonic() - started
        assert code == 0, dev.log()[-4000:]
        assert elapsed < STOP_WITHIN_SECONDS, dev.log()[-4000:]
        assert "stopped after" in dev.log()
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, "the API still listens after Ctrl-C"
        return elapsed
    finally:
        dev.stop()


def sign_up_and_read_the_welcome_email(project: Path, port: int, dev: Process) -> Message:
    """As a newcomer would: sign up, then find the welcome email in the mail sink `lich dev` started."""
    email = f"newcomer-{port}@example.com"
    status, _ = http_json(
        "POST",
        f"http://127.0.0.1:{port}/api/v1/users",
        json.dumps({"email": email, "name": "Newcomer", "password": "a long enough password"}).encode(),
    )
    assert status == 201, dev.log()[-3000:]

    def caught() -> Message | None:
        for path in (project / ".mail").glob("*.eml"):
            message = message_from_bytes(path.read_bytes())
            if message["To"] == email:
                return message
        return None

    def sent_at() -> str | None:
        with sqlite3.connect(project / "backend" / "app.db") as db:
            [(value,)] = db.execute("SELECT welcome_email_sent_at FROM users WHERE email = ?", (email,)).fetchall()
        return value

    wait_until(lambda: caught() is not None, within=60, what="the welcome email in .mail/", processes=(dev,))
    # The job commits welcome_email_sent_at once the SMTP server has accepted the message.
    wait_until(sent_at, within=30, what="welcome_email_sent_at", processes=(dev,))
    assert f"mail to {email}" in dev.log()
    message = caught()
    assert message is not None
    return message


def test_none_dev_answers_ready_and_stops_on_ctrl_c(projects: Callable[[str], Path], uv: str, tmp_path: Path) -> None:
    project = projects("none")
    port = free_port()
    dev = start_dev(project, uv, tmp_path, port, lich_env(SMTP_PORT=str(free_port())))
    try:
        body = json.loads(http_get(f"http://127.0.0.1:{port}/ready")[1])
        assert body["checks"] == {"database": "ok"}
        assert "migrate | $ python -m internal.migrate" in dev.log()
        assert "Welcome" in sign_up_and_read_the_welcome_email(project, port, dev)["Subject"]
    finally:
        stop_dev(dev, port)


def test_temporal_dev_embeds_the_server_and_its_worker_runs_the_new_job(
    projects: Callable[[str], Path], uv: str, tmp_path: Path
) -> None:
    project = projects("temporal")
    make_generate_report(project, uv)
    port, temporal_port = free_port(), free_port_pair(1000)
    queue = "cli-tier"
    env = lich_env(TEMPORAL_ADDRESS=f"127.0.0.1:{temporal_port}", TEMPORAL_TASK_QUEUE=queue, SMTP_PORT=str(free_port()))
    dev = start_dev(project, uv, tmp_path, port, env)
    try:
        body = json.loads(http_get(f"http://127.0.0.1:{port}/ready")[1])
        assert body["checks"] == {"database": "ok", "temporal": "ok"}
        assert "Welcome" in sign_up_and_read_the_welcome_email(project, port, dev)["Subject"]
        ui_line = f"Temporal UI on http://127.0.0.1:{temporal_port + 1000}"
        wait_until(lambda: ui_line in dev.log(), within=10, what="the banner", processes=(dev,))
        assert (project / ".temporal" / "dev.db").exists()
        wait_until(lambda: "worker started" in dev.log(), within=60, what="the worker to poll", processes=(dev,))
        temporal = str(project / "backend" / ".venv" / "bin" / "temporal")
        execute = run(
            [
                temporal,
                "workflow",
                "execute",
                "--type",
                "GenerateReportWorkflow",
                "--task-queue",
                queue,
                "--input",
                "{}",
                "--address",
                f"127.0.0.1:{temporal_port}",
                "--output",
                "json",
            ],
            project,
            env,
            timeout=120,
        )
        assert execute.returncode == 0, execute.stdout[-3000:] + execute.stderr[-2000:]
        assert "COMPLETED" in execute.stdout.upper(), execute.stdout[-3000:]
        assert "generate report done" in dev.log()
    finally:
        stop_dev(dev, port)


# --- acceptance: a periodic job made with lich runs under `lich dev`, with no other edit ----------------


@dataclass
class PeriodicDev:
    """One variant's `lich dev` run with DailyReport: its log, and what went wrong, if anything."""

    log: str
    error: BaseException | None


def periodic_dev_env(runner: str, redis_url: str) -> dict[str, str]:
    if runner == "celery":
        return lich_env(REDIS_URL=redis_url, CELERY_BROKER_URL="", CELERY_RESULT_BACKEND="")
    if runner == "temporal":
        temporal_port = free_port_pair(1000)
        return lich_env(TEMPORAL_ADDRESS=f"127.0.0.1:{temporal_port}", TEMPORAL_TASK_QUEUE="cli-tier-periodic")
    return lich_env()


@pytest.fixture(scope="module")
def periodic_devs(
    projects: Callable[[str], Path], uv: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, PeriodicDev]:
    """`lich dev` in every variant at once, each with DailyReport made by `lich make job --schedule
    "*/1 * * * *"`, until each has run it (the first run is due at the next minute boundary): the
    three wait for one boundary side by side instead of one after another."""
    devs: dict[str, tuple[Process, int]] = {}
    runs: dict[str, PeriodicDev] = {}
    for runner in RUNNERS:
        project = projects(runner)
        make_daily_report(project, uv)
        (project / "backend" / "celerybeat-schedule").unlink(missing_ok=True)
        port = free_port()
        try:
            dev = start_dev(
                project, uv, tmp_path_factory.mktemp(f"periodic-{runner}"), port, periodic_dev_env(runner, redis_url)
            )
        except AssertionError as exc:
            runs[runner] = PeriodicDev(log="", error=exc)
            continue
        devs[runner] = (dev, port)
    for runner, (dev, port) in devs.items():
        error: BaseException | None = None
        try:
            wait_until(
                lambda dev=dev: "daily report done" in dev.log(),
                within=150,
                what=f"the periodic daily_report to run ({runner})",
                processes=(dev,),
            )
        except AssertionError as exc:
            error = exc
        finally:
            try:
                stop_dev(dev, port)
            except AssertionError as exc:
                error = error or exc
        runs[runner] = PeriodicDev(log=dev.log(), error=error)
    return runs


def test_none_dev_runs_the_periodic_job_made_with_lich(periodic_devs: dict[str, PeriodicDev]) -> None:
    run = periodic_devs["none"]
    assert run.error is None, run.error


def test_celery_dev_runs_the_periodic_job_made_with_lich(periodic_devs: dict[str, PeriodicDev]) -> None:
    run = periodic_devs["celery"]
    assert run.error is None, run.error
    assert "Sending due task daily_report (daily_report)" in run.log


def test_temporal_dev_runs_the_periodic_job_made_with_lich(periodic_devs: dict[str, PeriodicDev]) -> None:
    run = periodic_devs["temporal"]
    assert run.error is None, run.error
    assert "cli-tier-periodic.periodic.daily_report" in run.log  # the worker's schedule sync


def due_claims(replicas: list[Process]) -> list[str]:
    """Due times the replicas claimed for the heartbeat job, from their `periodic job due` lines."""
    pattern = re.compile(r"periodic job due job='heartbeat' due='([^']+)'")
    return [due for replica in replicas for due in pattern.findall(replica.log())]


def make_heartbeat(project: Path, uv: str) -> None:
    """A periodic job made with lich, then set to run every 2 s instead of each minute: the replicas'
    claims do not depend on the kind of schedule, and three runs take seconds instead of minutes."""
    result = run(
        [uv, "run", "lich", "make", "job", "Heartbeat", "--schedule", "*/1 * * * *"], project / "backend", lich_env()
    )
    assert result.returncode == 0, result.stderr
    module = project / "backend/internal/jobs/heartbeat.py"
    text = module.read_text()
    cron, future = 'schedule=Schedule(cron="*/1 * * * *")', "from __future__ import annotations\n"
    assert cron in text and future in text
    text = text.replace(cron, "schedule=Schedule(every=timedelta(seconds=2))")
    module.write_text(text.replace(future, f"{future}\nfrom datetime import timedelta\n", 1))


def test_two_none_api_replicas_fire_each_run_once(
    projects: Callable[[str], Path], uv: str, fresh_database: Callable[[str], str], tmp_path: Path
) -> None:
    """Two API processes (the compose `api` command) on one Postgres: each due run of a periodic
    job is claimed by exactly one of them."""
    project = projects("none")
    make_heartbeat(project, uv)
    env = lich_env(DATABASE_URL=fresh_database("lich_cli_replicas"), ENVIRONMENT="development")
    result = run(["uv", "run", "--no-sync", "alembic", "upgrade", "head"], project / "backend", env)
    assert result.returncode == 0, result.stderr
    replicas: list[Process] = []
    try:
        for name in ("api_one", "api_two"):
            port = free_port()
            command = native_command(project, "api", port=port)
            replicas.append(Process(name, command, cwd=project / "backend", env=env, log_dir=tmp_path))
            url = f"http://127.0.0.1:{port}/ready"
            wait_until(
                lambda url=url: http_status(url) == 200, within=60, what=f"{name} /ready", processes=(*replicas,)
            )
        wait_until(lambda: len(set(due_claims(replicas))) >= 3, within=60, what="three runs", processes=(*replicas,))
        claims = due_claims(replicas)
        assert len(claims) == len(set(claims)), claims
    finally:
        for replica in replicas:
            replica.stop()
