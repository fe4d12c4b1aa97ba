"""A job that ignores its soft time limit (as a careless `except Exception` around a retry loop
would), so that the pool kills it at the hard one. Imported by `test_time_limit` and, through
`--include`, by the prefork worker that test starts."""

from __future__ import annotations

import time

from celery.exceptions import SoftTimeLimitExceeded  # type: ignore[import-untyped]
from pydantic import BaseModel

from internal.config import Settings
from internal.jobs.contract import JobContract
from internal.jobs.runner import job_task

QUEUE = "tests.overrunning"


class OverrunInput(BaseModel):
    key: str = "k"


def _overrun(_settings: Settings, _payload: OverrunInput) -> None:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            time.sleep(0.1)
        except SoftTimeLimitExceeded:
            continue


OVERRUNNING = job_task(
    JobContract(name="tests.overrunning", input_model=OverrunInput, max_tries=3, queue=QUEUE), _overrun
)
