"""The welcome-email service: idempotent per user, SMTP errors classified for retries."""

from __future__ import annotations

import smtplib

import pytest
from sqlalchemy import insert

from internal.config import Settings
from internal.db.sync import sync_sessionmaker
from internal.jobs.contract import PermanentJobError
from internal.models import User
from internal.services.mailer import MailRejected
from internal.services.welcome import send_welcome_email
from tests.support import Mailbox


def make_user(settings: Settings, email: str = "once@example.com") -> int:
    with sync_sessionmaker(settings.sync_database_url).begin() as session:
        return int(
            session.execute(insert(User).values(email=email, name="Once").returning(User.id)).scalar_one()
        )


def test_second_call_sends_nothing(settings: Settings, mailbox: Mailbox) -> None:
    user_id = make_user(settings)
    assert send_welcome_email(settings, user_id) is True
    assert send_welcome_email(settings, user_id) is False
    assert len(mailbox.messages) == 1
    assert mailbox.messages[0]["Message-ID"] == f"<welcome-{user_id}@example.com>"


def test_smtp_5xx_is_permanent_and_records_nothing(settings: Settings, mailbox: Mailbox) -> None:
    user_id = make_user(settings)
    mailbox.reply_next_with("554 transaction failed")
    with pytest.raises(MailRejected):
        send_welcome_email(settings, user_id)
    assert send_welcome_email(settings, user_id) is True


def test_smtp_4xx_is_transient(settings: Settings, mailbox: Mailbox) -> None:
    user_id = make_user(settings)
    mailbox.reply_next_with("451 try again later")
    with pytest.raises(smtplib.SMTPDataError) as raised:
        send_welcome_email(settings, user_id)
    assert not isinstance(raised.value, PermanentJobError)


def test_message_accepted_counts_as_sent_whatever_the_server_says_to_quit(
    settings: Settings, mailbox: Mailbox
) -> None:
    user_id = make_user(settings)
    mailbox.quit_reply = "421 closing the connection"
    assert send_welcome_email(settings, user_id) is True
    assert len(mailbox.messages) == 1
    assert send_welcome_email(settings, user_id) is False


def test_unknown_user_is_a_permanent_error(settings: Settings) -> None:
    with pytest.raises(PermanentJobError, match="does not exist"):
        send_welcome_email(settings, 987654)
