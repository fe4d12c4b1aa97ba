"""When a periodic job runs: a cron expression or a fixed interval, in UTC, checked at declaration.

One declaration (`JobContract.schedule`) drives every runner, so only the cron syntax that all of
them read the same way is accepted: five fields of numbers, `*`, ranges, lists and steps, with
month and weekday names. Extensions that some runners lack (`L`, `W`, `#`, `?`, `@daily`) and a
day of month combined with a weekday (an OR in classic cron, an AND elsewhere) are refused here,
before any runner sees them. Next run times come from cronsim.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from cronsim import CronSim, CronSimError

FIELDS = ("minute", "hour", "day of month", "month", "day of week")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# Names become numbers, which every runner reads alike.
NAMES = {
    "month": {name: str(number) for number, name in enumerate(MONTHS, start=1)},
    "day of week": {name: str(number) for number, name in enumerate(WEEKDAYS)},
}
ITEM = re.compile(r"\*|[0-9]+|[a-z]{3}")
SHORTEST_INTERVAL = timedelta(seconds=1)


class InvalidSchedule(ValueError):
    """A schedule no runner could run as written; the message says what to change."""


def check_cron(expression: str) -> str:
    """`expression` normalised to single spaces, or `InvalidSchedule` saying what is wrong."""
    fields = expression.lower().split()
    if len(fields) != len(FIELDS):
        raise InvalidSchedule(
            f"cron expression {expression!r} has {len(fields)} field(s); it needs 5: "
            "minute hour day-of-month month day-of-week (e.g. '0 8 * * *')"
        )
    for index, (name, text) in enumerate(zip(FIELDS, fields, strict=True)):
        names = NAMES.get(name, {})
        for item in re.split(r"[,/-]", text):
            if not ITEM.fullmatch(item) or (item.isalpha() and item not in names):
                raise InvalidSchedule(
                    f"cron expression {expression!r}: {item!r} is not allowed in the {name} field "
                    "(use numbers, *, ranges a-b, lists a,b and steps */n)"
                )
            if name == "day of week" and item == "7":
                raise InvalidSchedule(f"cron expression {expression!r}: use 0, not 7, for Sunday")
        fields[index] = "".join(names.get(part, part) for part in re.split(r"([,/-])", text))
    if fields[2] != "*" and fields[4] != "*":
        raise InvalidSchedule(
            f"cron expression {expression!r} restricts both the day of month and the day of week, "
            "which runners combine differently; restrict one of them"
        )
    normalised = " ".join(fields)
    try:
        CronSim(normalised, datetime.now(UTC))
    except CronSimError as exc:
        raise InvalidSchedule(f"cron expression {expression!r}: {exc}") from exc
    return normalised


@dataclass(frozen=True)
class Schedule:
    """Run a job on `cron` (five fields, UTC) or `every` interval, with a fixed `payload`.

    Intervals are aligned on the Unix epoch (every 15 minutes runs at :00, :15, ...), so every
    replica and every runner agrees on when a run is due. The payload is validated against the
    job's input model when the job's contract is declared.
    """

    cron: str | None = None
    every: timedelta | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.cron is None) == (self.every is None):
            raise InvalidSchedule("a schedule needs exactly one of cron='...' or every=timedelta(...)")
        if self.cron is not None:
            object.__setattr__(self, "cron", check_cron(self.cron))
        if self.every is not None and (
            self.every < SHORTEST_INTERVAL or self.every.total_seconds() != int(self.every.total_seconds())
        ):
            raise InvalidSchedule(f"every={self.every!r}: use a whole number of seconds, at least 1")

    def describe(self) -> str:
        """As people write it: the cron expression, or `every 90s`."""
        if self.cron is not None:
            return self.cron
        assert self.every is not None
        return f"every {int(self.every.total_seconds())}s"

    def next_after(self, moment: datetime) -> datetime:
        """The first time strictly after `moment` (aware) when a run is due, in UTC."""
        moment = moment.astimezone(UTC)
        if self.cron is not None:
            return next(CronSim(self.cron, moment))
        assert self.every is not None
        step = int(self.every.total_seconds())
        epoch_seconds = math.floor(moment.timestamp() / step + 1) * step
        return datetime.fromtimestamp(epoch_seconds, UTC)

    def shortest_gap(self, moment: datetime, runs: int = 100) -> timedelta:
        """The shortest time between two of the next `runs` runs after `moment`."""
        if self.every is not None:
            return self.every
        times = [moment := self.next_after(moment) for _ in range(runs)]
        return min(later - earlier for earlier, later in pairwise(times))

    def fingerprint(self) -> str:
        """Changes whenever the declaration does: a runner that stored a schedule updates it."""
        payload = ",".join(f"{key}={self.payload[key]!r}" for key in sorted(self.payload))
        return f"{self.describe()}|{payload}"
