"""Replay recorded histories against today's workflow code: a non-deterministic change fails here,
before it is deployed and breaks the workflows that are running.

After an intended, compatible change (or to add a history), record them again:
`UPDATE_HISTORIES=1 uv run pytest tests/temporal/test_replay.py`.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from internal.workers.main import discover
from tests.support import Mailbox, sign_up
from tests.temporal.helpers import started

HISTORIES = Path(__file__).parent / "histories"


def recorded() -> list[Path]:
    return sorted(HISTORIES.glob("*.json"))


@pytest.mark.parametrize("path", recorded(), ids=lambda p: p.stem)
async def test_recorded_history_replays_with_the_current_code(path: Path) -> None:
    workflows, _ = discover()
    history = WorkflowHistory.from_json(path.stem, await asyncio.to_thread(path.read_text))
    # The full sandbox, unlike the worker (internal.workers.main.workflow_runner): it re-imports
    # the workflow modules and refuses the clock, randomness and environment in workflow code.
    replayer = Replayer(workflows=workflows, data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)


def test_histories_are_recorded() -> None:
    assert {p.stem for p in recorded()} >= {
        "send_welcome_email",
        "process_order_completed",
        "process_order_compensated",
    }


async def test_fresh_runs_replay_and_are_recorded_on_request(
    client: httpx.AsyncClient, job_worker: Client, mailbox: Mailbox, admin_headers: dict[str, str]
) -> None:
    """Run each recorded scenario now and replay its history; UPDATE_HISTORIES=1 keeps them."""
    user = (await sign_up(client, "replay@example.com")).json()
    await client.put("/api/v1/inventory/book", json={"quantity": 3}, headers=admin_headers)
    order = {"sku": "book", "amount_cents": 1000, "email": "replay@example.com"}
    placed = [
        await client.post("/api/v1/orders", json={**order, "quantity": quantity}, headers=admin_headers)
        for quantity in (1, 9)
    ]
    completed, compensated = (response.json() for response in placed)
    runs = {
        "send_welcome_email": f"send-welcome-email-{user['id']}",
        "process_order_completed": completed["workflow_id"],
        "process_order_compensated": compensated["workflow_id"],
    }
    workflows, _ = discover()
    replayer = Replayer(workflows=workflows, data_converter=pydantic_data_converter)
    for name, workflow_id in runs.items():
        handle = await started(job_worker, workflow_id)
        await handle.result()
        history = await handle.fetch_history()
        await replayer.replay_workflow(history)
        if os.environ.get("UPDATE_HISTORIES"):
            text = json.dumps(anonymized(json.loads(history.to_json())), indent=1) + "\n"
            await asyncio.to_thread((HISTORIES / f"{name}.json").write_text, text)


# Machine details a history records: who started or ran it (pid@host), and file paths in traces.
SCRUBBED = {"identity": "tests", "stackTrace": ""}


def anonymized(node: Any) -> Any:
    """The history without machine details; replay does not depend on them."""
    if isinstance(node, dict):
        return {k: SCRUBBED[k] if k in SCRUBBED else anonymized(v) for k, v in node.items()}
    if isinstance(node, list):
        return [anonymized(v) for v in node]
    return node
