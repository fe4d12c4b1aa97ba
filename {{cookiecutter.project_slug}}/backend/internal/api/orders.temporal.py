"""The order example: set stock (admins), place an order (runs the ProcessOrder saga), read its
status (its owner or an admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, ConfigDict, computed_field

from internal.api.deps import AdminUser, CurrentUser, UnitOfWorkDep
from internal.fields import Id, NonNegativeInt32, Text
from internal.jobs import outbox, process_order
from internal.schemas import documented
from internal.services import orders
from internal.services.orders import OrderCreate
from internal.workers.workflows import ProcessOrderInput

router = APIRouter(tags=["orders"])

Sku = Annotated[Text, Path(min_length=1, max_length=64)]


class StockUpdate(BaseModel):
    quantity: NonNegativeInt32


class StockRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    sku: str
    quantity: int


class OrderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    status: str
    sku: str
    quantity: int
    amount_cents: int
    email: str
    failure_reason: str | None
    created_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def workflow_id(self) -> str:
        return orders.workflow_id(self.id)


@router.put("/inventory/{sku}")
async def set_stock(sku: Sku, data: StockUpdate, uow: UnitOfWorkDep, _admin: AdminUser) -> StockRead:
    return StockRead.model_validate(await orders.set_stock(uow.session, sku, data.quantity))


@router.post("/orders", status_code=status.HTTP_202_ACCEPTED)
async def create_order(data: OrderCreate, uow: UnitOfWorkDep, user: CurrentUser) -> OrderRead:
    """Accept the order; the ProcessOrder workflow takes it from pending to its final status.

    The saga is dispatched through the outbox, in the order's own transaction: once this answers
    202 the workflow starts, even if Temporal is down now (it starts when Temporal is back).
    """
    order = await orders.create_order(uow.session, data, user_id=user.id)
    outbox.dispatch(uow, process_order.CONTRACT, ProcessOrderInput(order_id=order.id))
    return OrderRead.model_validate(order)


@router.get("/orders/{order_id}", responses=documented(404))
async def get_order(order_id: Id, uow: UnitOfWorkDep, user: CurrentUser) -> OrderRead:
    order = await orders.get_order(uow.session, order_id, user_id=user.id, is_admin=user.is_admin)
    return OrderRead.model_validate(order)
