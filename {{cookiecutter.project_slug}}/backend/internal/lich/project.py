"""Where `lich` works, and with which settings: the project is the nearest directory, from the
current one upwards, that holds ``backend/pyproject.toml`` with a ``[tool.lich]`` table; the
container image has none (it holds the backend alone), and the operational commands run there too."""

from __future__ import annotations

import contextlib
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from internal.config import Settings
from internal.lich.errors import LichError

PYPROJECT = Path("backend") / "pyproject.toml"


@dataclass(frozen=True)
class Project:
    root: Path
    task_runner: str

    @property
    def backend(self) -> Path:
        return self.root / "backend"

    def relative(self, path: Path) -> str:
        """`path` as shown to the user: relative to the project root."""
        return path.relative_to(self.root).as_posix()


def _lich_table(pyproject: Path) -> dict[str, object] | None:
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise LichError(f"cannot read {pyproject}: {exc}") from exc
    table = data.get("tool", {}).get("lich")
    return table if isinstance(table, dict) else None


def find_project(start: Path | None = None) -> Project:
    """The project containing `start` (default: the current directory)."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        pyproject = directory / PYPROJECT
        if not pyproject.is_file():
            continue
        table = _lich_table(pyproject)
        if table is None:
            continue
        runner = table.get("task_runner")
        if not isinstance(runner, str) or not runner:
            raise LichError(f"{pyproject}: [tool.lich] task_runner is missing or not a string")
        return Project(root=directory, task_runner=runner)
    raise LichError(
        f"not inside a project: no backend/pyproject.toml with a [tool.lich] table in {here} or above"
    )


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
    """The settings, or one line naming the first invalid one (not pydantic's report)."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]).upper() or "settings"
        raise LichError(f"invalid setting {where}: {first['msg']}") from exc
