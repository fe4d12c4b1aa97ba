"""API memory: resident memory (RSS) of the API process at idle and after 10,000 requests.

    uv run python benchmarks/api_memory.py [--quick]

Bakes a celery project and starts its API as api_http.py does (see api_stack.py). "Idle" is after
start-up and one request of each kind (imports and first-use caches loaded, nothing in flight);
then 10,000 requests (`--quick`: 2,000) from 8 keep-alive clients: half `GET /health`, half the
DB read `GET /api/v1/users/{id}`, and one sign-up (`POST /api/v1/users`, an Argon2 hash and two
INSERTs) in every 200. The row's subject is the RSS after, its baseline the RSS at idle, so the
ratio is after/idle: 1.00 is no growth, and the goal (at most 1.10) is growth under 10 %.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_stack import PASSWORD, MeasurementFailed, Server, Stack
from table import compare, emit

CLIENTS = 8
SIGN_UP_EVERY = 200

Request = tuple[str, str, bytes | None, dict[str, str]]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def requests(total: int, user_id: int, token: str, prefix: str = "memory") -> list[Request]:
    auth = {"Authorization": f"Bearer {token}"}
    plan: list[Request] = []
    for index in range(total):
        if index % SIGN_UP_EVERY == SIGN_UP_EVERY - 1:
            user = {"email": f"{prefix}-{index}@example.com", "name": "Bench", "password": PASSWORD}
            plan.append(("POST", "/api/v1/users", json.dumps(user).encode(), {"Content-Type": "application/json"}))
        elif index % 2:
            plan.append(("GET", f"/api/v1/users/{user_id}", None, auth))
        else:
            plan.append(("GET", "/health", None, {}))
    return plan


def send_all(server: Server, plan: list[Request]) -> None:
    """Send `plan` over CLIENTS keep-alive connections; any answer other than 2xx fails the run."""
    address = urlsplit(server.base)
    failures: list[str] = []

    def client(share: list[Request]) -> None:
        connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=120)
        try:
            for method, path, body, headers in share:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                if not 200 <= response.status < 300:
                    failures.append(f"{method} {path}: {response.status}")
        except OSError as exc:
            failures.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(plan[index::CLIENTS],)) for index in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise MeasurementFailed(f"{len(failures)} requests failed, e.g. {failures[:3]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2,000 requests instead of 10,000")
    args = parser.parse_args()
    total = 2_000 if args.quick else 10_000

    with Stack() as stack:
        template = stack.api()
        user_id, token = stack.user(template.base, "bench-memory@example.com")
        try:
            send_all(template, requests(SIGN_UP_EVERY, user_id, token, "warm-up")[-3:])  # one of each kind
            template.settle()
            idle = rss_mib(template.pid)
            send_all(template, requests(total, user_id, token))
            template.settle()
            after = rss_mib(template.pid)
        except MeasurementFailed as exc:
            print(f"FAILED measurement, no figure: {exc}", file=sys.stderr)
            return 1
    measure = f"RSS after {total:,} requests vs idle (growth under 10 %: ratio at most 1.10)"
    emit(compare("API", measure, "MiB", [after], [idle], goal=1.10, higher_is_better=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
