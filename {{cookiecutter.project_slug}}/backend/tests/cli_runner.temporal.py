"""What the `lich` tests need to know about this project's runner (see tests/test_cli.py)."""

from __future__ import annotations

from internal.workers.main import discover
from tests.processes import environ_for_a_nested_session


def nested_session_env() -> dict[str, str]:
    """Environment of a test session started from within this one: it shares this run's dev server
    (TEST_TEMPORAL_ADDRESS), in a namespace of its own."""
    # Imported here: the nested session imports this module before pytest loads its plugins.
    from tests.runner_session import NAMESPACE, session_namespace

    return {**environ_for_a_nested_session(), NAMESPACE: f"{session_namespace()}-nested"}


def native_job_names() -> list[str]:
    """Workflows and activities the worker registers at startup (found in internal.jobs)."""
    workflows, activities = discover()
    names = [getattr(cls, "__temporal_workflow_definition").name for cls in workflows]
    names += [getattr(fn, "__temporal_activity_definition").name for fn in activities]
    return sorted(names)


def expected_native_names(snake: str, pascal: str) -> set[str]:
    """The names a new job is registered under: its workflow and its activity."""
    return {f"{pascal}Workflow", snake}
