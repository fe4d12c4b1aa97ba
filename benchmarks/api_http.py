"""API throughput against a bare FastAPI + async SQLAlchemy app, with wrk at 32 and 64 connections.

    uv run python benchmarks/api_http.py [--quick]

Bakes a celery project (see api_stack.py), starts its API with the compose `api` command (one
uvicorn process) and baseline_app.py with the same command line, on the same Postgres database, and
compares requests/s in interleaved rounds:

- `GET /health` against a bare app's `/health`;
- DB read: `GET /api/v1/users/{id}`, the caller's own record with a bearer token, against the
  baseline's JWT dependency and `session.get` of the same row;
- DB write: sign-up, `POST /api/v1/users` with unique emails (Argon2 hash, the user and an outbox
  row), against an Argon2 hash with the same parameters and an INSERT of the user.

Five rounds of 10 s after a warm-up (on a 2-core VM one round's ratio can be 10 % off its
neighbours': with three rounds the medians moved by up to 0.07 between runs); `--quick`: one round
of 1 s, no warm-up. Sign-ups: three rounds, each longer (20 to 45 s, see SIGN_UP_SECONDS), as each
takes a fraction of a second of CPU for its Argon2 hash and waits behind up to 63 others: their
rate is counted in steady state, from the new users' `created_at` (see `Stack.sign_ups_per_second`).

`--quick` runs the sign-up rows at 4 and 8 connections, one round of 2 to 4 s: at 32 and 64 the
bare app hashes every waiting sign-up at once, so none completes for seconds (over 10 s on a busy
CI machine), and the rounds long enough for that kept both cores hashing for about 150 s of CPU, a
seventh of the template's whole test run then, for figures that `--quick` does not keep. A round that
counted fewer than 3 sign-ups (the latency probe ran in a quieter moment of a busy machine) runs
again twice as long, up to 4 times the longest round.

Beside each throughput row of /health and the DB read, a row of the server process's CPU time per
request over the same rounds (no goal): it explains the ratio, and other load on the machine moves
it much less than requests/s, which such load can halve in one round and not in the next.

A round in which wrk saw any error (non-2xx, socket error, timeout) fails the measurement: no figure
is reported for it, and the script exits non-zero.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_stack import MeasurementFailed, Server, Stack, TooFewSignUps, wrk
from table import compare, emit, emit_cpu, interleaved

CONNECTIONS = (32, 64)
WARM_UP_SECONDS = 2.0
# A sign-up round lasts twice as long as a request waits behind the others (connections times one
# sign-up's latency, probed first), within these bounds (--quick: the second pair).
SIGN_UP_SECONDS = (20.0, 45.0)
QUICK_SIGN_UP_SECONDS = (2.0, 4.0)
QUICK_SIGN_UP_CONNECTIONS = (4, 8)
# The latency probe can run in a quiet moment of a busy machine (CI runs the tiers side by side): a
# round that counted too few sign-ups runs again twice as long, up to this many times the longest.
SIGN_UP_RETRY_FACTOR = 4

Run = Callable[[Server, int, float], float]


class Comparison(NamedTuple):
    measure: str
    run: Run
    goal: float
    warm_up: bool
    rounds: int
    connections: tuple[int, ...] = CONNECTIONS


def measured(run: Run, server: Server, connections: int, seconds: float) -> Callable[[], float]:
    def measure() -> float:
        try:
            return run(server, connections, seconds)
        finally:
            server.settle()

    return measure


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one 1 s round per comparison (sign-ups: 2-4 s)")
    args = parser.parse_args()
    rounds, sign_up_rounds, seconds = (1, 1, 1.0) if args.quick else (5, 3, 10.0)
    runs = itertools.count()

    failures: list[str] = []
    with Stack() as stack:
        template, baseline = stack.api(), stack.baseline()
        user_id, token = stack.user(template.base, "bench-reader@example.com")
        auth = (f"Authorization: Bearer {token}",)

        # CPU seconds per request of each server's runs, by server name (reset per comparison).
        cpu: dict[str, list[float]] = {}

        def per_request(
            server: Server, url: str, connections: int, seconds: float, headers: tuple[str, ...] = ()
        ) -> float:
            before = server.cpu_seconds()
            load = wrk(url, connections=connections, seconds=seconds, headers=headers)
            cpu.setdefault(server.name, []).append((server.cpu_seconds() - before) / load.requests)
            return load.requests_per_second

        def health(server: Server, connections: int, seconds: float) -> float:
            return per_request(server, f"{server.base}/health", connections, seconds)

        def read(server: Server, connections: int, seconds: float) -> float:
            url = f"{server.base}/api/v1/users/{user_id}"
            return per_request(server, url, connections, seconds, headers=auth)

        one_sign_up = stack.sign_up_latency(template)

        def sign_up(server: Server, connections: int, _seconds: float) -> float:
            shortest, longest = QUICK_SIGN_UP_SECONDS if args.quick else SIGN_UP_SECONDS
            seconds = min(max(2 * connections * one_sign_up, shortest), longest)
            while True:
                try:
                    return stack.sign_ups_per_second(server, connections, seconds, f"{server.name}-{next(runs)}")
                except TooFewSignUps as exc:
                    if seconds >= SIGN_UP_RETRY_FACTOR * longest:
                        raise
                    print(f"{exc}: again, twice as long", file=sys.stderr)
                    seconds *= 2

        comparisons = [
            Comparison("GET /health", health, 0.95, warm_up=True, rounds=rounds),
            Comparison("DB read GET /api/v1/users/{id}", read, 0.9, warm_up=True, rounds=rounds),
            # No warm-up run: the Argon2 hash dominates and a short run would complete nothing.
            Comparison(
                "DB write POST /api/v1/users (sign-up), steady state",
                sign_up,
                0.9,
                warm_up=False,
                rounds=sign_up_rounds,
                connections=QUICK_SIGN_UP_CONNECTIONS if args.quick else CONNECTIONS,
            ),
        ]
        for comparison in comparisons:
            for connections in comparison.connections:
                label = f"{comparison.measure}, {connections} connections"
                run = comparison.run
                try:
                    if comparison.warm_up and not args.quick:  # pools filled, caches and code paths warm
                        measured(run, template, connections, WARM_UP_SECONDS)()
                        measured(run, baseline, connections, WARM_UP_SECONDS)()
                    cpu.clear()
                    subject_values, baseline_values = interleaved(
                        comparison.rounds,
                        measured(run, template, connections, seconds),
                        measured(run, baseline, connections, seconds),
                    )
                except MeasurementFailed as exc:
                    failures.append(label)
                    print(f"FAILED measurement, no figure: {exc}", file=sys.stderr)
                    continue
                emit(compare("API", label, "req/s", subject_values, baseline_values, goal=comparison.goal))
                if cpu:
                    emit_cpu("API", f"CPU per request, {label}", cpu["template"], cpu["baseline"])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
