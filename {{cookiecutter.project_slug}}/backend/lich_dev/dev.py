"""`lich dev`: run the whole stack natively in one terminal, with prefixed, coloured logs.

Migrations run first; then the processes of this project's runner (`lich_dev.stack`) start in
order, each waiting for the previous one's port when it has one. Every child runs in its own process
group, so a Ctrl-C reaches `lich` alone, which stops the children in reverse order: SIGINT (what a
terminal sends), then SIGKILL for whatever is still running after a grace period. A child that exits
on its own is reported and stops the rest, with a non-zero exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from internal.lich.errors import LichError

STOP_GRACE_SECONDS = 8.0
PORT_WAIT_SECONDS = 60.0
LINE_LIMIT = 1 << 20
COLOURS = ("36", "35", "33", "32", "34", "91", "96", "95")


@dataclass(frozen=True)
class Process:
    name: str
    argv: Sequence[str]
    shown: str  # the command as one would type it, printed when the process starts
    env: Mapping[str, str] = field(default_factory=dict)
    ready_port: int | None = None  # the next process starts once this port accepts connections


def python_module(
    name: str, module: str, *args: str, script: bool = False, ready_port: int | None = None
) -> Process:
    """A process running a module of this project's environment (`python -m <module> ...`), shown
    as its console script when it is a tool's (`script=True`: `uvicorn ...`, not `python -m ...`)."""
    command = module if script else f"python -m {module}"
    return Process(
        name=name,
        argv=[sys.executable, "-m", module, *args],
        shown=" ".join([command, *args]),
        ready_port=ready_port,
    )


def api_process(host: str, port: int) -> Process:
    """The API with reload, the same in every variant (the compose command, plus `--reload`)."""
    return python_module(
        "api",
        "uvicorn",
        *("internal.main:app", "--reload", "--host", host, "--port", str(port)),
        script=True,
        ready_port=port,
    )


def port_is_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def require_free_port(port: int, what: str, hint: str) -> None:
    if port_is_open(port):
        raise LichError(f"port {port} ({what}) is already in use; {hint}")


class Printer:
    """Writes each child's lines with its name as a prefix, coloured when the output is a terminal."""

    def __init__(self, names: Sequence[str], out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.width = max(len(name) for name in [*names, "lich"])
        colour = os.environ.get("FORCE_COLOR") or (self.out.isatty() and not os.environ.get("NO_COLOR"))
        self.colours = {name: COLOURS[i % len(COLOURS)] for i, name in enumerate(names)} if colour else {}
        self.bold = bool(colour)

    def line(self, name: str, text: str) -> None:
        prefix = f"{name:<{self.width}} |"
        if name in self.colours:
            prefix = f"\x1b[{self.colours[name]}m{prefix}\x1b[0m"
        elif name == "lich" and self.bold:
            prefix = f"\x1b[1m{prefix}\x1b[0m"
        self.out.write(f"{prefix} {text}\n")
        self.out.flush()

    def say(self, text: str) -> None:
        self.line("lich", text)


class Child:
    def __init__(self, process: Process, proc: asyncio.subprocess.Process, printer: Printer) -> None:
        self.process = process
        self.proc = proc
        self.stopping = False
        self.reader = asyncio.create_task(self._pump(printer))

    @classmethod
    async def start(cls, process: Process, cwd: Path, printer: Printer) -> Child:
        printer.line(process.name, f"$ {process.shown}")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **process.env}
        proc = await asyncio.create_subprocess_exec(
            *process.argv,
            cwd=cwd,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            limit=LINE_LIMIT,
        )
        return cls(process, proc, printer)

    async def _pump(self, printer: Printer) -> None:
        assert self.proc.stdout is not None
        while True:
            try:
                raw = await self.proc.stdout.readline()
            except (ValueError, asyncio.LimitOverrunError):
                raw = await self.proc.stdout.read(LINE_LIMIT)
            if not raw:
                return
            printer.line(self.process.name, raw.decode("utf-8", "replace").rstrip("\r\n"))

    def signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signum)

    async def wait(self) -> int:
        code = await self.proc.wait()
        await self.reader
        return code


