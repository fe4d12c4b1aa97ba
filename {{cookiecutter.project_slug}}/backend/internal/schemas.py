"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from internal.fields import Text


class UserCreate(BaseModel):
    email: Annotated[EmailStr, AfterValidator(str.lower)]
    name: Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


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
