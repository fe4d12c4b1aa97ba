"""Job schedules: when each periodic job is next due (the API's in-process scheduler).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import internal.db.base

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_schedules",
        sa.Column("job_name", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("next_run_at", internal.db.base.UTCDateTime(), nullable=False),
        sa.Column("last_run_at", internal.db.base.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("job_name", name=op.f("pk_job_schedules")),
    )


def downgrade() -> None:
    op.drop_table("job_schedules")
