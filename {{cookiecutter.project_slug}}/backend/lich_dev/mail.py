"""The mail sink of `lich dev`, and `lich mail`, which lists what it caught.

Native development has no mail server: the sink is a local SMTP server (aiosmtpd, a development
dependency) on SMTP_HOST:SMTP_PORT. It accepts every message, prints one line per message (to,
subject) and keeps it as an `.eml` file in `.mail/` at the project root (git-ignored), so the
first sign-up's welcome email arrives without Docker or an account anywhere.

    python -m lich_dev.mail --host 127.0.0.1 --port 1025 --folder ../.mail
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from internal.config import Settings
from internal.lich.project import Project
from lich_dev.dev import Process, port_is_open, python_module

MAIL_FOLDER = ".mail"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class Caught:
    """A message the sink kept."""

    path: Path
    received: str
    to: str
    subject: str


class SaveToFolder:
    """aiosmtpd handler: every message becomes `<time>-<n>.eml` in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802  (aiosmtpd's hook name)
        self.count += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{self.count:04d}.eml"
        content: bytes = envelope.original_content or envelope.content
        path.write_bytes(content)
        subject = message_from_bytes(content, policy=policy.default).get("Subject", "")
        print(f"mail to {', '.join(envelope.rcpt_tos)}: {subject} ({path.name})", flush=True)
        return "250 Message accepted for delivery"


async def serve(host: str, port: int, folder: Path) -> None:
    """Accept mail on host:port until SIGINT or SIGTERM."""
    from aiosmtpd.smtp import SMTP

    handler = SaveToFolder(folder)
    loop = asyncio.get_running_loop()
    # Before the port opens: whoever sees it open may stop the sink at once.
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    server = await loop.create_server(lambda: SMTP(handler, hostname="lich-dev"), host, port)
    print(f"mail sink on {host}:{port}, messages kept in {folder}", flush=True)
    async with server:
        await stop.wait()


def is_local(host: str) -> bool:
    return host in LOCAL_HOSTS


def caught(folder: Path) -> list[Caught]:
    """Messages in `folder`, oldest first."""
    found = []
    for path in sorted(folder.glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        found.append(
            Caught(
                path=path,
                received=time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(path.stat().st_mtime)),
                to=str(message.get("To", "")),
                subject=str(message.get("Subject", "")),
            )
        )
    return found


def format_table(messages: list[Caught]) -> str:
    rows = [("received", "to", "subject", "file")] + [
        (m.received, m.to, m.subject, m.path.name) for m in messages
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)), row[3]])
        for row in rows
    )


def sink_processes(project: Project, settings: Settings) -> list[Process]:
    """The sink for `lich dev`, when mail goes to this machine and nothing listens there yet."""
    if not is_local(settings.smtp_host) or port_is_open(settings.smtp_port):
        return []
    return [
        python_module(
            "mail",
            "lich_dev.mail",
            *("--host", "127.0.0.1", "--port", str(settings.smtp_port)),
            *("--folder", str(project.root / MAIL_FOLDER)),
            ready_port=settings.smtp_port,
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description="A local SMTP server that keeps every message.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--folder", type=Path, default=Path(MAIL_FOLDER))
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port, args.folder))


if __name__ == "__main__":
    main()
