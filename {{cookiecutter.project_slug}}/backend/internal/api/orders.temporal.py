"""The order example: set stock (admins), place an order (runs the ProcessOrder saga), read its
status (its owner or an admin)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Path, status
from pydantic import BaseModel, ConfigDict, computed_field

from internal.api.deps import AdminUser, CurrentUser, JobRunnerDep, UnitOfWorkDep
from internal.fields import Id, NonNegativeInt32, Text
from internal.jobs.runner import JobRunner
from internal.schemas import documented
from internal.services import orders
from internal.services.orders import OrderCreate
from internal.workers.workflows import ProcessOrderInput, ProcessOrderWorkflow

log = logging.getLogger(__name__)
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
async def create_order(
    data: OrderCreate, uow: UnitOfWorkDep, runner: JobRunnerDep, user: CurrentUser
) -> OrderRead:
    """Accept the order; the ProcessOrder workflow takes it from pending to its final status."""
    order = await orders.create_order(uow.session, data, user_id=user.id)
    uow.after_commit(lambda: start_processing(runner, order.id))
    return OrderRead.model_validate(order)


@router.get("/orders/{order_id}", responses=documented(404))
async def get_order(order_id: Id, uow: UnitOfWorkDep, user: CurrentUser) -> OrderRead:
    order = await orders.get_order(uow.session, order_id, user_id=user.id, is_admin=user.is_admin)
    return OrderRead.model_validate(order)


async def start_processing(runner: JobRunner, order_id: int) -> None:
    """Start the saga; if Temporal cannot take it, the order fails visibly instead of hanging pending."""
    try:
        await runner.start_workflow(
            ProcessOrderWorkflow.run,
            ProcessOrderInput(order_id=order_id),
            workflow_id=orders.workflow_id(order_id),
        )
    except Exception as exc:
        log.exception("could not start order processing", extra={"order_id": order_id})
        reason = f"could not start processing: {exc!r}"
        await anyio.to_thread.run_sync(
            lambda: orders.finish_order(runner.settings, order_id, "failed", reason)
        )
