"""Password reset by email: request (API), send the token (the SendPasswordResetEmail job), confirm (API).

The token is valid from the moment the request commits, before the email can arrive: the request
stores a random salt and the hash of the token, which is HMAC-SHA256(SECRET_KEY, salt). The job
derives the same token from the salt, so the token itself is never stored nor passed through the
broker or the failed-jobs store, and a database dump alone cannot produce one. The job sends the
email and records `email_sent_at` in one transaction under the reset row's lock, so a redelivered
job sends nothing twice (and a duplicate after a crash carries the same token). Confirming marks
the token used with a conditional UPDATE, so it works once even when two requests race. Changing
SECRET_KEY invalidates emails not sent yet.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
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


def token_for(settings: Settings, salt: str) -> str:
    digest = hmac.new(settings.secret_key.encode(), f"password-reset:{salt}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def request_reset(session: AsyncSession, settings: Settings, email: str) -> int | None:
    """Record a reset request for the user with `email`; its id, or None when there is no such user."""
    user_id = await session.scalar(select(User.id).where(User.email == email))
    if user_id is None:
        return None
    salt = secrets.token_urlsafe(32)
    reset = PasswordReset(
        user_id=user_id,
        salt=salt,
        token_hash=token_hash(token_for(settings, salt)),
        expires_at=utcnow() + timedelta(minutes=settings.password_reset_minutes),
    )
    session.add(reset)
    await session.flush()
    return reset.id


def send_password_reset_email(settings: Settings, reset_id: int) -> bool:
    """Email the request's token unless already sent (or expired); True if this call sent it."""
    with sync_sessionmaker(settings.sync_database_url).begin() as session:
        reset = session.scalars(
            select(PasswordReset).where(PasswordReset.id == reset_id).with_for_update()
        ).one_or_none()
        if reset is None:
            raise PermanentJobError(f"password reset {reset_id} does not exist")
        if reset.email_sent_at is not None or reset.used_at is not None or reset.expires_at <= utcnow():
            log.info("password reset email already sent, used or expired", extra={"reset_id": reset_id})
            return False
        user = session.get_one(User, reset.user_id)
        message = build_message(
            settings,
            to=user.email,
            subject=f"Reset your {PROJECT_NAME} password",
            body=(
                f"Hello {user.name},\n\nsomeone asked to reset your password. If it was you, send this "
                f"token with your new password to {CONFIRM_PATH} before "
                f"{reset.expires_at:%Y-%m-%d %H:%M} UTC:\n\n"
                f"token: {token_for(settings, reset.salt)}\n\nIf it was not you, ignore this email.\n"
            ),
            message_id=message_id(settings, f"password-reset-{reset_id}"),
        )
        send_mail(settings, message)
        reset.email_sent_at = utcnow()
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
