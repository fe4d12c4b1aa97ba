"""The `lich` command: job names, refusals, the files `make job` writes (and that their test passes),
registration with the runner, the failed-jobs commands, and the `dev` supervisor.

`make job` runs against a copy of this backend in a temporary project, never against this one.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from internal.cli import main
from internal.config import Settings
from internal.db.sync import sync_sessionmaker
from internal.models import FailedJob, User
from internal.services import passwords
from internal.services.failed_jobs import record_failed_job
from lich_dev.dev import Process, run
from lich_dev.make_job import is_scaffold, parse_job_name
from tests.cli_runner import expected_native_names, nested_session_env
from tests.conftest import BACKEND
from tests.support import Mailbox, eventually

PROJECT = BACKEND.parent
# .coverage*: data files that test processes running alongside (pytest-xdist) write and combine meanwhile.
SKIP = shutil.ignore_patterns(".venv", "__pycache__", "*.db", "*.db-*", ".*_cache", ".coverage*")
JOB_FILES = ("backend/internal/jobs/generate_report.py", "backend/tests/jobs/test_generate_report.py")
# The jobs this project ships: every job module (it declares CONTRACT) that `make job` did not write.
SHIPPED_JOBS = sorted(
    path.stem
    for path in (BACKEND / "internal" / "jobs").glob("*.py")
    if "\nCONTRACT = " in path.read_text(encoding="utf-8") and not is_scaffold(path)
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A throwaway copy of this project (its backend, pyproject included), without job GenerateReport."""
    root = tmp_path / "project"
    shutil.copytree(BACKEND, root / "backend", ignore=SKIP)
    for relative in JOB_FILES:
        (root / relative).unlink(missing_ok=True)
    return root


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def lich(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# --- names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given",
    ["GenerateReport", "generate_report", "GenerateReportJob", "generate_report_job", "generateReport"],
)
def test_every_spelling_names_the_same_job(given: str) -> None:
    name = parse_job_name(given)
    assert (name.pascal, name.snake) == ("GenerateReport", "generate_report")


def test_acronyms_and_digits_are_kept() -> None:
    name = parse_job_name("SendHTTPPing2Job")
    assert (name.pascal, name.snake) == ("SendHTTPPing2", "send_http_ping2")


# --- make job ------------------------------------------------------------------------------------


def test_make_job_writes_the_job_and_its_test(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project)
    code, out, err = lich(capsys, "make", "job", "GenerateReportJob")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[:2] == ["✅ Job GenerateReportJob created!", "Files created:"]
    assert [line.strip() for line in lines[2:4]] == list(JOB_FILES)
    module = (project / JOB_FILES[0]).read_text()
    assert 'name="generate_report"' in module
    assert "class GenerateReportInput(BaseModel)" in module
    assert "JobJob" not in out + module
    assert (project / "backend/tests/jobs/__init__.py").exists()


def test_make_job_works_from_any_folder_of_the_project(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project / "backend" / "internal" / "jobs")
    code, out, _ = lich(capsys, "make", "job", "generate_report")
    assert code == 0, out
    assert all((project / relative).is_file() for relative in JOB_FILES)


NAMES_THEN_TESTS = (
    "import json, sys\n"
    "import pytest\n"
    "from tests.cli_runner import native_job_names\n"
    "print(json.dumps(native_job_names()), flush=True)\n"
    "sys.exit(pytest.main(sys.argv[1:]))\n"
)


def test_the_generated_job_is_registered_and_its_test_passes(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project)
    assert lich(capsys, "make", "job", "GenerateReport")[0] == 0
    backend = project / "backend"
    env = {**nested_session_env(), "PYTHONPATH": str(backend)}
    # One process (each costs a second or more of CPU to import the app): the names the runner
    # registers, on the first line, then the job's own test in a session of its own.
    tests = subprocess.run(  # noqa: S603  (this interpreter, fixed code)
        [
            sys.executable,
            "-c",
            NAMES_THEN_TESTS,
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/jobs/test_generate_report.py",
        ],
        cwd=backend,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    registered = set(json.loads(tests.stdout.splitlines()[0]))
    assert expected_native_names("generate_report", "GenerateReport") <= registered
    summary = tests.stdout.strip().splitlines()[-1]
    assert " passed" in summary, summary
    assert "skipped" not in summary, summary


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("1Report", "not a valid job name"),
        ("send-report", "not a valid job name"),
        ("send report", "not a valid job name"),
        ("class", "keyword"),
        ("Import", "keyword"),
        ("Job", "nothing before the Job suffix"),
        ("_Hidden", "not a valid job name"),
    ],
)
def test_invalid_names_are_refused_and_nothing_is_written(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, reason: str
) -> None:
    monkeypatch.chdir(project)
    before = tree(project)
    code, out, err = lich(capsys, "make", "job", name)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert reason in err
    assert "Traceback" not in err
    assert tree(project) == before