class Supervisor:
    def __init__(self, cwd: Path, printer: Printer) -> None:
        self.cwd = cwd
        self.printer = printer
        self.children: list[Child] = []
        self.interrupted = asyncio.Event()
        self._interrupts = 0

    def interrupt(self) -> None:
        self._interrupts += 1
        if self._interrupts == 1:
            self.printer.say("stopping (Ctrl-C again to kill at once)")
            self.interrupted.set()
        else:
            for child in self.children:
                child.signal_group(signal.SIGKILL)

    async def _first(self, *waits: asyncio.Future[object] | asyncio.Task[object]) -> None:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)

    async def run_once(self, step: Process) -> int | None:
        """Run a one-shot step to completion; None when interrupted."""
        child = await Child.start(step, self.cwd, self.printer)
        self.children.append(child)
        done = asyncio.ensure_future(child.wait())
        interrupted = asyncio.ensure_future(self.interrupted.wait())
        await self._first(done, interrupted)
        interrupted.cancel()
        if not done.done():
            await self.stop()
            return None
        self.children.remove(child)
        return done.result()

    async def _wait_for_port(self, child: Child, port: int) -> bool:
        deadline = time.monotonic() + PORT_WAIT_SECONDS
        while not port_is_open(port):
            if child.proc.returncode is not None or self.interrupted.is_set():
                return False
            if time.monotonic() > deadline:
                raise LichError(
                    f"{child.process.name} did not open port {port} within {PORT_WAIT_SECONDS:g}s"
                )
            await asyncio.sleep(0.2)
        return True

    async def run_services(self, services: Sequence[Process], banner: Sequence[str]) -> int:
        for service in services:
            if self.interrupted.is_set():
                break
            child = await Child.start(service, self.cwd, self.printer)
            self.children.append(child)
            if service.ready_port is not None:
                try:
                    await self._wait_for_port(child, service.ready_port)
                except LichError as exc:
                    self.printer.say(exc.message)
                    await self.stop()
                    return 1
            if child.proc.returncode is not None:
                break
        if not self.interrupted.is_set() and all(c.proc.returncode is None for c in self.children):
            for text in banner:
                self.printer.say(text)
        exits = {asyncio.ensure_future(child.proc.wait()): child for child in self.children}
        interrupted = asyncio.ensure_future(self.interrupted.wait())
        await self._first(interrupted, *exits)
        interrupted.cancel()
        failed = [child for future, child in exits.items() if future.done()]
        for child in failed:
            self.printer.say(
                f"{child.process.name} exited with code {child.proc.returncode}; stopping the others"
            )
        await self.stop()
        return 1 if failed else 0

    async def stop(self) -> None:
        """SIGINT every running child (newest first), SIGKILL what outlives the grace period."""
        running = [child for child in reversed(self.children) if child.proc.returncode is None]
        for child in running:
            child.stopping = True
            child.signal_group(signal.SIGINT)
        waits = [asyncio.ensure_future(child.wait()) for child in running]
        if waits:
            _, pending = await asyncio.wait(waits, timeout=STOP_GRACE_SECONDS)
            if pending:
                for child in running:
                    if child.proc.returncode is None:
                        self.printer.say(
                            f"{child.process.name} did not stop in {STOP_GRACE_SECONDS:g}s; killing it"
                        )
                        child.signal_group(signal.SIGKILL)
                await asyncio.wait(pending)
        for child in self.children:
            # A stopped leader may leave helpers behind in its group (a reloader's server process).
            child.signal_group(signal.SIGKILL)
            await child.reader
        self.children.clear()


async def _run(
    cwd: Path, steps: Sequence[Process], services: Sequence[Process], banner: Sequence[str]
) -> int:
    printer = Printer([p.name for p in [*steps, *services]])
    supervisor = Supervisor(cwd, printer)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, supervisor.interrupt)
    started = time.monotonic()
    try:
        for step in steps:
            code = await supervisor.run_once(step)
            if code is None:
                return 0
            if code != 0:
                printer.say(f"{step.name} failed with exit code {code}; nothing else was started")
                return 1
        code = await supervisor.run_services(services, banner)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    printer.say(f"stopped after {time.monotonic() - started:.1f}s")
    return code


def run(cwd: Path, steps: Sequence[Process], services: Sequence[Process], banner: Sequence[str]) -> int:
    """Run `steps` one after the other, then `services` together until Ctrl-C or one of them exits."""
    return asyncio.run(_run(cwd, steps, services, banner))
