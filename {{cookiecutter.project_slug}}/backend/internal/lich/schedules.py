"""`lich jobs schedules`: the declared periodic jobs with their next run time.

Next run times come from the declaration itself (`Schedule.next_after`), which the project's
runner follows too: cron in UTC, intervals aligned on the Unix epoch.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from internal.jobs.contract import JobContract


def table(contracts: Sequence[JobContract[Any]], now: datetime) -> list[tuple[str, str, str, str]]:
    """One row per periodic job: name, schedule, next run (UTC), queue; sorted by next run."""
    rows = [
        (contract.schedule.next_after(now), contract.name, contract.schedule.describe(), contract.queue)
        for contract in contracts
        if contract.schedule is not None
    ]
    return [
        (name, described, when.strftime("%Y-%m-%d %H:%M:%S"), queue)
        for when, name, described, queue in sorted(rows)
    ]


def format_table(rows: Sequence[tuple[str, str, str, str]]) -> str:
    header = ("JOB", "SCHEDULE", "NEXT RUN (UTC)", "QUEUE")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    )
