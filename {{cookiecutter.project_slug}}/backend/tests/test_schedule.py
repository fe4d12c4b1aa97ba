"""The `schedule` of the job contract: what is accepted at declaration, and when runs are due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel

from internal.jobs.contract import JobContract
from internal.jobs.schedule import InvalidSchedule, Schedule


class Payload(BaseModel):
    days: int = 30


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_cron_next_run_is_the_first_match_strictly_after() -> None:
    daily = Schedule(cron="0 8 * * *")
    assert daily.next_after(at("2026-01-01T07:59:59")) == at("2026-01-01T08:00:00")
    assert daily.next_after(at("2026-01-01T08:00:00")) == at("2026-01-02T08:00:00")


def test_month_and_weekday_names_become_numbers() -> None:
    assert Schedule(cron="0 8 * JAN-mar mon-fri").cron == "0 8 * 1-3 1-5"


def test_intervals_are_aligned_on_the_epoch() -> None:
    quarter = Schedule(every=timedelta(minutes=15))
    assert quarter.next_after(at("2026-01-01T10:07:30")) == at("2026-01-01T10:15:00")
    assert quarter.next_after(at("2026-01-01T10:15:00")) == at("2026-01-01T10:30:00")


@pytest.mark.parametrize(
    ("cron", "reason"),
    [
        ("* * * *", "needs 5"),
        ("61 * * * *", "61"),
        ("0 0 L * *", "not allowed in the day of month field"),
        ("0 0 * * 5#2", "not allowed"),
        ("@daily", "needs 5"),
        ("0 0 * * 7", "use 0, not 7"),
        ("0 8 1 * mon", "restricts both"),
        ("0 8 * foo *", "not allowed in the month field"),
    ],
)
def test_cron_that_runners_would_read_differently_is_refused(cron: str, reason: str) -> None:
    with pytest.raises(InvalidSchedule, match=reason):
        Schedule(cron=cron)


@pytest.mark.parametrize(
    "schedule",
    [
        {},
        {"cron": "0 8 * * *", "every": timedelta(minutes=1)},
        {"every": timedelta(milliseconds=500)},
        {"every": timedelta(seconds=1.5)},
    ],
)
def test_a_schedule_needs_one_whole_second_rule(schedule: dict[str, object]) -> None:
    with pytest.raises(InvalidSchedule):
        Schedule(**schedule)  # type: ignore[arg-type]


def test_the_payload_is_checked_when_the_contract_is_declared() -> None:
    with pytest.raises(InvalidSchedule, match="payload does not fit"):
        JobContract(
            name="x", input_model=Payload, schedule=Schedule(cron="0 8 * * *", payload={"days": "many"})
        )
    contract = JobContract(
        name="x", input_model=Payload, schedule=Schedule(cron="0 8 * * *", payload={"days": 7})
    )
    assert contract.scheduled_payload() == Payload(days=7)


def test_the_fingerprint_follows_the_declaration() -> None:
    first = Schedule(cron="0 8 * * *", payload={"days": 7})
    assert first.fingerprint() == Schedule(cron="0 8 * * *", payload={"days": 7}).fingerprint()
    assert first.fingerprint() != Schedule(cron="0 9 * * *", payload={"days": 7}).fingerprint()
    assert first.fingerprint() != Schedule(cron="0 8 * * *", payload={"days": 8}).fingerprint()
