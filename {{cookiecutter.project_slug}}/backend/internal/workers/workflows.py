"""Workflows of the project: the ProcessOrder saga.

Workflow code is deterministic (it is replayed from history): no I/O, clock or randomness here,
only activities. Activities and models come in through the sandbox's pass-through, so the sandbox
does not re-import them (and their database and SMTP libraries) for every run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from internal.models.orders import OrderStatus
    from internal.workers.activities import (
        FinishOrder,
        OrderStep,
        charge_payment,
        finish_order,
        refund_payment,
        release_inventory,
        reserve_inventory,
        send_order_confirmation,
        validate_order,
    )
    from internal.workers.jobs import NON_RETRYABLE_ERROR_TYPES

# Database steps are quick; the email step may wait on SMTP (its own timeout is 20 s). Both are
# short enough that an activity on a worker that died is retried elsewhere within a minute.
STEP_TIMEOUT = timedelta(seconds=10)
EMAIL_TIMEOUT = timedelta(seconds=30)
STEP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
    non_retryable_error_types=[*NON_RETRYABLE_ERROR_TYPES, "OrderRejected", "InsufficientStock"],
)
# Undoing must try harder than doing: a compensation that gives up leaves money or stock behind.
COMPENSATION_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=20,
)


class ProcessOrderInput(BaseModel):
    order_id: int = 0


class ProcessOrderResult(BaseModel):
    order_id: int = 0
    status: OrderStatus = "completed"
    reason: str | None = None


def failure_reason(error: ActivityError) -> str:
    cause = error.cause
    if isinstance(cause, ApplicationError):
        return f"{cause.type}: {cause.message}" if cause.type else cause.message
    return str(cause or error)


@workflow.defn(name="ProcessOrderWorkflow")
class ProcessOrderWorkflow:
    """validate -> charge payment -> reserve inventory -> confirm by email.

    A compensation is registered before its step runs (they are idempotent and do nothing when
    their step did not happen, which covers a step that timed out after taking effect). On
    failure they run in reverse and the order ends `compensated`; a failure before any of them was
    registered (validation) leaves nothing to undo and the order ends `failed`.
    """

    def __init__(self) -> None:
        self._status: str = "pending"

    @workflow.query
    def status(self) -> str:
        return self._status

    @workflow.run
    async def run(self, order: ProcessOrderInput) -> ProcessOrderResult:
        step = OrderStep(order_id=order.order_id)
        compensations: list[Callable[[OrderStep], Any]] = []
        try:
            self._status = "validating"
            await self._step(validate_order, step)
            compensations.append(refund_payment)
            self._status = "charging"
            await self._step(charge_payment, step)
            compensations.append(release_inventory)
            self._status = "reserving"
            await self._step(reserve_inventory, step)
            self._status = "confirming"
            await self._step(send_order_confirmation, step, start_to_close=EMAIL_TIMEOUT)
        except ActivityError as error:
            reason = failure_reason(error)
            status: OrderStatus = "compensated" if compensations else "failed"
            self._status = "compensating"
            try:
                for compensation in reversed(compensations):
                    await workflow.execute_activity(
                        compensation,
                        step,
                        start_to_close_timeout=STEP_TIMEOUT,
                        retry_policy=COMPENSATION_RETRY,
                    )
            except ActivityError as undo_error:
                # Something is left undone: say so on the order, and fail the run for an operator.
                reason = f"{reason}; compensation failed: {failure_reason(undo_error)}"
                await self._finish(FinishOrder(order_id=order.order_id, status="failed", reason=reason))
                raise ApplicationError(reason, type="CompensationFailed", non_retryable=True) from undo_error
            await self._finish(FinishOrder(order_id=order.order_id, status=status, reason=reason))
            return ProcessOrderResult(order_id=order.order_id, status=status, reason=reason)
        await self._finish(FinishOrder(order_id=order.order_id, status="completed"))
        return ProcessOrderResult(order_id=order.order_id, status="completed")

    async def _step(
        self,
        activity_fn: Callable[[OrderStep], Any],
        step: OrderStep,
        *,
        start_to_close: timedelta = STEP_TIMEOUT,
    ) -> None:
        await workflow.execute_activity(
            activity_fn, step, start_to_close_timeout=start_to_close, retry_policy=STEP_RETRY
        )

    async def _finish(self, finish: FinishOrder) -> None:
        self._status = finish.status
        await workflow.execute_activity(
            finish_order, finish, start_to_close_timeout=STEP_TIMEOUT, retry_policy=COMPENSATION_RETRY
        )
