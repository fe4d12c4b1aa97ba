"""none: in-process job dispatch through the job contract against FastAPI's `BackgroundTasks`.

    uv run python benchmarks/jobs_none.py [--quick] [--project PATH]

Bakes a none project and scaffolds a job with `lich make job` (its handle only logs a line). Measured
in-process, not over HTTP: an HTTP round would mostly measure uvicorn and the request, which both
sides share, and hide the difference between the two ways of running a job after the response. Each
round, in one event loop, dispatches N jobs as N requests would (one job each) and waits until all
have run (jobs/s, dispatch + run):

- subject: `registry.dispatch(runner, CONTRACT, payload)` (what the outbox relay calls for each
  intent) into the project's in-process `JobRunner` (a task per job, the handle on a worker
  thread under the contract's timeout, retries and failed-jobs store), then `runner.join()`;
- baseline: per job, a `BackgroundTasks` with `add_task(handle, ...)` of a function that logs the
  same line, run the way Starlette runs it after a response (a sync function on the thread pool),
  each in its own task.

Both log to the same discarded stream. The outbox (a database write in the request's transaction,
a relay pass, marking the intent done) is not part of the measure: `BackgroundTasks` has no
counterpart, which is also why it loses jobs on a crash and the template's runner does not.
No numeric goal in the issue: the row reports the ratio with the usual 0.9 as its goal.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import baked  # noqa: E402


def inside(project: Path, quick: bool) -> None:
    baked.inside_paths(project)
    import importlib

    from fastapi import BackgroundTasks
    from internal.config import Settings, get_settings
    from internal.jobs import registry
    from internal.jobs.runner import JobRunner
    from table import compare, emit, emit_cpu, interleaved

    handler = logging.StreamHandler(open(os.devnull, "w"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])

    job = importlib.import_module(f"internal.jobs.{baked.JOB_MODULE}")
    payload_model = job.CONTRACT.input_model
    # Rounds of a few seconds (about 9,000 jobs/s here): shorter ones measured scheduling noise.
    count = 1000 if quick else 30000
    rounds = 1 if quick else 7
    log = logging.getLogger("bench_noop")

    def bare_handle(settings: Settings, payload: object) -> None:
        log.info("bench noop done", extra={"reference": getattr(payload, "reference", "")})

    settings = get_settings()
    loop = asyncio.new_event_loop()
    runner = JobRunner(settings)
    loop.run_until_complete(runner.start())

    async def subject_round(n: int) -> None:
        for index in range(n):
            await registry.dispatch(runner, job.CONTRACT, payload_model(reference=str(index)))
        await runner.join()

    async def baseline_round(n: int) -> None:
        running = []
        for index in range(n):
            tasks = BackgroundTasks()
            tasks.add_task(bare_handle, settings, payload_model(reference=str(index)))
            running.append(asyncio.create_task(tasks()))
        await asyncio.gather(*running)

    cpu: dict[object, list[float]] = {subject_round: [], baseline_round: []}

    def timed(round_: object, n: int) -> float:
        started, cpu_started = time.perf_counter(), time.process_time()
        loop.run_until_complete(round_(n))  # type: ignore[operator]
        cpu[round_].append((time.process_time() - cpu_started) / n)
        return n / (time.perf_counter() - started)

    timed(subject_round, 100), timed(baseline_round, 100)  # warm-up: the thread pool
    for values in cpu.values():
        values.clear()
    subject_values, baseline_values = interleaved(
        rounds, lambda: timed(subject_round, count), lambda: timed(baseline_round, count)
    )
    loop.run_until_complete(runner.close())
    emit(
        compare(
            "none",
            f"in-process no-op jobs, {count} dispatched and run",
            "jobs/s",
            subject_values,
            baseline_values,
            goal=0.9,
        )
    )
    # CPU time of the process per job (threads included).
    emit_cpu("none", "CPU per job, dispatch and run", cpu[subject_round], cpu[baseline_round])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--project", type=Path, help="a none project already baked by this script")
    parser.add_argument("--inside", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        inside(args.inside, args.quick)
        return 0

    with tempfile.TemporaryDirectory() as scratch:
        project = args.project or baked.synced_project(Path(scratch), "none")
        return baked.run_inside(Path(__file__), project, ["--quick"] if args.quick else [], {})


if __name__ == "__main__":
    sys.exit(main())
