"""A job whose behaviour a test scripts (fail N times, fail for good, be slow), on a fast contract.

PYTEST_DONT_REWRITE: the workflow sandbox imports this module afresh for every run and for every
worker that validates the workflow. Rewritten by pytest, each of those imports also brought pytest's
assertion machinery into the sandbox: several seconds of CPU per `make test`. It asserts nothing.
"""

from __future__ import annotations

import threading
import time

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from internal.config import Settings
    from internal.jobs.contract import JobContract, PermanentJobError
    from internal.workers.jobs import run_activity, run_job


class ScriptedInput(BaseModel):
    key: str = ""
    failures: int = 0
    permanent: bool = False
    sleep_seconds: float = 0.0


class ScriptedResult(BaseModel):
    calls: int = 0


# Test-only timeout: short, so the timeout test waits 3 tries of 1.5 s, yet far above a try that
# does not sleep, even on a loaded machine.
FAST = JobContract(name="scripted", input_model=ScriptedInput, max_tries=3, timeout=1.5, retry_after=0.05)
_calls: dict[str, int] = {}
_lock = threading.Lock()


def calls(key: str) -> int:
    with _lock:
        return _calls.get(key, 0)


def handle(_settings: Settings, payload: ScriptedInput) -> ScriptedResult:
    with _lock:
        _calls[payload.key] = count = _calls.get(payload.key, 0) + 1
    time.sleep(payload.sleep_seconds)
    if payload.permanent:
        raise PermanentJobError("bad input")
    if count <= payload.failures:
        raise ConnectionError(f"down (call {count})")
    return ScriptedResult(calls=count)


@activity.defn(name="scripted")
def scripted(payload: ScriptedInput) -> ScriptedResult:
    return run_activity(FAST, handle, payload)


@workflow.defn(name="Scripted")
class ScriptedWorkflow:
    @workflow.run
    async def run(self, payload: ScriptedInput) -> ScriptedResult:
        return await run_job(FAST, scripted, payload)
