"""What `lich dev` runs in this project, and how `lich jobs retry` hands a job to the runner.

Jobs run inside the API process, so the stack is the API alone (after the migrations).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from internal.config import Settings
from internal.jobs import registry
from internal.jobs.contract import JobContract
from internal.jobs.runner import JobRunner
from internal.lich.dev import Process, api_process, require_free_port
from internal.lich.project import Project

# What `lich jobs schedules` says runs the periodic jobs.
SCHEDULER = "Periodic jobs run in the API process (one replica fires each run; see README)."


def processes(project: Project, settings: Settings, *, host: str, port: int) -> list[Process]:
    """The long-running processes, in start order."""
    require_free_port(port, "the API", "pick another with --port")
    return [
        api_process(host, port),
    ]


def banner(settings: Settings, *, host: str, port: int) -> list[str]:
    return [
        f"API on http://{host}:{port} (docs: http://{host}:{port}/docs); jobs run in the API process",
        "Ctrl-C stops everything",
    ]


async def hand_over(settings: Settings, contract: JobContract[Any], payload: BaseModel) -> str:
    """Run the job here, in process, and wait for it (retries included); say what happened."""
    runner = JobRunner(settings)
    await runner.start()
    try:
        await registry.dispatch(runner, contract, payload)
        await runner.join()
    finally:
        await runner.close()
    return "ran in process"
