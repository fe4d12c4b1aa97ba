"""Periodic jobs in `lich`: `make job --schedule` adds a schedule to the new job, and
`lich jobs schedules` lists the declared ones with their next run time.

Next run times come from the declaration itself (`Schedule.next_after`), which the project's
runner follows too: cron in UTC, intervals aligned on the Unix epoch.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from internal.jobs.contract import JobContract
from internal.jobs.schedule import InvalidSchedule, check_cron
from internal.lich.errors import UsageError

CONTRACT_IMPORT = re.compile(r"^(?P<indent>[ \t]*)from internal\.jobs\.contract import JobContract\n", re.M)
CONTRACT_END = '    queue="default",\n)\n'


def check_cron_option(expression: str) -> str:
    """The `--schedule` value normalised, or a usage error saying what is wrong (nothing written)."""
    try:
        return check_cron(expression)
    except InvalidSchedule as exc:
        raise UsageError(f"--schedule: {exc}") from exc


def add_schedule(module: str, cron: str) -> str:
    """The scaffolded job module `module`, its CONTRACT declaring `schedule=Schedule(cron=...)`."""
    if CONTRACT_END not in module or not CONTRACT_IMPORT.search(module):
        raise ValueError("the job scaffold no longer has the CONTRACT layout --schedule expects")
    module = CONTRACT_IMPORT.sub(
        lambda match: (
            match.group(0) + f"{match.group('indent')}from internal.jobs.schedule import Schedule\n"
        ),
        module,
        count=1,
    )
    declaration = (
        f'    queue="default",\n    schedule=Schedule(cron="{cron}"),  # UTC; see `lich jobs schedules`\n)\n'
    )
    return module.replace(CONTRACT_END, declaration, 1)


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