def test_another_runner_type_is_refused_with_the_reason(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project)
    before = tree(project)
    code, _, err = lich(capsys, "make", "job", "GenerateReport", "--type=elsewhere")
    assert code == 2
    assert "--type=elsewhere" in err
    assert "dependencies and worker are not installed" in err
    assert tree(project) == before


def test_existing_job_is_refused_unless_forced(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project)
    assert lich(capsys, "make", "job", "GenerateReport")[0] == 0
    module = project / JOB_FILES[0]
    module.write_text(module.read_text() + "# edited\n")
    before = tree(project)
    code, _, err = lich(capsys, "make", "job", "generate_report")
    assert code == 1
    assert "--force" in err
    assert tree(project) == before
    code, out, _ = lich(capsys, "make", "job", "generate_report", "--force")
    assert code == 0
    assert "Files created:" in out
    assert "# edited" not in module.read_text()


def test_the_shipped_jobs_include_the_welcome_email() -> None:
    assert "send_welcome_email" in SHIPPED_JOBS


@pytest.mark.parametrize("job", SHIPPED_JOBS)
def test_a_shipped_job_is_never_overwritten_even_with_force(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], job: str
) -> None:
    monkeypatch.chdir(project)
    before = tree(project)
    code, _, err = lich(capsys, "make", "job", parse_job_name(job).pascal, "--force")
    assert code == 1
    assert f"backend/internal/jobs/{job}.py is a job this project ships" in err
    assert "edit that file instead" in err
    assert tree(project) == before


def test_a_module_that_is_not_a_job_is_never_overwritten(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project)
    before = tree(project)
    code, _, err = lich(capsys, "make", "job", "Registry", "--force")
    assert code == 1
    assert "not a job module" in err
    assert tree(project) == before


def test_outside_a_project_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = lich(capsys, "make", "job", "GenerateReport")
    assert code == 1
    assert "not inside a project" in err
    assert list(tmp_path.iterdir()) == []


# --- jobs failed / jobs retry ----------------------------------------------------------------------


