"""SendWelcomeEmail: greet a new user by email, once (see `internal.services.welcome`).

A workflow running one activity. The workflow id is derived from the user, so starting it twice
for the same user is a no-op; the activity is idempotent (see `internal.services.welcome`), so a
retry after a worker died finds the email sent and does nothing, unless the worker died between the
SMTP server's acceptance and the commit: then the email goes out twice, with the same Message-ID.
"""

from __future__ import annotations

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from internal.config import Settings
    from internal.jobs.contract import JobContract
    from internal.jobs.runner import JobRunner
    from internal.services.welcome import send_welcome_email
    from internal.workers.jobs import run_activity, run_job


class SendWelcomeEmailInput(BaseModel):
    # Defaults on every field: histories recorded before a field was added still decode.
    user_id: int = 0


class SendWelcomeEmailResult(BaseModel):
    sent: bool = False


CONTRACT = JobContract(
    name="send_welcome_email",
    input_model=SendWelcomeEmailInput,
    max_tries=5,
    # Start-to-close timeout of one try: a worker that dies mid-send is noticed within this.
    timeout=30.0,
    retry_after=5.0,
    queue="default",
)


def handle(settings: Settings, payload: SendWelcomeEmailInput) -> SendWelcomeEmailResult:
    return SendWelcomeEmailResult(sent=send_welcome_email(settings, payload.user_id))


@activity.defn(name="send_welcome_email")
def send_welcome_email_activity(payload: SendWelcomeEmailInput) -> SendWelcomeEmailResult:
    return run_activity(CONTRACT, handle, payload)


@workflow.defn(name="SendWelcomeEmailWorkflow")
class SendWelcomeEmailWorkflow:
    @workflow.run
    async def run(self, payload: SendWelcomeEmailInput) -> SendWelcomeEmailResult:
        return await run_job(CONTRACT, send_welcome_email_activity, payload)


async def dispatch(runner: JobRunner, payload: SendWelcomeEmailInput) -> None:
    await runner.start_job(CONTRACT, SendWelcomeEmailWorkflow.run, payload, key=str(payload.user_id))
