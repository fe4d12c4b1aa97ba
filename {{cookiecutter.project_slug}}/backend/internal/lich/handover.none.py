"""What `lich jobs retry` and `lich jobs schedules` do and say that depends on the runner: here,
none (jobs run in the API process). Operational code: it ships in the image.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from internal.config import Settings
from internal.jobs import registry
from internal.jobs.contract import JobContract
from internal.jobs.runner import JobRunner

# What `lich jobs schedules` says runs the periodic jobs.
SCHEDULER = "Periodic jobs run in the API process (one replica fires each run; see README)."


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
