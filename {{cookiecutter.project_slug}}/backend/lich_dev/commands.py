"""The arguments and the work of the developer commands, which `internal.cli` hands over:
`lich make job`, `lich dev` and `lich mail`."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from internal.lich.errors import Parser, UsageError
from internal.lich.project import find_project, in_backend, load_settings
from lich_dev import dev as devserver
from lich_dev import mail, scaffold, stack
from lich_dev.make_job import make_job as write_job

Handler = Callable[[argparse.Namespace], int]


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


def list_mail(args: argparse.Namespace) -> int:
    messages = mail.caught(find_project().root / mail.MAIL_FOLDER)
    print(
        mail.format_table(messages)
        if messages
        else f"No mail caught yet (`lich dev` keeps it in {mail.MAIL_FOLDER}/)."
    )
    return 0


def make_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="lich make", description="Scaffold code.")
    what = parser.add_subparsers(dest="what", metavar="WHAT", required=True, parser_class=Parser)
    job = what.add_parser(
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
    job.set_defaults(handler=make_job)
    return parser


def dev_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="lich dev", description="Migrations, then the whole stack natively (Ctrl-C stops it)."
    )
    parser.add_argument("--port", type=int, default=8000, help="the API's port (default 8000)")
    parser.add_argument("--host", default="127.0.0.1", help="the API's address (default 127.0.0.1)")
    parser.set_defaults(handler=dev)
    return parser


def mail_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="lich mail", description="List the emails that the mail sink of `lich dev` caught.")
    parser.set_defaults(handler=list_mail)
    return parser


PARSERS: dict[str, Callable[[], argparse.ArgumentParser]] = {
    "make": make_parser,
    "dev": dev_parser,
    "mail": mail_parser,
}


def run(command: str, argv: Sequence[str]) -> int:
    """Parse the rest of the command line of developer command `command` and run it."""
    args = PARSERS[command]().parse_args(argv)
    handler: Handler = args.handler
    return handler(args)
