"""The `lich` command of this project (`uv run lich --help`).

    lich make job <Name> [--type TYPE | --queue RUNNER] [--schedule CRON] [--force]
                                                   scaffold a job (and its test) for this project's runner
    lich dev [--port N] [--host HOST]              migrations, then the whole stack natively
    lich jobs failed [--limit N]                   the failed-jobs store, newest first
    lich jobs retry <id>                           run a failed job again
    lich jobs schedules                            periodic jobs, their schedule and next run
    lich users create-admin <email>                create an admin (or promote a user); password prompted
    lich mail                                      the emails `lich dev`'s mail sink caught

Works from anywhere inside the project. Errors are one line on stderr and a non-zero exit code (2 for
a wrong command line); nothing is written when a command is refused.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from typing import NoReturn

from pydantic import ValidationError

from internal import PROJECT_NAME
from internal.config import Settings
from internal.lich import scaffold
from internal.lich.errors import LichError, UsageError
from internal.lich.project import Project, find_project


class Parser(argparse.ArgumentParser):
    """Usage errors as one line: what is wrong, and where to read more."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


class OneLineFormatter(logging.Formatter):
    """Log lines without tracebacks: the CLI reports failures itself, in one line."""

    def format(self, record: logging.LogRecord) -> str:
        text = f"{record.levelname.lower()}: {record.name}: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            text += f" ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
        return text


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="lich", description=f"{PROJECT_NAME} developer commands.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    make = commands.add_parser("make", help="scaffold code")
    make_what = make.add_subparsers(dest="what", metavar="WHAT", required=True, parser_class=Parser)
    job = make_what.add_parser(
        "job",
        help="a job module and its test (the worker picks it up, no other edit)",
        description=f"Write backend/internal/jobs/<name>.py and its test: {scaffold.KIND}.",
    )
    job.add_argument("name", help="SendWelcomeEmail, send_welcome_email and SendWelcomeEmailJob alike")
    job.add_argument(
        "--type",
        dest="job_type",
        metavar="TYPE",
        help=f"the job's runner; this project supports {scaffold.RUNNER!r} only (the default)",
    )
    job.add_argument(
        "--queue",
        dest="job_queue",
        metavar="RUNNER",
        help=f"the same as --type, as the Lich docs spell it (--queue {scaffold.RUNNER}); a job's own "
        "queue is the `queue` field of its CONTRACT",
    )
    job.add_argument(
        "--schedule",
        metavar="CRON",
        help="make it periodic: a cron expression in UTC, e.g. '0 8 * * *' (every day at 08:00)",
    )
    job.add_argument("--force", action="store_true", help="overwrite an existing job and its test")

    dev = commands.add_parser("dev", help="migrations, then the whole stack natively (Ctrl-C stops it)")
    dev.add_argument("--port", type=int, default=8000, help="the API's port (default 8000)")
    dev.add_argument("--host", default="127.0.0.1", help="the API's address (default 127.0.0.1)")

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
    commands.add_parser("mail", help="list the emails that the mail sink of `lich dev` caught")
    return parser


def in_backend(project: Project) -> None:
    """Run from backend/, as `make dev` does, so relative settings (the SQLite file) agree."""
    os.chdir(project.backend)


def in_backend_if_any() -> None:
    """For the operational commands (`jobs ...`, `users ...`): in a source tree, run from backend/;
    inside the container image (the backend alone, no project to find) run where it is, with the
    settings from the environment, so `docker compose exec api lich jobs failed` works."""
    with contextlib.suppress(LichError):
        in_backend(find_project())


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]).upper() or "settings"
        raise LichError(f"invalid setting {where}: {first['msg']}") from exc


def job_type_of(args: argparse.Namespace) -> tuple[str | None, str]:
    """The runner asked for, and the option that asked: `--queue <runner>` is `--type`, as the Lich
    docs spell it; any other `--queue` value is refused (a job's own queue is its CONTRACT's)."""
    if args.job_queue is None:
        return args.job_type, "--type"
    if not scaffold.QUEUE_SPELLING or args.job_queue != scaffold.RUNNER:
        accepted = f"only --queue={scaffold.RUNNER}" if scaffold.QUEUE_SPELLING else "leave --queue out"
        raise UsageError(
            f"--queue={args.job_queue}: --queue names the task runner, like --type, and this project was "
            f"generated for {scaffold.RUNNER!r} ({accepted}); to put a job on a queue of its own, set "
            "`queue=` in its CONTRACT (backend/internal/jobs/<name>.py)"
        )
    if args.job_type is not None and args.job_type != args.job_queue:
        raise UsageError(f"--type={args.job_type} and --queue={args.job_queue} disagree; give one of them")
    return args.job_queue, "--queue"


def make_job(args: argparse.Namespace) -> int:
    from internal.lich.make_job import make_job as write_job

    job_type, option = job_type_of(args)
    project = find_project()
    name, files = write_job(
        project, args.name, job_type=job_type, force=args.force, schedule=args.schedule, type_option=option
    )
    print(f"✅ Job {name.pascal}Job created!")
    print("Files created:")
    for path in files:
        print(f"  {project.relative(path)}")
    return 0


def dev(args: argparse.Namespace) -> int:
    from internal.lich import dev as devserver
    from internal.lich import mail, stack

    if not 0 < args.port < 65536:
        raise UsageError(f"--port {args.port} is not a port number")
    project = find_project()
    in_backend(project)
    settings = load_settings()
    migrate = devserver.python_module("migrate", "internal.migrate")
    sink = mail.sink_processes(project, settings)
    services = [*sink, *stack.processes(project, settings, host=args.host, port=args.port)]
    banner = stack.banner(settings, host=args.host, port=args.port)
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    if sink:
        banner.insert(0, f"mail sink on {where}: every email is kept in {mail.MAIL_FOLDER}/ (`lich mail`)")
    else:
        banner.insert(0, f"mail goes to the SMTP server at {where}")
    return devserver.run(project.backend, [migrate], services, banner)


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
    from internal.lich import schedules, stack

    in_backend_if_any()
    load_settings()
    rows = schedules.table(periodic_contracts(), utcnow())
    print(schedules.format_table(rows) if rows else "No periodic jobs.")
    print(stack.SCHEDULER)
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


def list_mail(args: argparse.Namespace) -> int:
    from internal.lich import mail

    messages = mail.caught(find_project().root / mail.MAIL_FOLDER)
    print(
        mail.format_table(messages)
        if messages
        else f"No mail caught yet (`lich dev` keeps it in {mail.MAIL_FOLDER}/)."
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter())
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    commands = {
        ("make", "job"): make_job,
        ("dev", None): dev,
        ("jobs", "failed"): jobs_failed,
        ("jobs", "retry"): jobs_retry,
        ("jobs", "schedules"): jobs_schedules,
        ("users", "create-admin"): users_create_admin,
        ("mail", None): list_mail,
    }
    command = commands.get((args.command, getattr(args, "what", None)))
    if command is None:
        parser.print_help()
        return 0
    try:
        return command(args)
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
