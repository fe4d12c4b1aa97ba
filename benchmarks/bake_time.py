"""Bake time per variant against a bare cookiecutter template with as many files, in the same run.

    uv run python benchmarks/bake_time.py [--quick]

The baseline is this template's own file tree with the Jinja syntax taken out, a cookiecutter.json
with one variable, and no hooks or extensions: what any template of this size costs cookiecutter.
The ratio therefore shows what our answers extension, Jinja blocks and both hooks (runner pruning,
secrets, the consistency check) add. Both are baked in this process, alternating rounds.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

from cookiecutter.main import cookiecutter

sys.path.insert(0, str(Path(__file__).resolve().parent))

from table import compare, emit, interleaved

TEMPLATE = Path(__file__).resolve().parents[1]
PROJECT = "{{cookiecutter.project_slug}}"
RUNNERS = ("celery", "temporal", "none")
JINJA = re.compile(r"\{([{%#])")


def bare_template(root: Path) -> Path:
    """The same files under the same names, as plain text; returns the template directory."""
    (root / "cookiecutter.json").write_text('{"project_slug": "my_shop"}')
    for source in (TEMPLATE / PROJECT).rglob("*"):
        if source.is_file():
            target = root / PROJECT / source.relative_to(TEMPLATE / PROJECT)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(JINJA.sub(r"(\1", source.read_text(encoding="utf-8")).encode())
    return root


def bake_seconds(template: Path, **answers: str) -> float:
    with tempfile.TemporaryDirectory() as output:
        started = time.perf_counter()
        cookiecutter(str(template), no_input=True, output_dir=output, extra_context=answers)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1 round instead of 11")
    rounds = 1 if parser.parse_args().quick else 11
    files = sum(1 for path in (TEMPLATE / PROJECT).rglob("*") if path.is_file())
    with tempfile.TemporaryDirectory() as scratch:
        bare = bare_template(Path(scratch))
        bake_seconds(bare)  # warm both: imports and the first Jinja environment are not per bake
        for runner in RUNNERS:
            bake_seconds(TEMPLATE, task_runner=runner)
            subject, baseline = interleaved(
                rounds, lambda runner=runner: bake_seconds(TEMPLATE, task_runner=runner), lambda: bake_seconds(bare)
            )
            emit(
                compare(
                    "bake",
                    f"{runner}: seconds per bake vs a bare template of {files} files",
                    "s",
                    subject,
                    baseline,
                    goal=1.5,
                    higher_is_better=False,
                )
            )


if __name__ == "__main__":
    main()
