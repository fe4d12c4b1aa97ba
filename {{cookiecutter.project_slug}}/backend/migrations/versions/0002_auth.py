"""Authentication: password hashes, the admin flag, password resets{% if cookiecutter.task_runner == "temporal" %}, and order owners{% endif %}.

Users created before this revision have no password (NULL): they set one through a password reset.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import internal.db.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("password_hash", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("is_admin", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        "password_resets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", internal.db.base.UTCDateTime(), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", internal.db.base.UTCDateTime(), nullable=False),
        sa.Column("email_sent_at", internal.db.base.UTCDateTime(), nullable=True),
        sa.Column("used_at", internal.db.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_password_resets_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_resets")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_resets_token_hash")),
    )
    op.create_index(op.f("ix_password_resets_user_id"), "password_resets", ["user_id"])
{%- if cookiecutter.task_runner == "temporal" %}
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch.create_index(batch.f("ix_orders_user_id"), ["user_id"])
        batch.create_foreign_key(
            batch.f("fk_orders_user_id_users"), "users", ["user_id"], ["id"], ondelete="SET NULL"
        )
{%- endif %}


def downgrade() -> None:
{%- if cookiecutter.task_runner == "temporal" %}
    with op.batch_alter_table("orders") as batch:
        batch.drop_constraint(batch.f("fk_orders_user_id_users"), type_="foreignkey")
        batch.drop_index(batch.f("ix_orders_user_id"))
        batch.drop_column("user_id")
{%- endif %}
    op.drop_index(op.f("ix_password_resets_user_id"), table_name="password_resets")
    op.drop_table("password_resets")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("is_admin")
        batch.drop_column("password_hash")
