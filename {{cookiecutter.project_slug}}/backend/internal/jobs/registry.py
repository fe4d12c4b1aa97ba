"""Discover job modules, and dispatch a job by name (used by the failed-jobs retry)."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any, cast

import anyio.to_thread
from pydantic import BaseModel, ValidationError

from internal import jobs
from internal.errors import Conflict
from internal.jobs.contract import JobContract
from internal.jobs.runner import JobRunner
from internal.services.failed_jobs import record_failed_job

log = logging.getLogger(__name__)

Dispatch = Callable[[JobRunner, Any], Awaitable[None]]


class UnknownJob(Conflict):
    pass


@cache
def job_modules() -> dict[str, tuple[JobContract[Any], Dispatch]]:
    """Every module of `internal.jobs` that declares a CONTRACT, by job name."""
    found: dict[str, tuple[JobContract[Any], Dispatch]] = {}
    for info in pkgutil.iter_modules(jobs.__path__):
        module = importlib.import_module(f"{jobs.__name__}.{info.name}")
        contract = getattr(module, "CONTRACT", None)
        if isinstance(contract, JobContract):
            found[contract.name] = (contract, cast(Dispatch, module.dispatch))
    return found


def periodic_contracts() -> list[JobContract[Any]]:
    """Every job whose contract declares a `schedule`."""
    return [contract for contract, _ in job_modules().values() if contract.schedule is not None]


async def dispatch(runner: JobRunner, contract: JobContract[Any], payload: BaseModel) -> None:
    """Hand a job to the runner; if the runner cannot take it, keep it in the failed-jobs store.

    Called after the data the job needs is committed, so a dispatch failure must not lose the job:
    it lands in the store with 0 attempts and can be retried from there.
    """
    _, send = job_modules()[contract.name]
    try:
        await send(runner, payload)
    except Exception as exc:
        log.exception("job dispatch failed", extra={"job": contract.name})
        error = f"dispatch failed: {exc!r}"
        await anyio.to_thread.run_sync(
            lambda: record_failed_job(
                runner.settings,
                job_name=contract.name,
                arguments=payload.model_dump(mode="json"),
                exception=error,
                attempts=0,
            )
        )


def resolve(job_name: str, arguments: dict[str, Any]) -> tuple[JobContract[Any], BaseModel]:
    """The contract and validated payload of a stored job, or `UnknownJob` if it no longer fits."""
    if job_name not in job_modules():
        raise UnknownJob(f"job {job_name!r} no longer exists in this project")
    contract, _ = job_modules()[job_name]
    try:
        return contract, contract.input_model.model_validate(arguments)
    except ValidationError as exc:
        raise UnknownJob(f"stored arguments no longer fit job {job_name!r}: {exc}") from exc
