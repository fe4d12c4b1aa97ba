"""Initial schema: users and the failed-jobs store{% if cookiecutter.task_runner == "temporal" %}, and the order example{% endif %}.

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
{%- if cookiecutter.task_runner == "temporal" %}
    # The order example (ProcessOrder saga); stub_payments stands in for a payment provider.
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("confirmation_sent_at", internal.db.base.UTCDateTime(), nullable=True),
        sa.Column("created_at", internal.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", internal.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
    )
    op.create_index(op.f("ix_orders_status"), "orders", ["status"])
    op.create_table(
        "inventory",
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_inventory_quantity_not_negative")),
        sa.PrimaryKeyConstraint("sku", name=op.f("pk_inventory")),
    )
    op.create_table(
        "inventory_reservations",
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("reserved_at", internal.db.base.UTCDateTime(), nullable=False),
        sa.Column("released_at", internal.db.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_inventory_reservations_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_inventory_reservations")),
    )
    op.create_table(
        "stub_payments",
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("charged_at", internal.db.base.UTCDateTime(), nullable=False),
        sa.Column("refunded_at", internal.db.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_stub_payments_order_id_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_stub_payments")),
    )
{%- endif %}


def downgrade() -> None:
{%- if cookiecutter.task_runner == "temporal" %}
    op.drop_table("stub_payments")
    op.drop_table("inventory_reservations")
    op.drop_table("inventory")
    op.drop_index(op.f("ix_orders_status"), table_name="orders")
    op.drop_table("orders")
{%- endif %}
    op.drop_index(op.f("ix_failed_jobs_failed_at"), table_name="failed_jobs")
    op.drop_index(op.f("ix_failed_jobs_job_name"), table_name="failed_jobs")
    op.drop_table("failed_jobs")
    op.drop_table("users")
