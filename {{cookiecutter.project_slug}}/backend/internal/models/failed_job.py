"""The failed-jobs store: jobs that exhausted their tries, kept so they can be inspected and retried."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from internal.db.base import Base, UTCDateTime, utcnow


class FailedJob(Base):
    __tablename__ = "failed_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_name: Mapped[str] = mapped_column(String(200), index=True)
    arguments: Mapped[dict[str, Any]] = mapped_column(JSON)
    exception: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # Set when the job is dispatched again from the store; the entry is kept as history.
    retried_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
