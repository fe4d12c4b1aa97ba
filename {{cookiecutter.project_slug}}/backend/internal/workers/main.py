"""The Temporal worker: `python -m internal.workers.main`.

Connects with Settings (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE), retrying until
the server answers; makes the Temporal Schedules of periodic jobs match their declarations
(`internal.jobs.periodic`); registers every workflow and activity defined in `internal.jobs` and
`internal.workers` (no list to keep); polls the project's task queue (and one per other job
queue); on SIGTERM/SIGINT stops polling, lets running activities finish within the graceful
shutdown timeout, and exits 0. While it runs it touches a heartbeat file, which the container's
health check reads.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import pkgutil
import signal
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from internal import jobs, workers
from internal.config import Settings, get_settings, use_settings
from internal.db.sync import dispose_all
from internal.jobs.periodic import sync_schedules
from internal.jobs.registry import job_modules
from internal.jobs.runner import connect, task_queue
from internal.logs import configure_logging

log = logging.getLogger("internal.workers")

# Activities still running on SIGTERM get this long to finish; keep it below the container's
# stop grace period (docker-compose.yml: stop_grace_period).
GRACEFUL_SHUTDOWN = timedelta(seconds=20)
# Blocking activities run on this many threads (each may hold a database connection).
ACTIVITY_THREADS = 10
HEARTBEAT_INTERVAL_SECONDS = 10.0
DEFAULT_HEARTBEAT_FILE = Path(tempfile.gettempdir()) / "worker.heartbeat"
CONNECT_RETRY_MAX_SECONDS = 30.0
PACKAGES = (jobs, workers)

# The workflow sandbox re-imports a workflow's module for every run, so that module-level state
# cannot leak from one run into the next. For a job module that meant re-creating its pydantic
# models, its contract and every decorator on each run (a quarter more worker CPU per job than a bare
# SDK worker). The project's own modules keep no per-run state, so the worker passes `internal`
# through: each module is imported once per process, like any other library. What that gives up,
# and what job authors must keep to in `internal` (workflow classes and everything at module
# level):
# - no module-level state that workflow code changes (a list, dict, counter or cache): every run
#   and every replay in the process shares it;
# - nothing computed at import from the clock, randomness, the environment or I/O that workflow
#   code branches on;
# - in workflow code, `workflow.now()`, `workflow.random()`, `workflow.uuid4()` and
#   `workflow.sleep()` only, never `datetime.now()`, `random`, `uuid.uuid4()`, `time.time()` or
#   `os.environ`: for passed-through modules the sandbox no longer stops those at run time (it still
#   refuses I/O builtins such as `open`).
# The project's tests run their workers (and replays) under the full sandbox (`strict=True`), which
# re-imports the modules for every run and refuses those calls: a job whose workflow breaks these
# rules fails its tests. Any module not under `internal` still runs in the full sandbox.
PASSED_THROUGH_MODULES = ("internal",)


def workflow_runner(*, strict: bool = False) -> SandboxedWorkflowRunner:
    """The sandbox workflows run in: `internal` passed through, or with `strict` (tests) the full
    sandbox, which also refuses non-deterministic calls in the project's own workflow code."""
    if strict:
        return SandboxedWorkflowRunner()
    restrictions = SandboxRestrictions.default.with_passthrough_modules(*PASSED_THROUGH_MODULES)
    return SandboxedWorkflowRunner(restrictions=restrictions)


def _modules(package: ModuleType) -> list[ModuleType]:
    return [
        importlib.import_module(f"{package.__name__}.{info.name}")
        for info in pkgutil.iter_modules(package.__path__)
        if info.name != "main"
    ]


def discover(packages: Sequence[ModuleType] = PACKAGES) -> tuple[list[type], list[Callable[..., Any]]]:
    """Every `@workflow.defn` class and `@activity.defn` function defined in `packages`' modules."""
    found_workflows: dict[str, type] = {}
    found_activities: dict[str, Callable[..., Any]] = {}
    for package in packages:
        for module in _modules(package):
            for obj in vars(module).values():
                if getattr(obj, "__module__", None) != module.__name__:
                    continue  # imported from elsewhere: registered where it is defined
                workflow_defn = getattr(obj, "__temporal_workflow_definition", None)
                activity_defn = getattr(obj, "__temporal_activity_definition", None)
                if isinstance(obj, type) and workflow_defn is not None and workflow_defn.cls is obj:
                    _add(found_workflows, workflow_defn.name, obj, "workflow")
                elif callable(obj) and activity_defn is not None:
                    _add(found_activities, activity_defn.name, obj, "activity")
    return list(found_workflows.values()), list(found_activities.values())


