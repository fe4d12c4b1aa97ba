"""SendPasswordResetEmail: email a single-use password-reset token, once per request (see
`internal.services.password_reset`).

A workflow running one activity. The workflow id is derived from the reset request, so starting it
twice for the same request is a no-op; the activity is idempotent (the request's row lock and
`email_sent_at`), so a retry after a worker died mid-send finds the email sent.
"""

from __future__ import annotations

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from internal.config import Settings
    from internal.jobs.contract import JobContract
    from internal.jobs.runner import JobRunner
    from internal.services.password_reset import send_password_reset_email
    from internal.workers.jobs import run_activity, run_job


class SendPasswordResetEmailInput(BaseModel):
    # Defaults on every field: histories recorded before a field was added still decode.
    reset_id: int = 0


class SendPasswordResetEmailResult(BaseModel):
    sent: bool = False


CONTRACT = JobContract(
    name="send_password_reset_email",
    input_model=SendPasswordResetEmailInput,
    max_tries=5,
    # Start-to-close timeout of one try: a worker that dies mid-send is noticed within this.
    timeout=30.0,
    retry_after=5.0,
    queue="default",
)


def handle(settings: Settings, payload: SendPasswordResetEmailInput) -> SendPasswordResetEmailResult:
    return SendPasswordResetEmailResult(sent=send_password_reset_email(settings, payload.reset_id))


@activity.defn(name="send_password_reset_email")
def send_password_reset_email_activity(payload: SendPasswordResetEmailInput) -> SendPasswordResetEmailResult:
    return run_activity(CONTRACT, handle, payload)


@workflow.defn(name="SendPasswordResetEmailWorkflow")
class SendPasswordResetEmailWorkflow:
    @workflow.run
    async def run(self, payload: SendPasswordResetEmailInput) -> SendPasswordResetEmailResult:
        return await run_job(CONTRACT, send_password_reset_email_activity, payload)


async def dispatch(runner: JobRunner, payload: SendPasswordResetEmailInput) -> None:
    await runner.start_job(CONTRACT, SendPasswordResetEmailWorkflow.run, payload, key=str(payload.reset_id))
