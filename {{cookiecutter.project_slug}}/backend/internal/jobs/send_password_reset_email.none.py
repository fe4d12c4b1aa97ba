"""SendPasswordResetEmail: email a single-use password-reset token, once per request (see
`internal.services.password_reset`)."""

from __future__ import annotations

from pydantic import BaseModel

from internal.config import Settings
from internal.jobs.contract import JobContract
from internal.jobs.runner import JobRunner
from internal.services.password_reset import send_password_reset_email


class SendPasswordResetEmailInput(BaseModel):
    reset_id: int


CONTRACT = JobContract(
    name="send_password_reset_email",
    input_model=SendPasswordResetEmailInput,
    max_tries=5,
    timeout=60.0,
    retry_after=5.0,
    queue="default",
)


def handle(settings: Settings, payload: SendPasswordResetEmailInput) -> None:
    send_password_reset_email(settings, payload.reset_id)


async def dispatch(runner: JobRunner, payload: SendPasswordResetEmailInput) -> None:
    runner.submit(CONTRACT, handle, payload)
