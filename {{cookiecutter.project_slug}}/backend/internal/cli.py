"""The `lich` command of this project (`uv run lich --help`).

Operational commands, here and in the container image (`docker compose exec api lich ...`):

    lich jobs failed [--limit N]                   the failed-jobs store, newest first
    lich jobs retry <id>                           run a failed job again
    lich jobs schedules                            periodic jobs, their schedule and next run
    lich users create-admin <email>                create an admin (or promote a user); password prompted

Developer commands, in a source checkout only (the `lich_dev` package beside `internal/`, which the
image leaves out; this module hands them over, arguments and all, and imports nothing else of it):

    lich make job <Name> [--type TYPE | --queue RUNNER] [--schedule CRON] [--force]
                                                   scaffold a job (and its test) for this project's runner
    lich dev [--port N] [--host HOST]              migrations, then the whole stack natively
    lich mail                                      the emails `lich dev`'s mail sink caught

Works from anywhere inside the project. Errors are one line on stderr and a non-zero exit code (2 for
a wrong command line, or a developer command where there is no source checkout); nothing is written
when a command is refused.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import os
import sys
from collections.abc import Callable, Sequence

from internal import PROJECT_NAME
from internal.lich.errors import LichError, Parser, UsageError
from internal.lich.project import in_backend_if_any, load_settings

# The developer commands and their one-line help; `lich_dev.commands` parses the rest of their line.
DEVELOPER_COMMANDS = {
    "make": "scaffold code: `lich make job <Name>` (developer command)",
    "dev": "migrations, then the whole stack natively; Ctrl-C stops it (developer command)",
    "mail": "list the emails that the mail sink of `lich dev` caught (developer command)",
}
DEVELOPER_PACKAGE = "lich_dev"


class OneLineFormatter(logging.Formatter):
    """Log lines without tracebacks: the CLI reports failures itself, in one line."""

    def format(self, record: logging.LogRecord) -> str:
        text = f"{record.levelname.lower()}: {record.name}: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            text += f" ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
        return text


def build_parser() -> argparse.ArgumentParser:
    """The operational commands; the developer ones are listed here and parsed by `lich_dev`."""
    parser = Parser(
        prog="lich",
        description=f"{PROJECT_NAME}: operational commands (in the container image too) and developer "
        "commands (in a source checkout).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    jobs = commands.add_parser("jobs", help="the failed-jobs store and the periodic jobs")
    jobs_what = jobs.add_subparsers(dest="what", metavar="WHAT", required=True, parser_class=Parser)
    failed = jobs_what.add_parser("failed", help="list jobs that ran out of tries, newest first")
    failed.add_argument("--limit", type=int, default=100, help="show at most this many (default 100)")
    retry = jobs_what.add_parser("retry", help="run a failed job again with its stored arguments")
    retry.add_argument("id", type=int, help="the failed job's id (see `lich jobs failed`)")
    jobs_what.add_parser("schedules", help="periodic jobs: their schedule and next run time (UTC)")

    users = commands.add_parser("users", help="user accounts")
    users_what = users.add_subparsers(dest="what", metavar="WHAT", required=True, parser_class=Parser)
    admin = users_what.add_parser(
        "create-admin",
        help="create an admin, or promote an existing user, and set their password",
        description="The password is prompted twice, or read from stdin when it is not a terminal.",
    )
    admin.add_argument("email", help="the admin's email (an existing user is promoted)")

    for name, help_text in DEVELOPER_COMMANDS.items():
        commands.add_parser(name, help=help_text, add_help=False)
    return parser


def developer_command(name: str, argv: Sequence[str]) -> int:
    """Hand a developer command to `lich_dev`, or refuse it in one line where that package is not
    installed (the container image): it needs the source tree, its dev dependencies and a terminal."""
    try:
        from lich_dev.commands import run
    except ModuleNotFoundError as exc:
        if exc.name != DEVELOPER_PACKAGE:
            raise
        raise UsageError(
            f"`lich {name}` is a developer command: run it in a source checkout (`uv run lich {name}` in "
            f"backend/); this installation has no {DEVELOPER_PACKAGE} package, as in the container image"
        ) from None
    return run(name, argv)


def jobs_failed(args: argparse.Namespace) -> int:
    from internal.lich import failed

    in_backend_if_any()
    settings = load_settings()
    entries = asyncio.run(failed.list_entries(settings, limit=max(1, args.limit)))
    print(failed.format_table(entries) if entries else "No failed jobs.")
    return 0


def jobs_retry(args: argparse.Namespace) -> int:
    from internal.lich import failed

    in_backend_if_any()
    settings = load_settings()
    print(f"✅ Retried {asyncio.run(failed.retry(settings, args.id))}")
    return 0


def jobs_schedules(args: argparse.Namespace) -> int:
    from internal.db.base import utcnow
    from internal.jobs.registry import periodic_contracts
    from internal.lich import handover, schedules

    in_backend_if_any()
    load_settings()
    rows = schedules.table(periodic_contracts(), utcnow())
    print(schedules.format_table(rows) if rows else "No periodic jobs.")
    print(handover.SCHEDULER)
    return 0


def users_create_admin(args: argparse.Namespace) -> int:
    from internal.lich import users

    in_backend_if_any()
    settings = load_settings()
    email = users.valid_email(args.email)
    password = users.read_password(sys.stdin)
    created = asyncio.run(users.create_admin(settings, email, password))
    print(f"✅ Admin {email} {'created' if created else 'promoted (password set)'}")
    return 0


OPERATIONAL_COMMANDS: dict[tuple[str, str], Callable[[argparse.Namespace], int]] = {
    ("jobs", "failed"): jobs_failed,
    ("jobs", "retry"): jobs_retry,
    ("jobs", "schedules"): jobs_schedules,
    ("users", "create-admin"): users_create_admin,
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command: Callable[[], int]
    if argv and argv[0] in DEVELOPER_COMMANDS:
        command = functools.partial(developer_command, argv[0], argv[1:])
    else:
        parser = build_parser()
        args = parser.parse_args(argv)
        operational = OPERATIONAL_COMMANDS.get((args.command, getattr(args, "what", "")))
        if operational is None:
            parser.print_help()
            return 0
        command = functools.partial(operational, args)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter())
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    try:
        return command()
    except LichError as exc:
        print(f"lich: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("LICH_DEBUG"):
            raise
        reason = (str(exc).splitlines() or [""])[0]
        print(f"lich: {type(exc).__name__}: {reason} (LICH_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
