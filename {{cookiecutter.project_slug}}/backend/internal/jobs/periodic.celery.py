"""Periodic jobs on Celery: beat sends each job whose contract declares a `schedule`.

`beat_schedule()` derives beat's entries from the contracts (`internal.celery_tasks` installs
them), so a schedule is declared once, in the job module. Each entry's schedule is
`ContractSchedule`, which asks the declaration when the next run is due: beat, the other runners
and `lich jobs schedules` agree on every run time.

Missed runs: beat keeps each entry's last run in its schedule file (`celerybeat-schedule`), so a
run that fell due while beat was down is sent once when beat starts, never once per missed time.
A run that no worker picks up before the next one is due expires, so a worker that was down runs
at most one pending run when it starts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from celery.schedules import BaseSchedule, schedstate  # type: ignore[import-untyped]

from internal.jobs.contract import JobContract
from internal.jobs.runner import JobRunner
from internal.jobs.schedule import Schedule


class ContractSchedule(BaseSchedule):  # type: ignore[misc]
    """A beat schedule that runs when the job's declared `Schedule` says a run is due."""

    def __init__(self, declared: Schedule, nowfun: Any = None, app: Any = None) -> None:
        super().__init__(nowfun=nowfun, app=app)
        self.declared = declared

    def remaining_estimate(self, last_run_at: datetime) -> Any:
        now = self.maybe_make_aware(self.now())
        return self.declared.next_after(self.maybe_make_aware(last_run_at)) - now

    def is_due(self, last_run_at: datetime) -> tuple[bool, float]:
        """Due once the first run time after the last run has passed; however many run times
        have passed since, one run is sent (then the last run is now)."""
        now = self.maybe_make_aware(self.now())
        due_at = self.declared.next_after(self.maybe_make_aware(last_run_at))
        state: tuple[bool, float]
        if due_at <= now:
            state = schedstate(is_due=True, next=(self.declared.next_after(now) - now).total_seconds())
        else:
            state = schedstate(is_due=False, next=(due_at - now).total_seconds())
        return state

    def __reduce__(self) -> tuple[type, tuple[Schedule, Any]]:
        return self.__class__, (self.declared, self.nowfun)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ContractSchedule):
            return self.declared == other.declared
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.declared.fingerprint())

    def __repr__(self) -> str:
        return f"<{self.declared.describe()}>"


def beat_entry(contract: JobContract[Any], now: datetime) -> dict[str, Any]:
    assert contract.schedule is not None
    return {
        "task": contract.name,
        "schedule": ContractSchedule(contract.schedule),
        "args": [contract.scheduled_payload().model_dump(mode="json")],
        "options": {
            "queue": contract.queue,
            "expires": contract.schedule.shortest_gap(now).total_seconds(),
        },
    }


def beat_schedule(contracts: Iterable[JobContract[Any]], now: datetime) -> dict[str, dict[str, Any]]:
    """Beat's entries, one per periodic job, named after the job."""
    return {contract.name: beat_entry(contract, now) for contract in contracts}


@asynccontextmanager
async def api_scheduler(runner: JobRunner) -> AsyncIterator[None]:
    """Nothing to run in the API process: beat sends periodic jobs."""
    yield
