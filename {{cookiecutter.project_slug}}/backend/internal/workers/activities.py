"""Activities shared by the workflows: recording a failed job, and the ProcessOrder saga's steps.

Activities are plain blocking functions (sync SQLAlchemy, smtplib): the worker runs them on a
thread pool. Each takes one input model, is idempotent (Temporal runs an activity at least once),
and reports permanent errors as non-retryable failures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from internal.config import get_settings
from internal.jobs.contract import PermanentJobError
from internal.models.orders import OrderStatus
from internal.services import failed_jobs, orders

T = TypeVar("T")


def as_failure(exc: Exception) -> ApplicationError:
    """A Temporal failure for `exc`: typed by class name, with the attempt number as detail."""
    return ApplicationError(
        str(exc) or repr(exc),
        {"attempt": activity.info().attempt},
        type=type(exc).__name__,
        non_retryable=isinstance(exc, PermanentJobError),
    )


def run_step(step: Callable[..., T], *args: Any) -> T:
    try:
        return step(get_settings(), *args)
    except Exception as exc:
        raise as_failure(exc) from exc


# --- failed-jobs store -----------------------------------------------------------------------------


class FailedJobInput(BaseModel):
    job_name: str = ""
    arguments: dict[str, Any] = {}
    exception: str = ""
    attempts: int = 0


class FailedJobRecorded(BaseModel):
    failed_job_id: int = 0


@activity.defn(name="record_failed_job")
def record_failed_job(entry: FailedJobInput) -> FailedJobRecorded:
    """Keep a job that failed for good in the failed-jobs store (listed and retried over HTTP)."""
    failed_job_id = failed_jobs.record_failed_job(
        get_settings(),
        job_name=entry.job_name,
        arguments=entry.arguments,
        exception=entry.exception,
        attempts=entry.attempts,
    )
    return FailedJobRecorded(failed_job_id=failed_job_id)


# --- ProcessOrder saga -----------------------------------------------------------------------------


class OrderStep(BaseModel):
    order_id: int = 0


class StepOutcome(BaseModel):
    """Whether the step changed anything (False: it had already been done, or there was nothing to undo)."""

    changed: bool = False


class FinishOrder(BaseModel):
    order_id: int = 0
    status: OrderStatus = "completed"
    reason: str | None = None


@activity.defn(name="validate_order")
def validate_order(step: OrderStep) -> None:
    run_step(orders.validate_order, step.order_id)


@activity.defn(name="charge_payment")
def charge_payment(step: OrderStep) -> None:
    run_step(orders.charge_payment, step.order_id)


@activity.defn(name="refund_payment")
def refund_payment(step: OrderStep) -> StepOutcome:
    return StepOutcome(changed=run_step(orders.refund_payment, step.order_id))


@activity.defn(name="reserve_inventory")
def reserve_inventory(step: OrderStep) -> None:
    run_step(orders.reserve_inventory, step.order_id)


@activity.defn(name="release_inventory")
def release_inventory(step: OrderStep) -> StepOutcome:
    return StepOutcome(changed=run_step(orders.release_inventory, step.order_id))


@activity.defn(name="send_order_confirmation")
def send_order_confirmation(step: OrderStep) -> StepOutcome:
    return StepOutcome(changed=run_step(orders.send_order_confirmation, step.order_id))


@activity.defn(name="finish_order")
def finish_order(finish: FinishOrder) -> None:
    run_step(orders.finish_order, finish.order_id, finish.status, finish.reason)
