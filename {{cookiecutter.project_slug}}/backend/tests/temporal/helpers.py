"""Helpers for the Temporal tests: rows to work on, and reading them back."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from sqlalchemy import insert, select
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import ActivityEnvironment

from internal.config import Settings
from internal.db.sync import sync_sessionmaker
from internal.models import InventoryItem, Order, User
from tests.support import eventually


def on_attempt(env: ActivityEnvironment, attempt: int) -> ActivityEnvironment:
    env.info = dataclasses.replace(env.info, attempt=attempt)
    return env


def unique_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def make_user(settings: Settings, email: str = "t@example.com") -> int:
    with sync_sessionmaker(settings.sync_database_url).begin() as session:
        return int(
            session.execute(insert(User).values(email=email, name="T").returning(User.id)).scalar_one()
        )


def make_order(settings: Settings, *, sku: str = "sku-1", quantity: int = 1, stock: int | None = 5) -> int:
    with sync_sessionmaker(settings.sync_database_url).begin() as session:
        if stock is not None and session.get(InventoryItem, sku) is None:
            session.add(InventoryItem(sku=sku, quantity=stock))
        order = Order(sku=sku, quantity=quantity, amount_cents=1250, email="buyer@example.com")
        session.add(order)
        session.flush()
        return order.id


def row(settings: Settings, model: Any, key: Any) -> Any:
    with sync_sessionmaker(settings.sync_database_url)() as session:
        return session.get(model, key)


def all_rows(settings: Settings, model: Any) -> list[Any]:
    with sync_sessionmaker(settings.sync_database_url)() as session:
        return list(session.scalars(select(model)))


async def started(client: Client, workflow_id: str, within: float = 30.0) -> WorkflowHandle[Any, Any]:
    """The workflow's handle once it exists: jobs are started by the outbox relay, after the
    request that dispatched them has answered."""

    async def describe() -> WorkflowHandle[Any, Any] | None:
        handle = client.get_workflow_handle(workflow_id)
        try:
            await handle.describe()
        except RPCError:
            return None
        return handle

    return await eventually(describe, within=within)
