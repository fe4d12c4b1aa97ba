"""SendWelcomeEmail: greet a new user by email, once (see `internal.services.welcome`)."""

from __future__ import annotations

from pydantic import BaseModel

from internal.config import Settings
from internal.jobs.contract import JobContract
from internal.jobs.runner import JobRunner, job_task
from internal.services.welcome import send_welcome_email


class SendWelcomeEmailInput(BaseModel):
    user_id: int


CONTRACT = JobContract(
    name="send_welcome_email",
    input_model=SendWelcomeEmailInput,
    max_tries=5,
    timeout=60.0,
    retry_after=5.0,
    queue="default",
)


def handle(settings: Settings, payload: SendWelcomeEmailInput) -> None:
    send_welcome_email(settings, payload.user_id)


task = job_task(CONTRACT, handle)


async def dispatch(runner: JobRunner, payload: SendWelcomeEmailInput) -> None:
    await runner.enqueue(task, payload)
