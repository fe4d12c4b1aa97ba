"""Celery: no-op jobs through the job contract against a bare Celery app, on the same Redis.

    uv run python benchmarks/jobs_celery.py [--quick] [--redis URL]

Bakes a celery project and scaffolds a job with `lich make job` (its handle only logs a line). Each
round enqueues N jobs and measures until one worker has drained them (jobs/s, enqueue + drain):

- subject: `registry.dispatch(runner, CONTRACT, payload)` (what the outbox relay calls for each
  intent) into the project's worker, started with the compose command
  (`celery -A internal.celery_app worker -l INFO`): the job contract's task class, its redelivery
  cap, the project's Celery settings;
- baseline: `task.apply_async` of a bare `@app.task` that does nothing, into a worker of a bare
  Celery app with the same loss-safe settings (late ack, reject on worker lost, prefetch 1, the
  visibility timeout and restore sweep, time limits of the job's contract, JSON, results
  ignored), whose task logs the same line as the scaffolded handle; same command line, pool and
  concurrency, on another database of the same Redis.

The outbox is not part of the measure: it is a database write in the request's transaction plus
a relay pass, which a bare Celery app has no counterpart for (its cost belongs to the API
benchmarks). A job is done when Redis holds neither its message nor its unacknowledged copy.
Redis: `--redis`, else TEST_REDIS_URL, else a `redis-server` started on a free port.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import baked  # noqa: E402

QUEUE = "default"
SUBJECT_DB, BASELINE_DB = 1, 2

# The bare app: the project's loss-safe settings (internal/celery_app.py), nothing else.
BARE_APP = textwrap.dedent(
    """
    import logging
    import os
    from celery import Celery

    log = logging.getLogger("bench_noop")

    transport_options = {
        "visibility_timeout": 300,
        "unacked_restore_interval": 10,
        "unacked_restore_throttle": 1,
    }
    app = Celery("bare", broker=os.environ["BARE_BROKER_URL"])
    app.conf.update(
        broker_transport_options=transport_options,
        visibility_timeout=300,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        broker_connection_retry_on_startup=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_default_queue="default",
        task_ignore_result=True,
        task_soft_time_limit=60,
        task_time_limit=90,
    )

    @app.task(name="bench_noop")
    def noop(arguments: dict) -> None:
        # The scaffolded job's handle logs this line; the bare task does the same work.
        log.info("bench noop done", extra={"reference": arguments["reference"]})
    """
)


def with_db(url: str, db: int) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{db}"


# --- inside the project's venv ---------------------------------------------------------------


def drained(client: Any) -> None:
    """Wait until no message is queued or unacknowledged (twice in a row: a fetch is not atomic)."""
    clear = 0
    while clear < 2:
        pipe = client.pipeline(transaction=False)
        pipe.llen(QUEUE)
        pipe.hlen("unacked")
        queued, unacked = pipe.execute()
        clear = clear + 1 if queued == 0 and unacked == 0 else 0
        time.sleep(0.005)


def inside(project: Path, quick: bool, redis_url: str, worker_command: list[str]) -> None:
    baked.inside_paths(project)
    subject_url, baseline_url = with_db(redis_url, SUBJECT_DB), with_db(redis_url, BASELINE_DB)
    os.environ.update(REDIS_URL=subject_url, CELERY_BROKER_URL="", CELERY_RESULT_BACKEND="")
    os.environ["BARE_BROKER_URL"] = baseline_url

    import importlib

    import redis
    from internal.config import get_settings
    from internal.jobs import registry
    from internal.jobs.runner import JobRunner
    from table import compare, emit, emit_cpu, interleaved

    job = importlib.import_module(f"internal.jobs.{baked.JOB_MODULE}")
    payload_model = job.CONTRACT.input_model
    # A round lasts a few seconds (about 1,000 jobs/s here): shorter ones measured scheduling noise.
    count = 200 if quick else 3000
    rounds = 1 if quick else 7

    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        (work / "bare_celery.py").write_text(BARE_APP)
        sys.path.insert(0, str(work))
        import bare_celery  # type: ignore[import-not-found]

        subject_redis = redis.Redis.from_url(subject_url)
        baseline_redis = redis.Redis.from_url(baseline_url)
        for client in (subject_redis, baseline_redis):
            client.flushdb()
        env = {**os.environ, "PYTHONPATH": str(work)}
        bare_command = [worker_command[0], "-A", "bare_celery", *worker_command[3:]]
        workers = [
            baked.Child("subject", worker_command, project / "backend", env, work, "ready."),
        ]
        try:
            workers.append(baked.Child("baseline", bare_command, work, env, work, "ready."))
            loop = asyncio.new_event_loop()
            runner = JobRunner(get_settings())
            loop.run_until_complete(runner.start())

            async def dispatch_all(n: int) -> None:
                for index in range(n):
                    await registry.dispatch(runner, job.CONTRACT, payload_model(reference=str(index)))

            cpu: dict[str, list[tuple[float, float]]] = {"subject": [], "baseline": []}

            def measured(side: str, worker: baked.Child, enqueue: Callable[[int], None], client: Any, n: int) -> float:
                worker_cpu, producer_cpu = worker.cpu_seconds(), time.process_time()
                started = time.perf_counter()
                enqueue(n)
                producer_cpu = time.process_time() - producer_cpu
                drained(client)
                rate = n / (time.perf_counter() - started)
                cpu[side].append((producer_cpu / n, (worker.cpu_seconds() - worker_cpu) / n))
                return rate

            def enqueue_subject(n: int) -> None:
                loop.run_until_complete(dispatch_all(n))

            def enqueue_baseline(n: int) -> None:
                for index in range(n):
                    bare_celery.noop.apply_async(args=[{"reference": str(index)}])

            def subject(n: int = count) -> float:
                return measured("subject", workers[0], enqueue_subject, subject_redis, n)

            def baseline(n: int = count) -> float:
                return measured("baseline", workers[1], enqueue_baseline, baseline_redis, n)

            subject(50), baseline(50)  # warm-up: imports, connections, pool processes
            for side in cpu.values():
                side.clear()
            subject_values, baseline_values = interleaved(rounds, subject, baseline)
            loop.run_until_complete(runner.close())
        finally:
            for worker in workers:
                worker.stop()
    emit(
        compare(
            "celery",
            f"no-op jobs, enqueue {count} + drain, 1 worker",
            "jobs/s",
            subject_values,
            baseline_values,
            goal=0.9,
        )
    )
    # CPU time per job, less sensitive than jobs/s to other load on the machine.
    for index, part in enumerate(("enqueue (producer)", "run (worker and pool)")):
        subject, baseline = ([pair[index] for pair in cpu[side]] for side in ("subject", "baseline"))
        emit_cpu("celery", f"CPU per job, {part}", subject, baseline)


# --- in this repository's environment -----------------------------------------------------------


def own_redis(work: Path) -> tuple[str, Callable[[], None]]:
    sys.path.insert(0, str(baked.ROOT))
    from tests.helpers import free_port

    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        cwd=work,
        stdout=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)

    def stop() -> None:
        server.terminate()
        server.wait(timeout=10)

    return f"redis://127.0.0.1:{port}/0", stop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--redis", default=os.environ.get("TEST_REDIS_URL"))
    parser.add_argument("--project", type=Path, help="a celery project already baked by this script")
    parser.add_argument("--inside", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        inside(args.inside, args.quick, args.redis, json.loads(os.environ["BENCH_WORKER_COMMAND"]))
        return 0

    sys.path.insert(0, str(baked.ROOT))
    from tests.helpers import native_command

    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        stop_redis: Callable[[], None] = lambda: None  # noqa: E731
        redis_url = args.redis
        if not redis_url:
            if not shutil.which("redis-server"):
                print("jobs_celery: no Redis (--redis, TEST_REDIS_URL or redis-server)", file=sys.stderr)
                return 1
            redis_url, stop_redis = own_redis(work)
        try:
            project = args.project or baked.synced_project(work, "celery")
            command = native_command(project, "celery_worker")
            argv = ["--redis", redis_url, *(["--quick"] if args.quick else [])]
            return baked.run_inside(Path(__file__), project, argv, {"BENCH_WORKER_COMMAND": json.dumps(command)})
        finally:
            stop_redis()


if __name__ == "__main__":
    sys.exit(main())
