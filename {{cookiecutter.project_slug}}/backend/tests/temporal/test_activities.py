"""Activities in isolation (ActivityEnvironment): idempotent, and failures classified for retries."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from internal.config import Settings
from internal.jobs.send_welcome_email import SendWelcomeEmailInput, send_welcome_email_activity
from internal.models import FailedJob, InventoryItem, InventoryReservation, Order, StubPayment
from internal.workers import activities
from internal.workers.activities import FailedJobInput, FinishOrder, OrderStep
from tests.support import Mailbox
from tests.temporal.helpers import all_rows, make_order, make_user, on_attempt, row


def test_welcome_email_activity_sends_once(
    activity_env: ActivityEnvironment, settings: Settings, mailbox: Mailbox
) -> None:
    payload = SendWelcomeEmailInput(user_id=make_user(settings, "act@example.com"))
    assert activity_env.run(send_welcome_email_activity, payload).sent is True
    assert activity_env.run(send_welcome_email_activity, payload).sent is False
    assert [m["To"] for m in mailbox.messages] == ["act@example.com"]


def test_smtp_5xx_is_a_non_retryable_failure_carrying_the_attempt(
    activity_env: ActivityEnvironment, settings: Settings, mailbox: Mailbox
) -> None:
    mailbox.reply_next_with("550 mailbox unavailable")
    payload = SendWelcomeEmailInput(user_id=make_user(settings))
    with pytest.raises(ApplicationError) as raised:
        on_attempt(activity_env, 2).run(send_welcome_email_activity, payload)
    assert raised.value.non_retryable
    assert raised.value.type == "MailRejected"
    assert raised.value.details == ({"attempt": 2},)


def test_smtp_4xx_is_retryable(
    activity_env: ActivityEnvironment, settings: Settings, mailbox: Mailbox
) -> None:
    mailbox.reply_next_with("451 try again later")
    with pytest.raises(ApplicationError) as raised:
        activity_env.run(send_welcome_email_activity, SendWelcomeEmailInput(user_id=make_user(settings)))
    assert not raised.value.non_retryable
    assert raised.value.type == "SMTPDataError"


def test_unknown_user_is_not_retried(activity_env: ActivityEnvironment) -> None:
    with pytest.raises(ApplicationError) as raised:
        activity_env.run(send_welcome_email_activity, SendWelcomeEmailInput(user_id=424242))
    assert raised.value.non_retryable
    assert raised.value.type == "PermanentJobError"


def test_record_failed_job_stores_the_entry(activity_env: ActivityEnvironment, settings: Settings) -> None:
    entry = FailedJobInput(job_name="x", arguments={"a": 1}, exception="Boom: no", attempts=3)
    recorded = activity_env.run(activities.record_failed_job, entry)
    stored = row(settings, FailedJob, recorded.failed_job_id)
    assert (stored.job_name, stored.arguments, stored.exception, stored.attempts) == (
        "x",
        {"a": 1},
        "Boom: no",
        3,
    )


def test_charge_and_refund_happen_once(activity_env: ActivityEnvironment, settings: Settings) -> None:
    step = OrderStep(order_id=make_order(settings))
    activity_env.run(activities.charge_payment, step)
    activity_env.run(activities.charge_payment, step)
    assert len(all_rows(settings, StubPayment)) == 1
    assert activity_env.run(activities.refund_payment, step).changed is True
    assert activity_env.run(activities.refund_payment, step).changed is False
    assert row(settings, StubPayment, step.order_id).refunded_at is not None


def test_refund_without_a_charge_does_nothing(activity_env: ActivityEnvironment, settings: Settings) -> None:
    assert (
        activity_env.run(activities.refund_payment, OrderStep(order_id=make_order(settings))).changed is False
    )


def test_reserve_and_release_are_idempotent(activity_env: ActivityEnvironment, settings: Settings) -> None:
    step = OrderStep(order_id=make_order(settings, quantity=2, stock=5))
    activity_env.run(activities.reserve_inventory, step)
    activity_env.run(activities.reserve_inventory, step)
    assert row(settings, InventoryItem, "sku-1").quantity == 3
    assert activity_env.run(activities.release_inventory, step).changed is True
    assert activity_env.run(activities.release_inventory, step).changed is False
    assert row(settings, InventoryItem, "sku-1").quantity == 5


def test_insufficient_stock_is_not_retried_and_takes_nothing(
    activity_env: ActivityEnvironment, settings: Settings
) -> None:
    step = OrderStep(order_id=make_order(settings, quantity=9, stock=5))
    with pytest.raises(ApplicationError) as raised:
        activity_env.run(activities.reserve_inventory, step)
    assert raised.value.non_retryable
    assert raised.value.type == "InsufficientStock"
    assert row(settings, InventoryItem, "sku-1").quantity == 5
    assert all_rows(settings, InventoryReservation) == []


def test_unknown_sku_fails_validation(activity_env: ActivityEnvironment, settings: Settings) -> None:
    step = OrderStep(order_id=make_order(settings, sku="nope", stock=None))
    with pytest.raises(ApplicationError) as raised:
        activity_env.run(activities.validate_order, step)
    assert raised.value.non_retryable
    assert "unknown SKU" in raised.value.message


def test_confirmation_is_sent_once(
    activity_env: ActivityEnvironment, settings: Settings, mailbox: Mailbox
) -> None:
    step = OrderStep(order_id=make_order(settings))
    assert activity_env.run(activities.send_order_confirmation, step).changed is True
    assert activity_env.run(activities.send_order_confirmation, step).changed is False
    assert [m["Message-ID"] for m in mailbox.messages] == [f"<order-{step.order_id}@example.com>"]


def test_finish_order_sets_status_and_reason(activity_env: ActivityEnvironment, settings: Settings) -> None:
    order_id = make_order(settings)
    activity_env.run(
        activities.finish_order, FinishOrder(order_id=order_id, status="compensated", reason="r")
    )
    order = row(settings, Order, order_id)
    assert (order.status, order.failure_reason) == ("compensated", "r")


def test_finish_order_keeps_a_final_status(activity_env: ActivityEnvironment, settings: Settings) -> None:
    order_id = make_order(settings)
    activity_env.run(activities.finish_order, FinishOrder(order_id=order_id, status="completed"))
    activity_env.run(activities.finish_order, FinishOrder(order_id=order_id, status="failed", reason="again"))
    order = row(settings, Order, order_id)
    assert (order.status, order.failure_reason) == ("completed", None)
