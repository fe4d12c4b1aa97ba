"""The ProcessOrder saga through the API, run by the real worker: success, compensation, failure;
and who may stock, place and read orders."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from temporalio.client import Client

from internal.config import Settings
from internal.jobs import process_order
from internal.jobs.runner import JobRunner
from internal.models import InventoryItem, StubPayment
from internal.workers.workflows import ProcessOrderInput, ProcessOrderWorkflow
from tests.processes import free_port
from tests.support import Mailbox, api_client, eventually, headers_for, sign_up
from tests.temporal.helpers import row, started

ORDER = {"sku": "book", "quantity": 2, "amount_cents": 4200, "email": "buyer@example.com"}


Headers = dict[str, str]


async def stock(client: httpx.AsyncClient, headers: Headers, sku: str, quantity: int) -> None:
    response = await client.put(f"/api/v1/inventory/{sku}", json={"quantity": quantity}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"sku": sku, "quantity": quantity}


async def place(client: httpx.AsyncClient, headers: Headers, **changes: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/orders", json={**ORDER, **changes}, headers=headers)
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "pending"
    assert body["workflow_id"] == f"process-order-{body['id']}"
    return body


async def final(
    client: httpx.AsyncClient, job_worker: Client, order: dict[str, Any], headers: Headers
) -> dict[str, Any]:
    await (await started(job_worker, order["workflow_id"])).result()

    async def done() -> dict[str, Any] | None:
        body: dict[str, Any] = (await client.get(f"/api/v1/orders/{order['id']}", headers=headers)).json()
        return body if body["status"] != "pending" else None

    return await eventually(done)


async def test_order_completes_charges_reserves_and_confirms(
    client: httpx.AsyncClient,
    job_worker: Client,
    settings: Settings,
    mailbox: Mailbox,
    admin_headers: Headers,
) -> None:
    await stock(client, admin_headers, "book", 5)
    order = await place(client, admin_headers)
    result = await final(client, job_worker, order, admin_headers)

    assert result["status"] == "completed"
    assert result["failure_reason"] is None
    assert row(settings, InventoryItem, "book").quantity == 3
    payment = row(settings, StubPayment, order["id"])
    assert payment.amount_cents == 4200
    assert payment.refunded_at is None
    assert [m["To"] for m in mailbox.messages] == ["buyer@example.com"]


async def test_insufficient_stock_refunds_and_ends_compensated(
    client: httpx.AsyncClient,
    job_worker: Client,
    settings: Settings,
    mailbox: Mailbox,
    admin_headers: Headers,
) -> None:
    await stock(client, admin_headers, "book", 1)
    order = await place(client, admin_headers, quantity=3)
    result = await final(client, job_worker, order, admin_headers)

    assert result["status"] == "compensated"
    assert "InsufficientStock" in result["failure_reason"]
    assert row(settings, StubPayment, order["id"]).refunded_at is not None
    assert row(settings, InventoryItem, "book").quantity == 1
    assert mailbox.messages == []
    await started(job_worker, order["workflow_id"])
    outcome = await job_worker.get_workflow_handle_for(
        ProcessOrderWorkflow.run, order["workflow_id"]
    ).result()
    assert outcome.status == "compensated"


async def test_rejected_confirmation_releases_stock_and_refunds(
    client: httpx.AsyncClient,
    job_worker: Client,
    settings: Settings,
    mailbox: Mailbox,
    admin_headers: Headers,
) -> None:
    await stock(client, admin_headers, "book", 5)
    mailbox.reply_next_with("550 no such mailbox")
    order = await place(client, admin_headers)
    result = await final(client, job_worker, order, admin_headers)

    assert result["status"] == "compensated"
    assert "MailRejected" in result["failure_reason"]
    assert row(settings, InventoryItem, "book").quantity == 5
    assert row(settings, StubPayment, order["id"]).refunded_at is not None


async def test_an_order_accepted_while_temporal_is_down_is_processed_once_it_is_back(
    job_worker: Client, settings: Settings, mailbox: Mailbox, admin_headers: Headers
) -> None:
    # The saga is dispatched through the outbox: the 202 stands even though no workflow could start.
    unreachable = settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    async with api_client(unreachable) as down:
        await stock(down, admin_headers, "book", 5)
        order = await place(down, admin_headers)
    async with api_client(settings) as client:
        result = await final(client, job_worker, order, admin_headers)

    assert result["status"] == "completed"
    assert [m["To"] for m in mailbox.messages] == ["buyer@example.com"]


async def test_an_orders_saga_handed_over_again_leaves_the_order_as_it_is(
    client: httpx.AsyncClient,
    job_worker: Client,
    settings: Settings,
    mailbox: Mailbox,
    admin_headers: Headers,
) -> None:
    await stock(client, admin_headers, "book", 5)
    order = await place(client, admin_headers)
    assert (await final(client, job_worker, order, admin_headers))["status"] == "completed"
    # What a relay does when it hands the intent over again (the database went away before it
    # could mark it delivered): a second run of the saga, which must change nothing.
    runner = JobRunner(settings)
    await runner.start()
    try:
        await process_order.dispatch(runner, ProcessOrderInput(order_id=order["id"]))
    finally:
        await runner.close()
    await job_worker.get_workflow_handle(order["workflow_id"]).result()

    again = (await client.get(f"/api/v1/orders/{order['id']}", headers=admin_headers)).json()
    assert (again["status"], again["failure_reason"]) == ("completed", None)
    assert row(settings, InventoryItem, "book").quantity == 3
    assert row(settings, StubPayment, order["id"]).refunded_at is None
    assert [m["To"] for m in mailbox.messages] == ["buyer@example.com"]


async def test_unknown_sku_fails_with_nothing_to_undo(
    client: httpx.AsyncClient, job_worker: Client, settings: Settings, admin_headers: Headers
) -> None:
    order = await place(client, admin_headers, sku="unknown")
    result = await final(client, job_worker, order, admin_headers)

    assert result["status"] == "failed"
    assert "unknown SKU" in result["failure_reason"]
    assert row(settings, StubPayment, order["id"]) is None


async def test_unknown_order_is_404(client: httpx.AsyncClient, admin_headers: Headers) -> None:
    assert (await client.get("/api/v1/orders/987654", headers=admin_headers)).status_code == 404


@pytest.mark.parametrize(
    "changes",
    [{"quantity": 0}, {"amount_cents": -1}, {"email": "not-an-email"}, {"sku": ""}],
)
async def test_invalid_order_is_422(
    client: httpx.AsyncClient, changes: dict[str, Any], admin_headers: Headers
) -> None:
    response = await client.post("/api/v1/orders", json={**ORDER, **changes}, headers=admin_headers)
    assert response.status_code == 422


async def test_negative_stock_is_422(client: httpx.AsyncClient, admin_headers: Headers) -> None:
    response = await client.put("/api/v1/inventory/book", json={"quantity": -1}, headers=admin_headers)
    assert response.status_code == 422


async def user_headers(client: httpx.AsyncClient, settings: Settings, email: str) -> Headers:
    return headers_for(settings, (await sign_up(client, email)).json()["id"])


async def test_placing_an_order_anonymously_is_401(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/v1/orders", json=ORDER)).status_code == 401


async def test_a_user_places_and_reads_their_own_order(
    client: httpx.AsyncClient, job_worker: Client, settings: Settings, admin_headers: Headers
) -> None:
    await stock(client, admin_headers, "book", 5)
    owner = await user_headers(client, settings, "owner@example.com")
    order = await place(client, owner)
    assert (await final(client, job_worker, order, owner))["status"] == "completed"


async def test_another_users_order_is_404(
    client: httpx.AsyncClient, job_worker: Client, settings: Settings, admin_headers: Headers
) -> None:
    owner = await user_headers(client, settings, "owner@example.com")
    order = await place(client, owner, sku="unknown")
    await (await started(job_worker, order["workflow_id"])).result()
    stranger = await user_headers(client, settings, "stranger@example.com")
    assert (await client.get(f"/api/v1/orders/{order['id']}", headers=stranger)).status_code == 404
    assert (await client.get(f"/api/v1/orders/{order['id']}", headers=admin_headers)).status_code == 200


async def test_setting_stock_is_for_admins_only(client: httpx.AsyncClient, settings: Settings) -> None:
    user = await user_headers(client, settings, "user@example.com")
    assert (await client.put("/api/v1/inventory/book", json={"quantity": 1}, headers=user)).status_code == 403
    assert (await client.put("/api/v1/inventory/book", json={"quantity": 1})).status_code == 401
