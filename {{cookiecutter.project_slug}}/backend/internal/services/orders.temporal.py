"""The order example: stock, orders, and the saga's steps (ProcessOrder in `internal.workers`).

Every step is idempotent, keyed by the order id, because Temporal runs an activity at least once:
charging twice, reserving twice or sending the confirmation twice must be impossible. The steps are
blocking (they run in the worker's activity threads); the API uses the async functions.
"""

from __future__ import annotations

import logging
from typing import Annotated

from pydantic import BaseModel, EmailStr, StringConstraints
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from internal import PROJECT_NAME
from internal.config import Settings
from internal.db.base import utcnow
from internal.db.sync import sync_sessionmaker
from internal.errors import NotFound
from internal.fields import PositiveInt32, Text
from internal.jobs.contract import PermanentJobError
from internal.models import InventoryItem, InventoryReservation, Order, StubPayment
from internal.models.orders import OrderStatus
from internal.services.mailer import build_message, message_id, send_mail

log = logging.getLogger(__name__)


class OrderCreate(BaseModel):
    sku: Annotated[Text, StringConstraints(min_length=1, max_length=64)]
    quantity: PositiveInt32
    amount_cents: PositiveInt32
    email: EmailStr


class OrderRejected(PermanentJobError):
    """The order cannot go through (unknown SKU, not enough stock): retrying will not help."""


class InsufficientStock(OrderRejected):
    pass


def workflow_id(order_id: int) -> str:
    return f"process-order-{order_id}"


# --- API (async) -------------------------------------------------------------------------------


async def set_stock(session: AsyncSession, sku: str, quantity: int) -> InventoryItem:
    item = await session.get(InventoryItem, sku, with_for_update=True)
    if item is None:
        item = InventoryItem(sku=sku, quantity=quantity)
        session.add(item)
    else:
        item.quantity = quantity
    await session.flush()
    return item


async def create_order(session: AsyncSession, data: OrderCreate, *, user_id: int) -> Order:
    order = Order(
        sku=data.sku,
        quantity=data.quantity,
        amount_cents=data.amount_cents,
        email=data.email,
        user_id=user_id,
    )
    session.add(order)
    await session.flush()
    return order


async def get_order(session: AsyncSession, order_id: int, *, user_id: int, is_admin: bool) -> Order:
    """The order, for its owner or an admin; for anyone else it does not exist (404)."""
    order = await session.get(Order, order_id)
    if order is None or (order.user_id != user_id and not is_admin):
        raise NotFound(f"order {order_id} not found")
    return order


# --- saga steps (blocking, idempotent) -----------------------------------------------------------


def _order(session: Session, order_id: int) -> Order:
    order = session.get(Order, order_id)
    if order is None:
        raise OrderRejected(f"order {order_id} does not exist")
    return order


def validate_order(settings: Settings, order_id: int) -> None:
    """The order is still pending and its SKU is one we stock."""
    with sync_sessionmaker(settings.sync_database_url)() as session:
        order = _order(session, order_id)
        if order.status != "pending":
            raise OrderRejected(f"order {order_id} is {order.status}, not pending")
        if session.get(InventoryItem, order.sku) is None:
            raise OrderRejected(f"unknown SKU {order.sku!r}")


def charge_payment(settings: Settings, order_id: int) -> None:
    """Charge the order's amount once (the stand-in provider keys charges by order id)."""
    try:
        with sync_sessionmaker(settings.sync_database_url).begin() as session:
            order = _order(session, order_id)
            if session.get(StubPayment, order_id) is None:
                session.add(StubPayment(order_id=order_id, amount_cents=order.amount_cents))
    except IntegrityError:
        log.info("payment already charged", extra={"order_id": order_id})


def refund_payment(settings: Settings, order_id: int) -> bool:
    """Compensation of `charge_payment`: refund once; nothing to do if nothing was charged."""
    with sync_sessionmaker(settings.sync_database_url).begin() as session:
        payment = session.get(StubPayment, order_id, with_for_update=True)
        if payment is None or payment.refunded_at is not None:
            return False
        payment.refunded_at = utcnow()
        return True


def reserve_inventory(settings: Settings, order_id: int) -> None:
    """Take the order's units out of stock once; `InsufficientStock` if there are not enough."""
    with sync_sessionmaker(settings.sync_database_url).begin() as session:
        order = _order(session, order_id)
        if session.get(InventoryReservation, order_id) is not None:
            return
        # One conditional UPDATE: concurrent orders can never take stock below zero.
        taken = session.execute(
            update(InventoryItem)
            .where(InventoryItem.sku == order.sku, InventoryItem.quantity >= order.quantity)
            .values(quantity=InventoryItem.quantity - order.quantity)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            raise InsufficientStock(f"not enough stock of {order.sku!r} for {order.quantity} unit(s)")
        session.add(InventoryReservation(order_id=order_id, sku=order.sku, quantity=order.quantity))


def release_inventory(settings: Settings, order_id: int) -> bool:
    """Compensation of `reserve_inventory`: put the units back once; nothing if none were taken."""
    with sync_sessionmaker(settings.sync_database_url).begin() as session:
        reservation = session.get(InventoryReservation, order_id, with_for_update=True)
        if reservation is None or reservation.released_at is not None:
            return False
        session.execute(
            update(InventoryItem)
            .where(InventoryItem.sku == reservation.sku)
            .values(quantity=InventoryItem.quantity + reservation.quantity)
        )
        reservation.released_at = utcnow()
        return True


def send_order_confirmation(settings: Settings, order_id: int) -> bool:
    """Email the confirmation once: the order row stays locked while sending (as for the welcome email)."""
    with sync_sessionmaker(settings.sync_database_url).begin() as session:
        order = session.scalars(select(Order).where(Order.id == order_id).with_for_update()).one_or_none()
        if order is None:
            raise OrderRejected(f"order {order_id} does not exist")
        if order.confirmation_sent_at is not None:
            return False
        message = build_message(
            settings,
            to=order.email,
            subject=f"{PROJECT_NAME}: order {order_id} confirmed",
            body=f"Your order of {order.quantity} x {order.sku} is confirmed.\n",
            message_id=message_id(settings, f"order-{order_id}"),
        )
        send_mail(settings, message)
        order.confirmation_sent_at = utcnow()
        return True


def finish_order(settings: Settings, order_id: int, status: OrderStatus, reason: str | None = None) -> None:
    """Give a pending order its final status, once.

    An order that already has one keeps it: a second run of its saga (its outbox intent handed over
    again after the first run closed) fails validation and must not turn a completed order failed.
    """
    with sync_sessionmaker(settings.sync_database_url).begin() as session:
        order = session.get(Order, order_id, with_for_update=True)
        if order is None:
            return
        if order.status != "pending":
            log.info("order already finished", extra={"order_id": order_id, "status": order.status})
            return
        order.status = status
        order.failure_reason = reason
    log.info("order finished", extra={"order_id": order_id, "status": status})
