"""The one format every benchmark reports in, so `make bench` can print a single table of ratios.

A benchmark script measures a subject (the template's code) and a bare baseline in the same run,
alternating rounds so that drift in the machine's load hits both alike, and calls `emit` once per
comparison. `benchmarks/run.py` collects the rows of every script into one table.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass

ROW_PREFIX = "BENCH-ROW "


@dataclass(frozen=True)
class Row:
    """One comparison: `ratio` is subject/baseline. When higher is better (requests/s, jobs/s) the goal
    is a floor (ratio >= goal); when lower is better (seconds, memory) it is a ceiling (ratio <= goal)."""

    area: str
    measure: str
    unit: str
    subject: float
    baseline: float
    ratio: float
    spread: str
    goal: float | None
    higher_is_better: bool = True

    @property
    def met(self) -> bool | None:
        if self.goal is None:
            return None
        return self.ratio >= self.goal if self.higher_is_better else self.ratio <= self.goal

    @property
    def goal_text(self) -> str:
        if self.goal is None:
            return ""
        return f"{'>=' if self.higher_is_better else '<='} {self.goal:.2f}x"


def interleaved(
    rounds: int, subject: Callable[[], float], baseline: Callable[[], float]
) -> tuple[list[float], list[float]]:
    """Run `rounds` alternating rounds (baseline first, then subject, swapping the order each round)."""
    subject_values: list[float] = []
    baseline_values: list[float] = []
    for index in range(rounds):
        order = [(baseline, baseline_values), (subject, subject_values)]
        for measure, values in order if index % 2 == 0 else reversed(order):
            values.append(measure())
    return subject_values, baseline_values


def compare(
    area: str,
    measure: str,
    unit: str,
    subject_values: list[float],
    baseline_values: list[float],
    *,
    goal: float | None,
    higher_is_better: bool = True,
) -> Row:
    """Medians of both sides, their ratio and the range of the per-round ratios."""
    subject = statistics.median(subject_values)
    baseline = statistics.median(baseline_values)
    pairs = [s / b for s, b in zip(subject_values, baseline_values, strict=True) if b]
    ratio = subject / baseline if baseline else 0.0
    spread = f"{min(pairs):.2f}-{max(pairs):.2f}" if pairs else "n/a"
    return Row(area, measure, unit, subject, baseline, ratio, spread, goal, higher_is_better)


def emit_cpu(area: str, measure: str, subject_seconds: list[float], baseline_seconds: list[float]) -> None:
    """A row of CPU milliseconds per unit of work: no goal, it explains the throughput row beside it
    (CPU time is less sensitive than throughput to other load on the machine)."""
    subject = [1000 * value for value in subject_seconds]
    baseline = [1000 * value for value in baseline_seconds]
    emit(compare(area, measure, "ms", subject, baseline, goal=None, higher_is_better=False))


def figure(value: float) -> str:
    """A figure with as many decimals as its size deserves (1,129 req/s; 23.4 MiB; 0.412 s)."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.3f}"


def emit(row: Row) -> None:
    """Print the row for `run.py` (one JSON line with a prefix) and a readable line for a human."""
    goal = "" if row.goal is None else f"  goal {row.goal_text} ({'met' if row.met else 'NOT met'})"
    print(
        f"{row.area} / {row.measure}: {figure(row.subject)} vs {figure(row.baseline)} {row.unit} → "
        f"{row.ratio:.2f}x (rounds {row.spread}){goal}",
        file=sys.stderr,
    )
    print(ROW_PREFIX + json.dumps(asdict(row)), flush=True)
