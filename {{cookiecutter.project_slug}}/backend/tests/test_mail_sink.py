"""The mail sink that `lich dev` starts: a real SMTP server in its own process that keeps every
message as an .eml file, and the listing behind `lich mail`."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from internal.config import Settings
from internal.lich.project import Project
from internal.services.mailer import send_mail
from lich_dev import mail
from lich_dev.dev import port_is_open
from tests.processes import free_port


@pytest.fixture(scope="module")
def sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """One sink process for the module (a process costs a second or more of CPU to start)."""
    port, folder = free_port(), tmp_path_factory.mktemp("sink") / ".mail"
    process = subprocess.Popen(  # noqa: S603  (this interpreter, fixed arguments)
        [sys.executable, "-m", "lich_dev.mail", "--port", str(port), "--folder", str(folder)],
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while not port_is_open(port):
        assert process.poll() is None, "the sink exited"
        assert time.monotonic() < deadline, "the sink did not open its port"
        time.sleep(0.05)
    yield port, folder
    process.terminate()
    assert process.wait(timeout=10) == 0


def welcome(to: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "noreply@example.com", to, "Welcome"
    message.set_content("Hello")
    return message


def test_sink_keeps_every_message_as_an_eml_file(settings: Settings, sink: tuple[int, Path]) -> None:
    port, folder = sink
    local = settings.model_copy(update={"smtp_host": "localhost", "smtp_port": port})
    send_mail(local, welcome("ada@example.com"))
    send_mail(local, welcome("bob@example.com"))
    caught = mail.caught(folder)
    assert [(m.to, m.subject) for m in caught] == [
        ("ada@example.com", "Welcome"),
        ("bob@example.com", "Welcome"),
    ]
    table = mail.format_table(caught)
    assert "bob@example.com" in table
    assert caught[0].path.name in table


def test_dev_starts_a_sink_only_where_nothing_listens(
    settings: Settings, sink: tuple[int, Path], tmp_path: Path
) -> None:
    project = Project(root=tmp_path, task_runner="any")
    busy = settings.model_copy(update={"smtp_host": "localhost", "smtp_port": sink[0]})
    free = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": free_port()})
    remote = settings.model_copy(update={"smtp_host": "smtp.example.com", "smtp_port": free_port()})
    assert mail.sink_processes(project, busy) == []
    assert mail.sink_processes(project, remote) == []
    [process] = mail.sink_processes(project, free)
    assert process.ready_port == free.smtp_port
    assert str(tmp_path / ".mail") in process.argv
