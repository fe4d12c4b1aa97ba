"""The welcome email: an idempotent job, so at-least-once delivery sends it once per user.

The user's row is locked (``SELECT ... FOR UPDATE``) for the whole send, and
``welcome_email_sent_at`` is written in the same transaction. A redelivered or concurrently
running copy of the job waits on the lock, then sees the timestamp and does nothing. A worker that
dies mid-send rolls the transaction back, so the redelivered job sends the email. The one duplicate
left: the SMTP server accepted the message and the commit did not happen (the process died, or the
database became unreachable, in between); the copy carries the same deterministic Message-ID, so
mail systems can drop it.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from internal import PROJECT_NAME
from internal.config import Settings
from internal.db.base import utcnow
from internal.db.sync import sync_sessionmaker
from internal.jobs.contract import PermanentJobError
from internal.models import User
from internal.services.mailer import build_message, message_id, send_mail

log = logging.getLogger(__name__)


def send_welcome_email(settings: Settings, user_id: int) -> bool:
    """Send the welcome email unless it was already sent; return whether this call sent it."""
    sessionmaker = sync_sessionmaker(settings.sync_database_url)
    with sessionmaker.begin() as session:
        user = session.scalars(select(User).where(User.id == user_id).with_for_update()).one_or_none()
        if user is None:
            raise PermanentJobError(f"user {user_id} does not exist")
        if user.welcome_email_sent_at is not None:
            log.info("welcome email already sent", extra={"user_id": user_id})
            return False
        message = build_message(
            settings,
            to=user.email,
            subject=f"Welcome to {PROJECT_NAME}",
            body=f"Hello {user.name},\n\nyour account is ready.\n",
            message_id=message_id(settings, f"welcome-{user_id}"),
        )
        send_mail(settings, message)
        user.welcome_email_sent_at = utcnow()
    log.info("welcome email sent", extra={"user_id": user_id})
    return True
