"""What the API benchmarks (api_http.py, api_memory.py) share: a baked project's API and the bare
baseline app (baseline_app.py), both served natively by uvicorn on one Postgres, and wrk to load them.

The variant is celery: its API process does only API work (a sign-up's welcome email leaves through
the outbox to Redis), which is what these benchmarks compare; `none` runs jobs inside the API process
and is measured by jobs_none.py. Postgres and Redis are the tests' (`TEST_DATABASE_URL`,
`TEST_REDIS_URL`, else 127.0.0.1:5432 / :6379).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import psycopg  # noqa: E402

from tests.helpers import (  # noqa: E402
    Process,
    bake,
    create_database,
    free_port,
    http_status,
    log_in,
    migrate,
    native_command,
    project_env,
    sign_up,
    wait_until,
)

RUNNER = "celery"
SECRET_KEY = "bench-secret-abcdefghijklmnopqrstuvwxyz-0123456789"  # noqa: S105  (benchmarks only)
PASSWORD = "bench pass phrase 42"  # noqa: S105
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# Every new user of a write benchmark gets a unique email: a counter per wrk thread, after a prefix
# unique to the run (so the template and the baseline never collide in the shared table).
SIGN_UP_SCRIPT = """
local counter, prefix = 0, "bench"
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
function init(args) prefix = args[1] end
function request()
  counter = counter + 1
  local body = string.format(
    '{"email": "%s-%d-%d@example.com", "name": "Bench", "password": "%s"}', prefix, tid, counter, "PASSWORD")
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
""".replace("PASSWORD", PASSWORD)


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class MeasurementFailed(Exception):
    """wrk saw errors (non-2xx answers, socket errors or timeouts): the figure would be meaningless."""


class TooFewSignUps(MeasurementFailed):
    """A sign-up round ended before enough sign-ups completed to count a rate: it was too short for
    how busy the machine was."""


@dataclass
class Server:
    name: str
    base: str
    process: Process

    @property
    def pid(self) -> int:
        return self.process.popen.pid

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def settle(self, within: float = 120.0) -> None:
        """Wait until the server is idle: requests wrk abandoned at the end of a run (a sign-up
        still hashing) must not eat into the next run, which may be the other server's."""
        deadline = time.monotonic() + within
        before = self.cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(0.5)
            now = self.cpu_seconds()
            if now - before < 0.05:  # under 10 % of a core: only the outbox relay's polling
                return
            before = now


@dataclass
class Load:
    requests_per_second: float
    requests: int


