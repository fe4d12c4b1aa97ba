"""Temporal job runner: jobs are workflows, started here and executed by `internal.workers.main`.

Durable: a started workflow survives API and worker restarts; an activity whose worker dies is
retried on another one once its start-to-close timeout expires. The API owns one `Client`, connected
in the FastAPI lifespan (never at import time) and lazily, so the API starts, and `/ready` names
Temporal, while the server is down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RetryConfig, TLSConfig

from internal.config import Settings
from internal.jobs.contract import JobContract

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = timedelta(seconds=5)
READINESS_TIMEOUT = timedelta(seconds=2)
# How long a follow-up waits for a run of the same id that is about to close (see `start_workflow`).
CLOSING_RUN_WAIT_SECONDS = 10.0


def tls_config(settings: Settings) -> TLSConfig | bool:
    """TLS as TEMPORAL_TLS, TEMPORAL_TLS_CLIENT_CERT/KEY and TEMPORAL_API_KEY ask (False: plaintext).

    The server's certificate is checked against the system's roots; a client certificate and key
    turn it into mutual TLS; an API key (Temporal Cloud) always travels over TLS.
    """
    cert, key = settings.temporal_tls_client_cert, settings.temporal_tls_client_key
    if bool(cert) != bool(key):
        raise ValueError("TEMPORAL_TLS_CLIENT_CERT and TEMPORAL_TLS_CLIENT_KEY must be set together")
    if cert:
        return TLSConfig(client_cert=Path(cert).read_bytes(), client_private_key=Path(key).read_bytes())
    return settings.temporal_tls or bool(settings.temporal_api_key)


async def connect(settings: Settings, *, lazy: bool = False, identity: str | None = None) -> Client:
    """A client for `settings` with the pydantic data converter (job inputs are pydantic models)."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        tls=tls_config(settings),
        api_key=settings.temporal_api_key or None,
        data_converter=pydantic_data_converter,
        connect_timeout=CONNECT_TIMEOUT,
        # Bounded: a start that cannot reach the server fails within seconds, and the job lands
        # in the failed-jobs store instead of holding the HTTP request.
        retry_config=RetryConfig(max_elapsed_time_millis=5_000, max_retries=5),
        lazy=lazy,
        identity=identity,
    )


def task_queue(settings: Settings, queue: str = "default") -> str:
    """The task queue of a job's `queue`: the project's queue, or a queue named after it."""
    return settings.temporal_task_queue if queue == "default" else f"{settings.temporal_task_queue}.{queue}"


class JobRunner:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: Client | None = None
        self._follow_ups: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Create the client. Lazy: it connects on first use, and reconnects after an outage."""
        self._client = await connect(self.settings, lazy=True)

    async def close(self) -> None:
        """Started workflows live on the Temporal server; only pending follow-ups are awaited."""
        await self.drain()
        self._client = None

    async def drain(self) -> None:
        """Wait for the follow-ups of refused starts (each waits at most CLOSING_RUN_WAIT_SECONDS)."""
        while self._follow_ups:
            await asyncio.gather(*self._follow_ups, return_exceptions=True)

    @property
    def client(self) -> Client:
        if self._client is None:
            raise RuntimeError("JobRunner.start() was not called (the FastAPI lifespan calls it)")
        return self._client

    def readiness_checks(self) -> dict[str, Callable[[], Awaitable[None]]]:
        return {"temporal": self._check_namespace}

    async def _check_namespace(self) -> None:
        """The frontend answers and the namespace exists."""
        await self.client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=self.settings.temporal_namespace),
            retry=False,
            timeout=READINESS_TIMEOUT,
        )

    async def start_workflow(
        self, run: Callable[[Any, Any], Awaitable[Any]], arg: Any, *, workflow_id: str, queue: str = "default"
    ) -> WorkflowHandle[Any, Any] | None:
        """Start a workflow unless a run of `workflow_id` is in progress; None if one was.

        A start while a run of the same id is running is a no-op (Temporal refuses the id), so a
        job dispatched twice runs once. Once the run has closed, the id may start a new run: that
        is how a retry from the failed-jobs store runs the job again, and job activities are
        idempotent, so a late duplicate finds the work done. A retry can race with the failed
        run's last step (recording the failure), so a refused start leaves a follow-up task that
        waits briefly for that run to close and starts anew if it failed. The caller (an HTTP
        request) never waits for it; `close()` does.
        """
        try:
            return await self._start(run, arg, workflow_id=workflow_id, queue=queue)
        except WorkflowAlreadyStartedError:
            task = asyncio.create_task(
                self._start_if_it_fails(run, arg, workflow_id=workflow_id, queue=queue)
            )
            self._follow_ups.add(task)
            task.add_done_callback(self._follow_ups.discard)
            return None

    async def _start(
        self, run: Callable[[Any, Any], Awaitable[Any]], arg: Any, *, workflow_id: str, queue: str
    ) -> WorkflowHandle[Any, Any]:
        return await self.client.start_workflow(
            run,
            arg,
            id=workflow_id,
            task_queue=task_queue(self.settings, queue),
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        )

    async def _start_if_it_fails(
        self, run: Callable[[Any, Any], Awaitable[Any]], arg: Any, *, workflow_id: str, queue: str
    ) -> None:
        """Follow-up of a refused start: start a new run if the running one fails within a short wait."""
        try:
            if not await self._closes_failed(workflow_id):
                log.info("workflow already started, nothing to do", extra={"workflow_id": workflow_id})
                return
            await self._start(run, arg, workflow_id=workflow_id, queue=queue)
        except WorkflowAlreadyStartedError:
            log.info("workflow already started again, nothing to do", extra={"workflow_id": workflow_id})
        except Exception:
            log.exception(
                "could not start the workflow after its failed run", extra={"workflow_id": workflow_id}
            )

    async def _closes_failed(self, workflow_id: str) -> bool:
        """Whether the current run of `workflow_id` fails within a short wait."""
        handle = self.client.get_workflow_handle(workflow_id)
        try:
            await asyncio.wait_for(handle.result(follow_runs=False), timeout=CLOSING_RUN_WAIT_SECONDS)
        except WorkflowFailureError:
            return True
        except TimeoutError:
            return False
        return False

    async def start_job(
        self, contract: JobContract[Any], run: Callable[[Any, Any], Awaitable[Any]], arg: Any, *, key: str
    ) -> None:
        """Start a job's workflow, with an id made of the job name and a business key."""
        await self.start_workflow(
            run, arg, workflow_id=f"{contract.name.replace('_', '-')}-{key}", queue=contract.queue
        )
