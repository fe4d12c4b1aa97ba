"""Users of the application."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column

from internal.db.base import Base, UTCDateTime, utcnow


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased so the unique constraint is case-insensitive on every database.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Set by the SendWelcomeEmail job in the same transaction that holds the user's row lock.
    welcome_email_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # An Argon2id hash (never the password). None: no password set yet, login impossible until a
    # password reset sets one.
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    # Admins run the job operations (the failed-jobs store) and see every user.
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class PasswordReset(Base):
    """One password-reset request. The emailed token is never stored: it is derived from `salt`
    with SECRET_KEY (see `internal.services.password_reset`), and only its SHA-256 hash is kept.

    The SendPasswordResetEmail job emails it and records `email_sent_at` under the row lock, so the
    email goes out once. Confirming sets `used_at` conditionally (only while it is NULL and
    unexpired), so a token works exactly once.
    """

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    salt: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    email_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
