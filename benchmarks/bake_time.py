"""Bake time per variant: median of N bakes, against a bare-cookiecutter baseline in the same run.

    uv run python benchmarks/bake_time.py [N]

The baseline renders a one-file template whose two hooks do nothing, so the ratio shows what this
template's rendering and hook logic add on top of cookiecutter and two Python start-ups.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
RUNNERS = tuple(sys.argv[2:]) or ("celery", "temporal", "none")


def timed(template: Path, **answers: str) -> float:
    with tempfile.TemporaryDirectory() as output:
        started = time.perf_counter()
        cookiecutter(str(template), no_input=True, output_dir=output, extra_context=answers)
        return time.perf_counter() - started


def bare_template(root: Path) -> Path:
    (root / "{{cookiecutter.name}}").mkdir(parents=True)
    (root / "cookiecutter.json").write_text('{"name": "bare"}')
    (root / "{{cookiecutter.name}}" / "README.md").write_text("# {{ cookiecutter.name }}\n")
    (root / "hooks").mkdir()
    for hook in ("pre_gen_project.py", "post_gen_project.py"):
        (root / "hooks" / hook).write_text("import sys\nsys.exit(0)\n")
    return root


def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        bare = bare_template(Path(scratch))
        baseline = statistics.median(timed(bare) for _ in range(runs))
    print(f"baseline (bare cookiecutter): {baseline * 1000:.0f} ms median of {runs}")
    for runner in RUNNERS:
        median = statistics.median(timed(TEMPLATE, task_runner=runner) for _ in range(runs))
        print(f"{runner:<9} {median * 1000:.0f} ms median of {runs}  ({median / baseline:.1f}x baseline)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
