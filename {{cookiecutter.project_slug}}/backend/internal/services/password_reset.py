"""Password reset by email: request (API), send the token (the SendPasswordResetEmail job), confirm (API).

The token exists in clear only in the email: the database keeps its SHA-256 hash (a random
256-bit token needs no slow hash). The job creates the token, sends it and records `email_sent_at`
in one transaction under the reset row's lock, so a redelivered job sends nothing twice; a crash
between the SMTP server's acceptance and the commit sends a second email whose token replaces the
first. Confirming marks the token used with a conditional UPDATE, so it works once even when two
requests race.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from internal import PROJECT_NAME
from internal.config import Settings
from internal.db.base import utcnow
from internal.db.sync import sync_sessionmaker
from internal.errors import DomainError
from internal.jobs.contract import PermanentJobError
from internal.models import PasswordReset, User
from internal.services.mailer import build_message, message_id, send_mail
from internal.services.users import hash_password

log = logging.getLogger(__name__)
CONFIRM_PATH = "/api/v1/auth/password-reset/confirm"


class InvalidResetToken(DomainError):
    status_code = 400


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def request_reset(session: AsyncSession, email: str) -> int | None:
    """Record a reset request for the user with `email`; its id, or None when there is no such user."""
    user_id = await session.scalar(select(User.id).where(User.email == email))
    if user_id is None:
        return None
    reset = PasswordReset(user_id=user_id)
    session.add(reset)
    await session.flush()
    return reset.id


def send_password_reset_email(settings: Settings, reset_id: int) -> bool:
    """Email a fresh single-use token for this request unless already sent; True if this call sent it."""
    with sync_sessionmaker(settings.sync_database_url).begin() as session:
        reset = session.scalars(
            select(PasswordReset).where(PasswordReset.id == reset_id).with_for_update()
        ).one_or_none()
        if reset is None:
            raise PermanentJobError(f"password reset {reset_id} does not exist")
        if reset.email_sent_at is not None:
            log.info("password reset email already sent", extra={"reset_id": reset_id})
            return False
        user = session.get_one(User, reset.user_id)
        token = secrets.token_urlsafe(32)
        minutes = settings.password_reset_minutes
        message = build_message(
            settings,
            to=user.email,
            subject=f"Reset your {PROJECT_NAME} password",
            body=(
                f"Hello {user.name},\n\nsomeone asked to reset your password. If it was you, send this "
                f"token with your new password to {CONFIRM_PATH} within {minutes} minutes:\n\n"
                f"token: {token}\n\nIf it was not you, ignore this email.\n"
            ),
            message_id=message_id(settings, f"password-reset-{reset_id}"),
        )
        send_mail(settings, message)
        now = utcnow()
        reset.token_hash = token_hash(token)
        reset.expires_at = now + timedelta(minutes=minutes)
        reset.email_sent_at = now
    log.info("password reset email sent", extra={"reset_id": reset_id, "user_id": reset.user_id})
    return True


async def confirm_reset(session: AsyncSession, token: str, password: str) -> None:
    """Set the password of the token's user, once; `InvalidResetToken` if unknown, used or expired."""
    now = utcnow()
    user_id = await session.scalar(
        update(PasswordReset)
        .where(
            PasswordReset.token_hash == token_hash(token),
            PasswordReset.used_at.is_(None),
            PasswordReset.expires_at > now,
        )
        .values(used_at=now)
        .returning(PasswordReset.user_id)
    )
    if user_id is None:
        raise InvalidResetToken("the reset token is invalid, already used or expired")
    user = await session.get_one(User, user_id)
    user.password_hash = await hash_password(password)
    # The user's other outstanding reset links stop working too.
    await session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user_id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    log.info("password reset", extra={"user_id": user_id})
