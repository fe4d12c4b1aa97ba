"""The contract every job declares, whatever runs it.

Each runner expresses these fields natively (task options, retry policies, an in-process loop);
they are declared once per job so that behaviour does not depend on where the job runs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

from internal.jobs.schedule import InvalidSchedule, Schedule

InputT = TypeVar("InputT", bound=BaseModel)


class PermanentJobError(Exception):
    """Retrying cannot help (bad input, a 5xx from a remote server): fail the job now."""


@dataclass(frozen=True)
class JobContract(Generic[InputT]):
    name: str
    input_model: type[InputT]
    max_tries: int = 5
    timeout: float = 60.0
    retry_after: float = 10.0
    queue: str = "default"
    # Longest wait between tries. Kept short so that a job, retries included, fits well inside the
    # window in which a broker redelivers work of a dead worker (see the runner's docs).
    max_backoff: float = 120.0
    # Run periodically as well (see `internal.jobs.schedule`), with the schedule's fixed payload.
    schedule: Schedule | None = None

    def __post_init__(self) -> None:
        if self.max_tries < 1 or self.timeout <= 0 or self.retry_after < 0:
            raise ValueError(
                f"job {self.name}: max_tries >= 1, timeout > 0 and retry_after >= 0 are required"
            )
        if self.schedule is not None:
            try:
                self.scheduled_payload()
            except ValidationError as exc:
                raise InvalidSchedule(f"job {self.name}: the schedule's payload does not fit: {exc}") from exc

    def scheduled_payload(self) -> InputT:
        """The input of each periodic run: the schedule's payload, validated by the input model."""
        if self.schedule is None:
            raise ValueError(f"job {self.name} declares no schedule")
        return self.input_model.model_validate(dict(self.schedule.payload))

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed try number `attempt` (1-based): exponential, jittered, capped."""
        ceiling = min(self.max_backoff, self.retry_after * 2.0 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)
