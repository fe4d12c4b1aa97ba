"""`lich make job`: write a job module and its test for this project's task runner.

The runner-specific text (what a job and its test look like) comes from `lich_dev.scaffold`;
this module turns the name the user typed into the job's names, refuses what cannot work, and
writes the files only once every check has passed.
"""

from __future__ import annotations

import ast
import keyword
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from string import Template

from internal.jobs.schedule import InvalidSchedule, check_cron
from internal.lich.errors import LichError, UsageError
from internal.lich.project import Project
from lich_dev import scaffold

NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
MAX_NAME_LENGTH = 50  # longer names no longer fit the project's line length in the generated code
# The last line of every job module this command writes. A job module without it is one the project
# ships (or one written by hand): --force replaces scaffolds, never those.
SCAFFOLD_MARKER = "# Scaffolded by `lich make job`: edit freely; `lich make job --force` replaces this file."

# `--schedule CRON` turns the scaffolded CONTRACT into a periodic one: these find where it is declared.
CONTRACT_IMPORT = re.compile(r"^(?P<indent>[ \t]*)from internal\.jobs\.contract import JobContract\n", re.M)
CONTRACT_END = '    queue="default",\n)\n'


@dataclass(frozen=True)
class JobName:
    pascal: str  # GenerateReport: <pascal>Job is the job, <pascal>Input its arguments
    snake: str  # generate_report: the module, the test and the job's registered name

    @property
    def words(self) -> str:
        return self.snake.replace("_", " ")


def _strip_job_suffix(name: str) -> str:
    while True:
        if name.endswith("_job") or name.endswith("_Job"):
            name = name[:-4]
        elif name.endswith("Job") and not name.endswith("_Job"):
            name = name[:-3]
        else:
            return name.rstrip("_")


