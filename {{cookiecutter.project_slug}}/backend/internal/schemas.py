"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from internal.config import PLACEHOLDER_SECRETS
from internal.fields import DisplayName, Text

PASSWORD_MIN_LENGTH = 8
# Longer is refused (422), never silently truncated.
PASSWORD_MAX_LENGTH = 128
PASSWORD_MIN_DISTINCT = 5


def _not_trivial(password: str) -> str:
    if password.lower() in PLACEHOLDER_SECRETS or len(set(password)) < PASSWORD_MIN_DISTINCT:
        raise ValueError(
            "password is too weak (a placeholder, or fewer than "
            f"{PASSWORD_MIN_DISTINCT} different characters)"
        )
    return password


Password = Annotated[
    str,
    StringConstraints(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH),
    AfterValidator(_not_trivial),
    # OpenAPI's "password" format: clients mask it; the fuzz tier draws values the rule above accepts.
    Field(json_schema_extra={"format": "password"}),
]
Email = Annotated[EmailStr, AfterValidator(str.lower)]


class UserCreate(BaseModel):
    email: Email
    name: DisplayName
    password: Password


class Problem(BaseModel):
    """The body of every error response except 422: what went wrong, in one sentence."""

    detail: str


def documented(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer with (clients and fuzzers read them)."""
    return {code: {"model": Problem} for code in status_codes}


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    created_at: datetime
    welcome_email_sent_at: datetime | None
    is_admin: bool


class AccessToken(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105  (the OAuth2 token type, not a secret)


class PasswordResetRequest(BaseModel):
    # Any text up to an email's length: the answer is 202 whatever it is (no account probing). It is
    # measured as sent, then trimmed and lowercased, so the schema's maxLength is the rule applied.
    email: Annotated[
        Text, StringConstraints(max_length=320), AfterValidator(lambda email: email.strip().lower())
    ]


class PasswordResetConfirm(BaseModel):
    token: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    password: Password


class FailedJobRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    job_name: str
    arguments: dict[str, Any]
    exception: str
    attempts: int
    failed_at: datetime
    retried_at: datetime | None


class RetryAccepted(BaseModel):
    """The entry was marked retried and its job handed to the runner."""

    id: int
    job_name: str
    status: str = Field(default="dispatched")
