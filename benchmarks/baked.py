"""What the job benchmarks share: a baked, synced project with a no-op job scaffolded by `lich make job`.

Each `jobs_*.py` script runs twice: in this repository's environment it bakes the project (the
functions below), then it runs itself again with `--inside PROJECT` under the project's own venv,
where the job contract and the runner's SDK are importable; that inner run measures and emits rows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# The job every benchmark dispatches: written by `lich make job`, its handle only logs one line.
JOB_NAME = "BenchNoop"
JOB_MODULE = "bench_noop"


def synced_project(work: Path, runner: str) -> Path:
    """Bake a project for `runner`, `uv sync` it and scaffold the no-op job the way users do."""
    sys.path.insert(0, str(ROOT))
    from tests.helpers import bake, project_env

    project = bake(work, task_runner=runner, project_name="Bench Jobs")
    backend = project / "backend"
    subprocess.run(["uv", "sync", "--quiet"], cwd=backend, env=project_env(), check=True)
    subprocess.run(
        ["uv", "run", "--quiet", "lich", "make", "job", JOB_NAME],
        cwd=backend,
        env=project_env(),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return project


def run_inside(script: Path, project: Path, argv: list[str], env: dict[str, str]) -> int:
    """Run `script --inside PROJECT ARGV` with the project's interpreter, from its backend."""
    sys.path.insert(0, str(ROOT))
    from tests.helpers import project_env

    backend = project / "backend"
    python = backend / ".venv" / "bin" / "python"
    command = [str(python), str(script), "--inside", str(project), *argv]
    return subprocess.run(command, cwd=backend, env=project_env(**env), check=False).returncode


def inside_paths(project: Path) -> None:
    """In the inner run: import the project's `internal` and this directory's `table`."""
    os.chdir(project / "backend")
    sys.path[:0] = [str(project / "backend"), str(HERE)]


def cpu_seconds(pid: int) -> float:
    """CPU time of process `pid` and of its children: live ones, and reaped ones (cutime, cstime)."""
    ticks = os.sysconf("SC_CLK_TCK")

    def times(process: int, with_reaped: bool) -> float:
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rpartition(")")[2].split()
        except FileNotFoundError:
            return 0.0
        own = int(fields[11]) + int(fields[12])
        return (own + (int(fields[13]) + int(fields[14]) if with_reaped else 0)) / ticks

    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return times(pid, True) + sum(times(int(child), False) for child in children)


class Child:
    """A process of a benchmark (worker, server), started and waited for until its log says `ready`."""

    def __init__(self, name: str, command: list[str], cwd: Path, env: dict[str, str], logs: Path, ready: str) -> None:
        self.log_path = logs / f"{name}.log"
        self.popen = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=self.log_path.open("wb"), stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 90
        while ready not in self.log_path.read_text(errors="replace"):
            if self.popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.2)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.popen.pid)

    def stop(self) -> None:
        self.popen.terminate()
        try:
            self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
