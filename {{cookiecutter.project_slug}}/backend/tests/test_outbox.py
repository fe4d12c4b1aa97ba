"""The job outbox: a job's intent commits with its data, and the relay delivers it to the runner."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy import insert, select

from internal.config import Settings
from internal.db.base import utcnow
from internal.db.session import UnitOfWork, create_engine_for, create_sessionmaker
from internal.db.sync import sync_sessionmaker
from internal.jobs import outbox
from internal.jobs.send_welcome_email import CONTRACT as SEND_WELCOME_EMAIL
from internal.jobs.send_welcome_email import SendWelcomeEmailInput
from internal.models import JobIntent, User
from tests.support import Mailbox, api_client, eventually, headers_for, sign_up, welcome_email_sent_at


def intents(settings: Settings) -> list[JobIntent]:
    with sync_sessionmaker(settings.sync_database_url)() as session:
        return list(session.scalars(select(JobIntent).order_by(JobIntent.id)))


async def test_committed_request_leaves_a_delivered_intent(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    user = (await sign_up(client, "o@example.com")).json()

    async def delivered() -> JobIntent | None:
        found = intents(settings)
        return found[0] if found and found[0].delivered_at is not None else None

    intent = await eventually(delivered, within=30)
    assert (intent.job_name, intent.arguments) == ("send_welcome_email", {"user_id": user["id"]})


async def dispatch_then_fail(settings: Settings) -> None:
    engine = create_engine_for(settings.database_url)
    try:
        async with UnitOfWork.run(create_sessionmaker(engine)) as uow:
            outbox.dispatch(uow, SEND_WELCOME_EMAIL, SendWelcomeEmailInput(user_id=1))
            raise RuntimeError("rolled back")
    finally:
        await engine.dispose()


async def test_rolled_back_transaction_dispatches_nothing(settings: Settings) -> None:
    with pytest.raises(RuntimeError, match="rolled back"):
        await dispatch_then_fail(settings)
    assert intents(settings) == []


class OtherInput(BaseModel):
    user_id: int = 1


async def test_dispatch_refuses_a_payload_of_another_job(settings: Settings) -> None:
    engine = create_engine_for(settings.database_url)
    try:
        async with UnitOfWork.run(create_sessionmaker(engine)) as uow:
            with pytest.raises(TypeError, match="SendWelcomeEmailInput"):
                outbox.dispatch(uow, SEND_WELCOME_EMAIL, OtherInput())
    finally:
        await engine.dispose()
    assert intents(settings) == []


async def test_intent_left_by_a_stopped_process_runs_at_the_next_start(
    settings: Settings, mailbox: Mailbox, job_worker: None
) -> None:
    # What a process killed mid-job leaves behind: the user committed, its intent pending (an
    # in-process run's lease expired; or never handed over).
    with sync_sessionmaker(settings.sync_database_url).begin() as session:
        user_id = session.execute(
            insert(User).values(email="left@example.com", name="Left").returning(User.id)
        ).scalar_one()
        session.add(
            JobIntent(
                job_name="send_welcome_email",
                arguments={"user_id": user_id},
                available_at=utcnow() - timedelta(seconds=1),
            )
        )

    async def all_done() -> bool | None:
        return all(intent.delivered_at is not None for intent in intents(settings)) or None

    async with api_client(settings) as client:
        own = headers_for(settings, user_id)
        await eventually(lambda: welcome_email_sent_at(client, user_id, own), within=30)
        await eventually(all_done, within=30)

    assert [m["To"] for m in mailbox.messages] == ["left@example.com"]
