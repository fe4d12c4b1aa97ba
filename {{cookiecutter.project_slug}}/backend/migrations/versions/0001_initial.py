"""Initial schema: users and the failed-jobs store.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import internal.db.base

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", internal.db.base.UTCDateTime(), nullable=False),
        sa.Column("welcome_email_sent_at", internal.db.base.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "failed_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_name", sa.String(length=200), nullable=False),
        sa.Column("arguments", sa.JSON(), nullable=False),
        sa.Column("exception", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("failed_at", internal.db.base.UTCDateTime(), nullable=False),
        sa.Column("retried_at", internal.db.base.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_failed_jobs")),
    )
    op.create_index(op.f("ix_failed_jobs_job_name"), "failed_jobs", ["job_name"])
    op.create_index(op.f("ix_failed_jobs_failed_at"), "failed_jobs", ["failed_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_failed_jobs_failed_at"), table_name="failed_jobs")
    op.drop_index(op.f("ix_failed_jobs_job_name"), table_name="failed_jobs")
    op.drop_table("failed_jobs")
    op.drop_table("users")