def _add(found: dict[str, Any], name: str, obj: Any, kind: str) -> None:
    if name in found and found[name] is not obj:
        raise RuntimeError(f"two {kind} definitions are named {name!r}: {found[name]} and {obj}")
    found[name] = obj


def task_queues(settings: Settings) -> list[str]:
    """The project's task queue, plus one per other `queue` a job declares."""
    queues = {task_queue(settings)} | {task_queue(settings, c.queue) for c, _ in job_modules().values()}
    return sorted(queues)


def build_workers(
    client: Client, settings: Settings, executor: ThreadPoolExecutor, *, strict: bool = False
) -> list[Worker]:
    """One worker per task queue, each with every workflow and activity; activities see `settings`.
    `strict`: the full workflow sandbox (see `workflow_runner`)."""
    use_settings(settings)
    workflow_classes, activity_fns = discover()
    return [
        Worker(
            client,
            task_queue=queue,
            workflows=workflow_classes,
            activities=activity_fns,
            activity_executor=executor,
            max_concurrent_activities=ACTIVITY_THREADS,
            graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
            workflow_runner=workflow_runner(strict=strict),
        )
        for queue in task_queues(settings)
    ]


async def connect_with_retry(settings: Settings, stop: asyncio.Event) -> Client | None:
    """Connect, retrying with backoff until the server answers; None if asked to stop meanwhile."""
    delay = 1.0
    while not stop.is_set():
        try:
            return await connect(settings)
        except Exception as exc:
            log.warning(
                f"Temporal is not reachable at {settings.temporal_address} "
                f"(namespace {settings.temporal_namespace}); retrying in {delay:g}s",
                extra={"error": str(exc)},
            )
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
            except TimeoutError:
                delay = min(delay * 2, CONNECT_RETRY_MAX_SECONDS)
    return None


async def _heartbeat(path: Path) -> None:
    """Touch `path` until cancelled. A worker's fatal error cancels `run`, and so this, too."""
    while True:
        await asyncio.to_thread(path.touch)
        await asyncio.sleep(HEARTBEAT_INTERVAL_SECONDS)


async def run(settings: Settings, stop: asyncio.Event, heartbeat_file: Path | None = None) -> None:
    client = await connect_with_retry(settings, stop)
    if client is None:
        return
    with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS, thread_name_prefix="activity") as executor:
        running = build_workers(client, settings, executor)
        async with AsyncExitStack() as stack:
            for worker in running:
                await stack.enter_async_context(worker)
            log.info(
                "worker started",
                extra={
                    "address": settings.temporal_address,
                    "namespace": settings.temporal_namespace,
                    "task_queues": [w.task_queue for w in running],
                },
            )
            # Polling already: runs the Schedules start right away find a worker.
            await sync_schedules(client, settings)
            beat = asyncio.create_task(_heartbeat(heartbeat_file)) if heartbeat_file else None
            await stop.wait()
            log.info("stopping: no new tasks; running activities get %ss", GRACEFUL_SHUTDOWN.seconds)
            if beat is not None:
                beat.cancel()
        if heartbeat_file is not None:
            await asyncio.to_thread(heartbeat_file.unlink, missing_ok=True)
    dispose_all()
    log.info("worker stopped")


def heartbeat_age(path: Path) -> float:
    """Seconds since the worker last touched its heartbeat file (the health check's measure)."""
    return time.time() - path.stat().st_mtime


async def main_async(heartbeat_file: Path | None) -> None:
    settings = get_settings()
    configure_logging(json_lines=settings.environment == "production")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run(settings, stop, heartbeat_file)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m internal.workers.main", description=__doc__)
    parser.add_argument(
        "--heartbeat-file",
        type=Path,
        default=DEFAULT_HEARTBEAT_FILE,
        help=f"file touched every {HEARTBEAT_INTERVAL_SECONDS:g}s while polling (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    asyncio.run(main_async(args.heartbeat_file))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
