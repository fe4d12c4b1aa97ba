"""Regenerate the stored lock of every variant: `{{cookiecutter.project_slug}}/backend/uv.<runner>.lock`.

A bake must stay offline and fast, so it cannot resolve: it ships a lock resolved here, once per
variant, for exactly that variant's dependencies. Each variant is baked with the placeholder name
the post-gen hook replaces, then `uv lock` runs in the bake starting from the stored lock, so
unchanged requirements keep their versions and only what changed is resolved again (`--upgrade`
re-resolves everything). Run it after any change to the generated pyproject.toml.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1]
BACKEND = TEMPLATE / "{{cookiecutter.project_slug}}" / "backend"
PLACEHOLDER_SLUG = "lich_lock_placeholder"
# What a variant without a stored lock starts from: just the entry the post-gen hook renames.
# `uv lock` then resolves from scratch.
SEED = 'version = 1\n\n[[package]]\nname = "lich-lock-placeholder"\nversion = "0.1.0"\nsource = { editable = "." }\n'


def runners() -> list[str]:
    return list(json.loads((TEMPLATE / "cookiecutter.json").read_text())["task_runner"])


def readable(stored: Path) -> bool:
    """A stored lock uv can start from; a missing one, or one left with merge conflict markers after
    two branches changed it, is resolved from scratch instead."""
    try:
        tomllib.loads(stored.read_text(encoding="utf-8"))
    except (FileNotFoundError, tomllib.TOMLDecodeError):
        print(f"{stored.name}: missing or unreadable (a merge conflict?): resolving from scratch")
        return False
    return True


def lock(runner: str, workdir: Path, upgrade: bool) -> bool:
    stored = BACKEND / f"uv.{runner}.lock"
    if not readable(stored):
        stored.write_text(SEED, encoding="utf-8")
    answers = [f"task_runner={runner}", f"project_slug={PLACEHOLDER_SLUG}"]
    bake = [sys.executable, "-m", "cookiecutter", "--no-input", "--output-dir", str(workdir / runner)]
    result = subprocess.run([*bake, str(TEMPLATE), *answers], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        print(f"{runner}: bake failed:\n{result.stderr}", file=sys.stderr)
        return False
    project = workdir / runner / PLACEHOLDER_SLUG
    if stored.read_text(encoding="utf-8") == SEED:
        (project / "backend" / "uv.lock").unlink()
    command = ["uv", "lock", "--quiet", *(["--upgrade"] if upgrade else [])]
    result = subprocess.run(command, cwd=project / "backend", capture_output=True, text=True, check=False)
    if result.returncode != 0:
        print(f"{runner}: uv lock failed:\n{result.stderr}", file=sys.stderr)
        return False
    fresh = (project / "backend" / "uv.lock").read_text(encoding="utf-8")
    changed = stored.read_text(encoding="utf-8") != fresh
    stored.write_text(fresh, encoding="utf-8")
    print(f"{runner}: {'updated' if changed else 'unchanged'} {stored.relative_to(TEMPLATE)}")
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upgrade", action="store_true", help="re-resolve every package to its newest allowed version")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="lich-lock-"))
    try:
        ok = [lock(runner, workdir, args.upgrade) for runner in runners()]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
