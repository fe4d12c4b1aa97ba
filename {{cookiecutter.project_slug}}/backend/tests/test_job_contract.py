"""The job contract every runner honours."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from internal.jobs.contract import JobContract


class Payload(BaseModel):
    value: int = 0


def test_backoff_grows_exponentially_within_jitter_bounds() -> None:
    contract = JobContract(name="x", input_model=Payload, retry_after=2.0, max_backoff=600.0)
    for attempt, ceiling in [(1, 2.0), (2, 4.0), (3, 8.0), (4, 16.0)]:
        delays = [contract.backoff(attempt) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1


def test_backoff_is_capped() -> None:
    contract = JobContract(name="x", input_model=Payload, retry_after=10.0, max_backoff=60.0)
    assert all(contract.backoff(20) <= 60.0 for _ in range(100))


@pytest.mark.parametrize("field", [{"max_tries": 0}, {"timeout": 0}, {"retry_after": -1}])
def test_nonsensical_contract_is_refused(field: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="required"):
        JobContract(name="x", input_model=Payload, **field)  # type: ignore[arg-type]
