"""ProcessOrder: start the order saga (`internal.workers.workflows.ProcessOrderWorkflow`).

Dispatched through the outbox in the transaction that creates the order, so an order the API
accepted (202) always gets its saga, once Temporal is reachable; nobody retries anything by hand.
The workflow id is the order's (`process-order-<id>`): an intent handed over twice starts one run,
and the saga's steps are idempotent. The saga has its own retry policies and ends every order
`completed`, `compensated` or `failed`; this contract only names the job and its input.
"""

from __future__ import annotations

from internal.jobs.contract import JobContract
from internal.jobs.runner import JobRunner
from internal.services.orders import workflow_id
from internal.workers.workflows import ProcessOrderInput, ProcessOrderWorkflow

CONTRACT = JobContract(name="process_order", input_model=ProcessOrderInput, max_tries=1, queue="default")


async def dispatch(runner: JobRunner, payload: ProcessOrderInput) -> None:
    await runner.start_workflow(ProcessOrderWorkflow.run, payload, workflow_id=workflow_id(payload.order_id))