@pytest.fixture
def project_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Run `lich` from this project with the test settings (the environment beats `.env`)."""
    for field, value in settings.model_dump().items():
        monkeypatch.setenv(field.upper(), str(value))
    monkeypatch.chdir(PROJECT)
    return settings


def test_jobs_failed_lists_the_store(project_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert lich(capsys, "jobs", "failed")[1].strip() == "No failed jobs."
    first = record_failed_job(
        project_settings,
        job_name="send_welcome_email",
        arguments={"user_id": 1},
        exception="boom",
        attempts=5,
    )
    second = record_failed_job(
        project_settings,
        job_name="send_welcome_email",
        arguments={"user_id": 2},
        exception="x\ny",
        attempts=1,
    )
    code, out, _ = lich(capsys, "jobs", "failed")
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split()[:3] == ["ID", "JOB", "ATTEMPTS"]
    assert "ERROR" in header
    assert [row.split()[0] for row in rows] == [str(second), str(first)]
    assert rows[0].split()[1:3] == ["send_welcome_email", "1"]
    assert rows[0].endswith("x y")


def test_jobs_retry_of_an_unknown_id_is_an_error(
    project_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = lich(capsys, "jobs", "retry", "987654")
    assert code == 1
    assert out == ""
    assert err.strip() == "lich: failed job 987654 not found"


async def test_jobs_retry_runs_the_job_again(
    project_settings: Settings, job_worker: object, mailbox: Mailbox, capsys: pytest.CaptureFixture[str]
) -> None:
    with sync_sessionmaker(project_settings.sync_database_url).begin() as session:
        user_id = session.execute(
            insert(User).values(email="again@example.com", name="Again").returning(User.id)
        ).scalar_one()
    entry = record_failed_job(
        project_settings,
        job_name="send_welcome_email",
        arguments={"user_id": user_id},
        exception="SMTPServerDisconnected()",
        attempts=5,
    )
    code = await asyncio.to_thread(main, ["jobs", "retry", str(entry)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith(f"✅ Retried failed job {entry} (send_welcome_email)")

    async def delivered() -> list[str] | None:
        return [m["To"] for m in mailbox.messages] or None

    assert await eventually(delivered, within=30) == ["again@example.com"]
    with sync_sessionmaker(project_settings.sync_database_url)() as session:
        stored = session.scalars(select(FailedJob)).all()
    assert [(e.id, e.retried_at is not None) for e in stored] == [(entry, True)]


# --- users create-admin ------------------------------------------------------------------------

ADMIN_PASSWORD = "a strong admin passphrase"


def stored_user(settings: Settings, email: str) -> User | None:
    with sync_sessionmaker(settings.sync_database_url)() as session:
        return session.scalars(select(User).where(User.email == email)).one_or_none()


def create_admin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, email: str, stdin: str
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return lich(capsys, "users", "create-admin", email)


def test_create_admin_takes_the_password_from_stdin(
    project_settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = create_admin(capsys, monkeypatch, "Boss@Example.com", ADMIN_PASSWORD + "\n")
    assert code == 0, err
    assert out.strip() == "✅ Admin boss@example.com created"
    admin = stored_user(project_settings, "boss@example.com")
    assert admin is not None
    assert admin.is_admin
    assert passwords.verify(admin.password_hash, ADMIN_PASSWORD)


def test_create_admin_promotes_an_existing_user(
    project_settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with sync_sessionmaker(project_settings.sync_database_url).begin() as session:
        session.execute(insert(User).values(email="user@example.com", name="User"))
    code, out, err = create_admin(capsys, monkeypatch, "user@example.com", ADMIN_PASSWORD)
    assert code == 0, err
    assert "promoted" in out
    user = stored_user(project_settings, "user@example.com")
    assert user is not None
    assert user.is_admin
    assert user.name == "User"


@pytest.mark.parametrize(
    "password", ["", "\n", "short", "change-me"], ids=["eof", "empty", "short", "placeholder"]
)
def test_create_admin_refuses_a_weak_or_empty_password(
    project_settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    password: str,
) -> None:
    code, out, err = create_admin(capsys, monkeypatch, "boss@example.com", password)
    assert code == 1
    assert out == ""
    assert err.startswith("lich: password refused:")
    assert stored_user(project_settings, "boss@example.com") is None


def test_create_admin_works_outside_the_source_tree_as_in_the_container(
    project_settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = create_admin(capsys, monkeypatch, "boss@example.com", ADMIN_PASSWORD)
    assert code == 0, err
    assert stored_user(project_settings, "boss@example.com") is not None


def test_jobs_failed_works_outside_the_source_tree_as_in_the_container(
    project_settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    record_failed_job(
        project_settings,
        job_name="send_welcome_email",
        arguments={"user_id": 1},
        exception="boom",
        attempts=5,
    )
    monkeypatch.chdir(tmp_path)
    code, out, err = lich(capsys, "jobs", "failed")
    assert code == 0, err
    assert "send_welcome_email" in out


def test_create_admin_refuses_an_invalid_email(
    project_settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = create_admin(capsys, monkeypatch, "not-an-email", ADMIN_PASSWORD)
    assert code == 1
    assert err.startswith("lich: email refused:")


# --- dev -----------------------------------------------------------------------------------------


def python(name: str, code: str) -> Process:
    return Process(name=name, argv=[sys.executable, "-c", code], shown=f"python -c {code!r}")


def test_dev_reports_a_child_that_dies_and_stops_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "stopped"
    sleeper = python(
        "sleeper",
        "import signal, sys, time, pathlib\n"
        f"signal.signal(signal.SIGINT, lambda *_: (pathlib.Path({str(marker)!r}).touch(), sys.exit(0)))\n"
        "time.sleep(60)",
    )
    started = time.monotonic()
    code = run(
        tmp_path,
        [python("migrate", "print('migrated')")],
        [sleeper, python("crasher", "import time; time.sleep(0.5); raise SystemExit(3)")],
        [],
    )
    out = capsys.readouterr().out
    assert code == 1
    assert time.monotonic() - started < 15
    assert "migrate | migrated" in out
    assert "crasher exited with code 3; stopping the others" in out
    assert marker.exists()


def test_dev_starts_nothing_when_a_step_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(tmp_path, [python("migrate", "raise SystemExit(4)")], [python("api", "print('api-up')")], [])
    out = capsys.readouterr().out
    assert code == 1
    assert "migrate failed with exit code 4" in out
    assert "api" not in out


@pytest.fixture
def supervisor_process(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from lich_dev.dev import Process, run\n"
        "sleep = [sys.executable, '-c', 'import time; time.sleep(60)']\n"
        "children = [Process('one', sleep, 'one'), Process('two', sleep, 'two')]\n"
        "sys.exit(run(Path('.'), [], children, ['all up']))\n"
    )
    process = subprocess.Popen(  # noqa: S603  (this interpreter, fixed code)
        [sys.executable, "-c", code],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(BACKEND)},
    )
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


def test_dev_stops_every_child_on_ctrl_c(supervisor_process: subprocess.Popen[str]) -> None:
    assert supervisor_process.stdout is not None
    seen = []
    for line in supervisor_process.stdout:
        seen.append(line)
        if "all up" in line:
            break
    time.sleep(0.5)
    started = time.monotonic()
    supervisor_process.send_signal(signal.SIGINT)
    assert supervisor_process.wait(timeout=15) == 0
    assert time.monotonic() - started < 10
    rest = supervisor_process.stdout.read()
    assert "stopped after" in rest, "".join(seen) + rest