def parse_job_name(raw: str) -> JobName:
    """`SendWelcomeEmail`, `send_welcome_email` and `SendWelcomeEmailJob` all name the same job."""
    if not raw:
        raise UsageError("the job name is empty; give one such as SendWelcomeEmail")
    if not NAME_PATTERN.fullmatch(raw):
        raise UsageError(
            f"{raw!r} is not a valid job name: use letters, digits and underscores, starting with a "
            "letter (e.g. SendWelcomeEmail or send_welcome_email)"
        )
    if len(raw) > MAX_NAME_LENGTH:
        raise UsageError(f"{raw!r} is longer than {MAX_NAME_LENGTH} characters; use a shorter job name")
    if keyword.iskeyword(raw):
        raise UsageError(f"{raw!r} is a Python keyword and cannot name a job")
    base = _strip_job_suffix(raw)
    if not base:
        raise UsageError(f"{raw!r} has nothing before the Job suffix; name what the job does")
    spaced = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", base)
    snake = re.sub(r"_+", "_", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", spaced)).lower()
    if "_" in base or base[0].islower():
        pascal = "".join(part[:1].upper() + part[1:] for part in snake.split("_"))
    else:
        pascal = base
    if keyword.iskeyword(snake):
        raise UsageError(f"{raw!r} would make a module named {snake!r}, a Python keyword")
    return JobName(pascal=pascal, snake=snake)


def render(text: str, name: JobName) -> str:
    return Template(text).substitute(Name=name.pascal, snake=name.snake, words=name.words)


def is_scaffold(path: Path) -> bool:
    try:
        return SCAFFOLD_MARKER in path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False


def _is_job_module(path: Path) -> bool:
    """Whether `path` declares a job (``CONTRACT = ...``): only such a file may be overwritten."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, SyntaxError):
        return False
    return any(
        isinstance(node, ast.Assign | ast.AnnAssign)
        and any(
            isinstance(target, ast.Name) and target.id == "CONTRACT"
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        )
        for node in tree.body
    )


def check_type(project: Project, job_type: str | None, option: str = "--type") -> None:
    """Only the runner this project was generated for can run jobs; its worker is the only one."""
    if project.task_runner != scaffold.RUNNER:
        raise LichError(
            f"backend/pyproject.toml says task_runner {project.task_runner!r}, but this project's code "
            f"was generated for {scaffold.RUNNER!r}; set [tool.lich] task_runner = {scaffold.RUNNER!r}"
        )
    if job_type is not None and job_type != scaffold.RUNNER:
        raise UsageError(
            f"{option}={job_type}: this project was generated for task_runner {scaffold.RUNNER!r}; only "
            f"{option}={scaffold.RUNNER} is available here (other runners' dependencies and worker are "
            "not installed)"
        )


def check_cron_option(expression: str) -> str:
    """The `--schedule` value normalised, or a usage error saying what is wrong (nothing written)."""
    try:
        return check_cron(expression)
    except InvalidSchedule as exc:
        raise UsageError(f"--schedule: {exc}") from exc


def add_schedule(module: str, cron: str) -> str:
    """The scaffolded job module `module`, its CONTRACT declaring `schedule=Schedule(cron=...)`."""
    if CONTRACT_END not in module or not CONTRACT_IMPORT.search(module):
        raise ValueError("the job scaffold no longer has the CONTRACT layout --schedule expects")
    module = CONTRACT_IMPORT.sub(
        lambda match: (
            match.group(0) + f"{match.group('indent')}from internal.jobs.schedule import Schedule\n"
        ),
        module,
        count=1,
    )
    declaration = (
        f'    queue="default",\n    schedule=Schedule(cron="{cron}"),  # UTC; see `lich jobs schedules`\n)\n'
    )
    return module.replace(CONTRACT_END, declaration, 1)


def planned_files(project: Project, name: JobName, cron: str | None = None) -> dict[Path, str]:
    backend = project.backend
    module, test = render(scaffold.JOB_MODULE, name), render(scaffold.JOB_TEST, name)
    if cron is not None:
        module, test = add_schedule(module, cron), test + render(scaffold.PERIODIC_TEST, name)
    files = {
        backend / "internal" / "jobs" / f"{name.snake}.py": module + f"\n\n{SCAFFOLD_MARKER}\n",
        backend / "tests" / "jobs" / f"test_{name.snake}.py": test,
    }
    package = backend / "tests" / "jobs" / "__init__.py"
    if not package.exists():
        files[package] = ""
    return files


def make_job(
    project: Project,
    raw_name: str,
    *,
    job_type: str | None,
    force: bool,
    schedule: str | None = None,
    type_option: str = "--type",
) -> tuple[JobName, list[Path]]:
    """Write the job (periodic with a cron `schedule`) and its test; return the job's names and the
    files written."""
    check_type(project, job_type, type_option)
    name = parse_job_name(raw_name)
    cron = check_cron_option(schedule) if schedule is not None else None
    files = planned_files(project, name, cron)
    module, test = list(files)[:2]
    if (module.parent / name.snake).exists():
        raise LichError(f"{project.relative(module.parent / name.snake)} already exists; pick another name")
    if module.exists() and not _is_job_module(module):
        raise LichError(f"{project.relative(module)} exists and is not a job module; pick another name")
    if module.exists() and not is_scaffold(module):
        raise LichError(
            f"{project.relative(module)} is a job this project ships (not one `lich make job` wrote); "
            "edit that file instead. --force only replaces jobs this command scaffolded."
        )
    if not force:
        existing = [project.relative(path) for path in (module, test) if path.exists()]
        if existing:
            verb = "exists" if len(existing) == 1 else "exist"
            raise LichError(f"{' and '.join(existing)} already {verb}; use --force to overwrite")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    tidy(project, list(files))
    return name, list(files)


def tidy(project: Project, files: list[Path]) -> None:
    """Sort imports and format the new files with the project's own ruff settings, when ruff is
    installed (a dev dependency): where a name lands in an import list, and whether a line fits,
    depends on the job's name."""
    beside = Path(sys.executable).parent / "ruff"
    ruff = str(beside) if beside.exists() else shutil.which("ruff")
    if ruff is None:
        return
    paths = [str(path) for path in files]
    for command in (["check", "--fix", "--select", "I", "--quiet", *paths], ["format", "--quiet", *paths]):
        subprocess.run(  # noqa: S603  (the project's ruff, on the files just written)
            [ruff, *command], cwd=project.backend, capture_output=True, timeout=60, check=False
        )
