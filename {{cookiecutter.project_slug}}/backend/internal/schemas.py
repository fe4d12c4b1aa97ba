"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field

from internal.fields import DisplayName


class UserCreate(BaseModel):
    email: Annotated[EmailStr, AfterValidator(str.lower)]
    name: DisplayName


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
    id: int
    job_name: str
    status: str = Field(default="dispatched")
