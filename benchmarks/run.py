"""`make bench`: every benchmark of the template, one table of ratios against bare baselines.

    uv run python benchmarks/run.py [--quick] [--only NAME ...] [--no-write]

Runs each benchmark script in turn (each bakes what it needs and starts its own services), collects
the rows they emit (see table.py), prints one table and writes it to benchmarks/RESULTS.md with the
date and the machine. `--quick` runs few, short rounds: it proves the benchmarks work, its figures
are noisy and it does not overwrite RESULTS.md.

Outside the table: `request_body_memory.py` measures the API's memory while it refuses a 100 MiB body
(MAX_REQUEST_BYTES), a check of the hostile-input limit rather than a ratio to a baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from table import ROW_PREFIX, Row, figure  # noqa: E402

# In table order; each script takes --quick and prints rows with table.emit.
BENCHMARKS = ("bake_time", "api_http", "api_memory", "jobs_none", "jobs_celery", "jobs_temporal")


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line), "unknown CPU")
    memory_kib = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    system = f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    return f"{os.cpu_count()} cores ({cpu}), {memory_kib / 1024 / 1024:.0f} GiB, {system}"


def run(name: str, quick: bool) -> tuple[list[Row], str | None]:
    command = [sys.executable, str(HERE / f"{name}.py"), *(["--quick"] if quick else [])]
    print(f"==> {name}", file=sys.stderr, flush=True)
    started = time.monotonic()
    result = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    lines = result.stdout.splitlines()
    rows = [Row(**json.loads(line.removeprefix(ROW_PREFIX))) for line in lines if line.startswith(ROW_PREFIX)]
    print(f"    {len(rows)} rows in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    if result.returncode != 0:
        return rows, f"{name} exited with {result.returncode}"
    if not rows:
        return rows, f"{name} reported no rows"
    return rows, None


def table(rows: list[Row]) -> str:
    lines = [
        "| area | measure | template | baseline | ratio | rounds | goal |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for row in rows:
        goal = "" if row.goal is None else f"{row.goal_text} {'met' if row.met else 'NOT met'}"
        lines.append(
            f"| {row.area} | {row.measure} | {figure(row.subject)} {row.unit} | {figure(row.baseline)} {row.unit} "
            f"| **{row.ratio:.2f}x** | {row.spread} | {goal} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few short rounds: proves it runs, noisy figures")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these benchmarks")
    parser.add_argument("--no-write", action="store_true", help="print the table without writing RESULTS.md")
    args = parser.parse_args()

    rows: list[Row] = []
    failures: list[str] = []
    for name in args.only or BENCHMARKS:
        found, failure = run(name, args.quick)
        rows.extend(found)
        if failure:
            failures.append(failure)

    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    report = "\n".join(
        [
            "# Benchmark results",
            "",
            f"`make bench` on {when}; machine: {machine()}.",
            "",
            "Each row compares the template's code with a bare baseline measured in the same run, in "
            "alternating rounds; figures are medians, ratio is template/baseline and `rounds` is the range of "
            "the per-round ratios. Goals are floors for rates (higher is better) and ceilings for times and memory.",
            "",
            table(rows),
            "",
        ]
    )
    print(report)
    if not (args.quick or args.no_write or args.only):
        (HERE / "RESULTS.md").write_text(report)
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
