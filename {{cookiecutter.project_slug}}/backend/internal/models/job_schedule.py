"""When each periodic job is next due, for a scheduler that runs inside the API process.

Every API replica reads these rows; the one whose update moves `next_run_at` on runs the job, so
each due run fires once however many replicas there are. Runners with a scheduler of their own
leave the table empty.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from internal.db.base import Base, UTCDateTime


class JobSchedule(Base):
    __tablename__ = "job_schedules"

    job_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    # The declaration the row was computed from (`Schedule.fingerprint`): a change resets it.
    fingerprint: Mapped[str] = mapped_column(Text)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
