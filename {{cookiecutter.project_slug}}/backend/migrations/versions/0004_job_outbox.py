"""The job outbox: job intents written with the data, delivered to the runner by the relay.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import internal.db.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_name", sa.String(length=200), nullable=False),
        sa.Column("arguments", sa.JSON(), nullable=False),
        sa.Column("created_at", internal.db.base.UTCDateTime(), nullable=False),
        sa.Column("available_at", internal.db.base.UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", internal.db.base.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_outbox")),
    )
    op.create_index("ix_job_outbox_pending", "job_outbox", ["delivered_at", "available_at"])


def downgrade() -> None:
    op.drop_index("ix_job_outbox_pending", table_name="job_outbox")
    op.drop_table("job_outbox")
