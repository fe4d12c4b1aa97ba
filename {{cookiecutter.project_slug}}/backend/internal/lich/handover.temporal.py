"""What `lich jobs retry` and `lich jobs schedules` do and say that depends on the runner: here,
Temporal. Operational code: it ships in the image.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from internal.config import Settings
from internal.jobs import registry
from internal.jobs.contract import JobContract
from internal.jobs.runner import JobRunner

# What `lich jobs schedules` says runs the periodic jobs.
SCHEDULER = "Periodic jobs are Temporal Schedules, created or updated when the worker starts."


async def hand_over(settings: Settings, contract: JobContract[Any], payload: BaseModel) -> str:
    """Start the job's workflow; a running worker executes it."""
    runner = JobRunner(settings)
    await runner.start()
    try:
        await registry.dispatch(runner, contract, payload)
    finally:
        await runner.close()
    return f"workflow started on Temporal ({settings.temporal_address}); a running worker executes it"