def wrk(
    url: str,
    *,
    connections: int,
    seconds: float,
    headers: tuple[str, ...] = (),
    script: Path | None = None,
    script_args: tuple[str, ...] = (),
    require_answers: bool = True,
    timeout: float = 60.0,
) -> Load:
    """One wrk run (one thread: the server, Postgres and wrk share the machine's cores); refuses to
    return a figure when any request failed or timed out, or (`require_answers`) none completed."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{round(seconds)}s", "--timeout", f"{round(timeout)}s"]
    for header in headers:
        command += ["-H", header]
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    if script_args:
        command += ["--", *script_args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + timeout + 60, check=False)
    output = result.stdout + result.stderr
    failures = re.findall(r"(Non-2xx or 3xx responses: \d+|Socket errors: .*)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    counted = re.search(r"(\d+) requests in", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    errors = socket_errors is not None and any(int(n) for n in socket_errors.groups())
    if result.returncode != 0 or rate is None or counted is None or "Non-2xx" in output or errors:
        raise MeasurementFailed(f"{url} with {connections} connections: {failures or output.strip()[-500:]}")
    if require_answers and int(counted.group(1)) == 0:
        raise MeasurementFailed(f"{url} with {connections} connections: no request completed in {seconds} s")
    return Load(float(rate.group(1)), int(counted.group(1)))


class Stack:
    """A baked, synced, migrated project; start its API and the baseline with `api()` / `baseline()`."""

    def __init__(self) -> None:
        if shutil.which("wrk") is None:
            raise SystemExit("wrk is not installed (apt-get install wrk)")
        self._exit = ExitStack()
        try:
            self._prepare()
        except BaseException:
            self._exit.close()
            raise

    def _prepare(self) -> None:
        self.scratch = Path(self._exit.enter_context(tempfile.TemporaryDirectory(prefix="lich-bench-")))
        self.project = bake(self.scratch, task_runner=RUNNER, project_name="Bench Shop")
        self.backend = self.project / "backend"
        subprocess.run(["uv", "sync", "--locked", "--quiet"], cwd=self.backend, env=project_env(), check=True)
        # A database of this run's own (dropped at the end), so that two runs never collide.
        name = f"lich_bench_api_{os.getpid()}"
        self.database_url = database_url = create_database(POSTGRES_URL, name)
        self._exit.callback(drop_database, POSTGRES_URL, name)
        self.env = project_env(
            ENVIRONMENT="production",
            SECRET_KEY=SECRET_KEY,
            DATABASE_URL=database_url,
            REDIS_URL=REDIS_URL,
        )
        migrate(self.project, self.env, self.scratch)
        self.sign_up_script = self.scratch / "sign_up.lua"
        self.sign_up_script.write_text(SIGN_UP_SCRIPT)

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self._exit.close()

    def _serve(self, name: str, command: list[str], env: dict[str, str]) -> Server:
        process = Process(name, command, cwd=self.backend, env=env, log_dir=self.scratch)
        self._exit.callback(process.stop)
        base = f"http://127.0.0.1:{command[command.index('--port') + 1]}"
        wait_until(
            lambda: http_status(f"{base}/health") == 200, within=60, what=f"{name} /health", processes=(process,)
        )
        return Server(name, base, process)

    def api(self) -> Server:
        """The `api` service's command from docker-compose.yml (one uvicorn process, its settings)."""
        return self._serve("template", native_command(self.project, "api", port=free_port()), self.env)

    def baseline(self) -> Server:
        """baseline_app.py under the same uvicorn command line, from the project's venv."""
        command = native_command(self.project, "api", port=free_port())
        command[command.index("internal.main:app")] = "baseline_app:app"
        return self._serve("baseline", [*command, "--app-dir", str(HERE)], self.env)

    def sign_ups_per_second(self, server: Server, connections: int, seconds: float, prefix: str) -> float:
        """Sign-ups per second in steady state: wrk sends unique sign-ups for `seconds`, and the rate
        is counted from the users' `created_at` between the first completion and wrk's end. wrk's own
        rate would count the ramp-up (with 64 connections the first answers take seconds, each
        waiting for the Argon2 hashes ahead of it) and the requests still in flight at its end."""
        started = time.time()
        try:
            wrk(
                f"{server.base}/api/v1/users",
                connections=connections,
                seconds=seconds,
                script=self.sign_up_script,
                script_args=(prefix,),
                require_answers=False,
                # The round lasts twice the expected wait (see api_http.py): a request may wait that long.
                timeout=max(60.0, seconds),
            )
        except MeasurementFailed as exc:
            log = server.process.log().splitlines()
            refused = [line for line in log if re.search(r'HTTP/1.1\\?" [45]', line)]
            errors = [line for line in log if re.match(r"\w+(\.\w+)*(Error|Exception): ", line)]
            raise MeasurementFailed(
                f"{server.name}: {exc}; its last refusals: {refused[-3:]}; its last errors: {errors[-2:]}"
            ) from exc
        server.settle()  # the requests wrk left in flight finish (after its end: not counted)
        query = "SELECT extract(epoch FROM created_at) FROM users WHERE email LIKE %s ORDER BY created_at"
        with psycopg.connect(self.database_url) as connection:
            times = [float(row[0]) for row in connection.execute(query, (f"{prefix}-%",))]
        counted = [moment for moment in times if moment <= started + seconds]
        if len(counted) < 3:
            raise TooFewSignUps(
                f"{server.base} with {connections} connections: {len(counted)} sign-ups completed in "
                f"{seconds:.0f} s, too few for a rate (the machine is too busy for this round length)"
            )
        return (len(counted) - 1) / (counted[-1] - counted[0])

    def sign_up_latency(self, server: Server) -> float:
        """Seconds one sign-up takes alone (median of 3): mostly its Argon2 hash."""
        latencies = []
        for attempt in range(3):
            started = time.perf_counter()
            status, body = sign_up(server.base, f"probe-{attempt}@example.com", PASSWORD)
            if status != 201:
                raise MeasurementFailed(f"sign-up answered {status}: {body}")
            latencies.append(time.perf_counter() - started)
        return sorted(latencies)[1]

    def user(self, base: str, email: str) -> tuple[int, str]:
        """Sign up through the template's API and log in: the user's id and an access token."""
        status, user = sign_up(base, email, PASSWORD)
        if status != 201:
            raise MeasurementFailed(f"sign-up answered {status}: {user}")
        return int(user["id"]), log_in(base, email, PASSWORD)
