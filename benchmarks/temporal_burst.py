"""Welcome-email throughput of a temporal project under a burst of users, against a bare baseline.

    uv run python benchmarks/temporal_burst.py [--users 100] [--project PATH]

Bakes a temporal project (or uses PATH, already synced), then runs natively, from the compose
commands: a Temporal dev server (the project's `temporal` binary), migrations, the API and the
worker, on a fresh Postgres database and a local SMTP server. It POSTs the burst of users (20
concurrent clients) and measures until the last welcome email has arrived: welcome-email
workflows per second, end to end (HTTP, database, Temporal, SMTP).

Baseline in the same run, on the same dev server: workflows of the same shape (one sync activity
on a 10-thread pool) whose activity does nothing, started and awaited by one client. The ratio
shows what the job itself (database row lock, SMTP) and the HTTP path cost on top of Temporal.
Single run, no assertions: rerun to see the spread.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import (  # noqa: E402  (the template's test helpers, from the repository root)
    Process,
    SmtpServer,
    app_env,
    bake,
    create_database,
    free_port,
    http_json,
    http_status,
    migrate,
    native_command,
    project_env,
    start_api,
    temporal_server_command,
    wait_until,
)

POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "lich_bench_temporal"
CLIENTS = 20

# Runs in the project's venv: a no-op workflow of the welcome email's shape, N starts, all awaited.
BASELINE = textwrap.dedent(
    """
    import asyncio, json, sys, time, uuid
    from concurrent.futures import ThreadPoolExecutor
    from datetime import timedelta
    from temporalio import activity, workflow
    from temporalio.client import Client
    from temporalio.worker import Worker

    @activity.defn
    def noop(value: int) -> int:
        return value

    @workflow.defn(sandboxed=False)
    class Noop:
        @workflow.run
        async def run(self, value: int) -> int:
            return await workflow.execute_activity(noop, value, start_to_close_timeout=timedelta(seconds=30))

    async def main(address: str, count: int) -> None:
        client = await Client.connect(address)
        queue = f"baseline-{uuid.uuid4().hex[:8]}"
        with ThreadPoolExecutor(10) as executor:
            async with Worker(client, task_queue=queue, workflows=[Noop], activities=[noop],
                              activity_executor=executor, max_concurrent_activities=10):
                started = time.perf_counter()
                handles = await asyncio.gather(*(
                    client.start_workflow(Noop.run, i, id=f"noop-{queue}-{i}", task_queue=queue)
                    for i in range(count)
                ))
                await asyncio.gather(*(h.result() for h in handles))
                elapsed = time.perf_counter() - started
        print(json.dumps({"seconds": elapsed}))

    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
    """
)


def synced_project(work: Path) -> Path:
    project = bake(work, task_runner="temporal", project_name="Bench Shop")
    subprocess.run(["uv", "sync", "--quiet"], cwd=project / "backend", env=project_env(), check=True)
    return project


def baseline(project: Path, address: str, count: int, logs: Path) -> float:
    script = logs / "baseline.py"
    script.write_text(BASELINE)
    result = subprocess.run(
        [str(project / "backend/.venv/bin/python"), str(script), address, str(count)],
        capture_output=True,
        text=True,
        env=project_env(),
        check=True,
        timeout=300,
    )
    seconds: float = json.loads(result.stdout.strip().splitlines()[-1])["seconds"]
    return count / seconds


def burst(base: str, smtp: SmtpServer, users: int) -> tuple[float, float, list[float]]:
    """(workflows/s end to end, POSTs/s, per-user POST->email latencies)."""
    tag = uuid.uuid4().hex[:6]
    emails = [f"burst-{tag}-{n}@example.com" for n in range(users)]
    posted_at: dict[str, float] = {}

    def post(email: str) -> None:
        posted_at[email] = time.perf_counter()
        status, body = http_json("POST", f"{base}/api/v1/users", json.dumps({"email": email, "name": "B"}).encode())
        assert status == 201, body

    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(post, emails))
    posts_done = time.perf_counter()
    arrived: dict[str, float] = {}
    deadline = started + 300
    while len(arrived) < users and time.perf_counter() < deadline:
        now = time.perf_counter()
        for message in smtp.mailbox.received():
            if message["To"] in posted_at and message["To"] not in arrived:
                arrived[message["To"]] = now
        time.sleep(0.005)
    assert len(arrived) == users, f"only {len(arrived)} of {users} emails arrived"
    finished = max(arrived.values())
    latencies = [arrived[e] - posted_at[e] for e in emails]
    return users / (finished - started), users / (posts_done - started), latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--project", type=Path, help="an already baked and synced temporal project")
    parser.add_argument("--postgres", default=POSTGRES, help=f"server to create {DATABASE} on")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as work_dir:
        work = Path(work_dir)
        project = args.project or synced_project(work)
        backend = project / "backend"
        temporal_port = free_port()
        processes: list[Process] = []
        with SmtpServer() as smtp:
            env = app_env(
                create_database(args.postgres, DATABASE),
                smtp,
                TEMPORAL_ADDRESS=f"127.0.0.1:{temporal_port}",
                TEMPORAL_TASK_QUEUE=f"bench-{uuid.uuid4().hex[:6]}",
            )
            try:
                command = temporal_server_command(project, temporal_port, work / "temporal.db")
                server = Process("temporal", command, cwd=backend, env=env, log_dir=work)
                processes.append(server)
                migrate(project, env, work)
                base, api = start_api(project, env, work)
                processes.append(api)
                worker = Process(
                    "worker", native_command(project, "temporal_worker"), cwd=backend, env=env, log_dir=work
                )
                processes.append(worker)
                wait_until(lambda: "worker started" in worker.log(), within=60, what="worker", processes=(worker,))
                wait_until(
                    lambda: http_status(f"{base}/ready") == 200,
                    within=60,
                    what="api /ready",
                    processes=tuple(processes),
                )
                # Warm-up: imports, sandbox, connection pools.
                burst(base, smtp, 5)
                bare = baseline(project, f"127.0.0.1:{temporal_port}", args.users, work)
                rate, post_rate, latencies = burst(base, smtp, args.users)
            finally:
                for process in reversed(processes):
                    process.stop()

    print(f"burst of {args.users} users ({CLIENTS} concurrent clients), single run:")
    print(f"  welcome-email workflows, POST -> email delivered: {rate:7.1f} workflows/s")
    print(f"  POST /api/v1/users (insert + workflow start):      {post_rate:7.1f} requests/s")
    print(
        f"  POST -> email latency: median {statistics.median(latencies) * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms"
    )
    print(f"  baseline, no-op 1-activity workflows, same server: {bare:7.1f} workflows/s")
    print(f"  ratio welcome email / baseline: {rate / bare:.2f}")


if __name__ == "__main__":
    main()
