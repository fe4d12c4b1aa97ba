"""What `lich dev` runs in this project.

Jobs run inside the API process, so the stack is the API alone (after the migrations).
"""

from __future__ import annotations

from internal.config import Settings
from internal.lich.project import Project
from lich_dev.dev import Process, api_process, require_free_port


def processes(project: Project, settings: Settings, *, host: str, port: int) -> list[Process]:
    """The long-running processes, in start order."""
    require_free_port(port, "the API", "pick another with --port")
    return [
        api_process(host, port),
    ]


def banner(settings: Settings, *, host: str, port: int) -> list[str]:
    return [
        f"API on http://{host}:{port} (docs: http://{host}:{port}/docs); jobs run in the API process",
        "Ctrl-C stops everything",
    ]
