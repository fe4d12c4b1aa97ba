"""The job outbox: a job's intent, written in the same transaction as the data that caused it.

A row is pending until the relay (`internal.jobs.relay`) has handed it to the runner; the row then
records when. Nothing else in the application writes to the runner, so a committed request always
leads to its job, and a rolled-back one never does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from internal.db.base import Base, UTCDateTime, utcnow


class JobIntent(Base):
    __tablename__ = "job_outbox"
    # The relay's query: pending rows that are due, oldest first.
    __table_args__ = (Index("ix_job_outbox_pending", "delivered_at", "available_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_name: Mapped[str] = mapped_column(String(200))
    arguments: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Not before: backoff after a failed hand-over, or the lease of an in-process run.
    available_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
