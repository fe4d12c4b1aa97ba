"""The order example (ProcessOrder saga): orders, stock, reservations, and a stand-in for payments."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from internal.db.base import Base, UTCDateTime, utcnow

OrderStatus = Literal["pending", "completed", "failed", "compensated"]


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    amount_cents: Mapped[int] = mapped_column(Integer)
    email: Mapped[str] = mapped_column(String(320))
    # The user who placed the order: they (and admins) may read it.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True, default=None
    )
    # pending until the workflow ends: completed, failed (nothing to undo) or compensated.
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    failure_reason: Mapped[str | None] = mapped_column(Text, default=None)
    # Set in the same transaction that sends the confirmation, so it is sent once.
    confirmation_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class InventoryItem(Base):
    """Units in stock per SKU."""

    __tablename__ = "inventory"
    __table_args__ = (CheckConstraint("quantity >= 0", name="quantity_not_negative"),)

    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)


class InventoryReservation(Base):
    """Units taken out of stock for one order; the order id makes reserving and releasing idempotent."""

    __tablename__ = "inventory_reservations"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    sku: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    reserved_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class StubPayment(Base):
    """A STAND-IN for a payment provider: a local table, so the example runs with no account.

    In a real project the charge and refund activities call the provider's API (with the order id
    as idempotency key) and this table goes away.
    """

    __tablename__ = "stub_payments"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    charged_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
