"""API memory while it refuses a huge request body: MAX_REQUEST_BYTES against no effective limit.

    uv run python benchmarks/request_body_memory.py [MEGABYTES]

Bakes a `none` project, syncs it, and starts its API natively (uvicorn, SQLite) twice: with the
default MAX_REQUEST_BYTES (1 MiB) and, as the baseline, with a limit above the body size. Each
time it sends one body of MEGABYTES (default 100) to POST /api/v1/users, once with Content-Length
and once chunked, while sampling the API process's resident memory (VmRSS) every 20 ms. Prints the
idle RSS, the peak during each body, and the answer the client read.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers import Process, bake, free_port, http_status, project_env, wait_until

CHUNK = 64 * 1024


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


class PeakRss(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, rss_kib(pid), threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.02)


def send_body(port: int, size: int, *, chunked: bool) -> str:
    """Send a JSON body of `size` bytes; return the status line the API answered with."""
    prefix, suffix = b'{"email": "big@example.com", "name": "', b'"}'
    filler = size - len(prefix) - len(suffix)
    framing = b"Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}".encode()
    head = b"POST /api/v1/users HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n" + framing + b"\r\n\r\n"
    answer: list[bytes] = []
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        reader = threading.Thread(target=lambda: answer.append(sock.recv(4096)), daemon=True)
        reader.start()

        def write(data: bytes) -> None:
            sock.sendall(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)

        try:
            sock.sendall(head)
            write(prefix)
            block = b"x" * CHUNK
            for offset in range(0, filler, CHUNK):
                write(block[: min(CHUNK, filler - offset)])
            write(suffix)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the API answered and closed while the rest of the body was still coming
        reader.join(timeout=120)
    return answer[0].split(b"\r\n", 1)[0].decode() if answer and answer[0] else "(no answer)"


def measure(backend: Path, max_bytes: int, size: int, logs: Path) -> None:
    port = free_port()
    env = project_env(
        ENVIRONMENT="development",
        DATABASE_URL=f"sqlite+aiosqlite:///{logs}/bench.db",
        MAX_REQUEST_BYTES=str(max_bytes),
    )
    subprocess.run([str(backend / ".venv/bin/alembic"), "upgrade", "head"], cwd=backend, env=env, check=True)
    uvicorn = [str(backend / ".venv/bin/uvicorn"), "internal.main:app", "--port", str(port)]
    api = Process(f"api-{max_bytes}", uvicorn, cwd=backend, env=env, log_dir=logs)
    try:
        wait_until(lambda: http_status(f"http://127.0.0.1:{port}/health") == 200, within=60, what="api")
        for _ in range(20):
            http_status(f"http://127.0.0.1:{port}/health")
        idle = rss_kib(api.popen.pid)
        print(f"MAX_REQUEST_BYTES={max_bytes}: idle RSS {idle / 1024:.1f} MiB")
        for chunked in (False, True):
            sampler = PeakRss(api.popen.pid)
            sampler.start()
            started = time.perf_counter()
            status = send_body(port, size, chunked=chunked)
            elapsed = time.perf_counter() - started
            time.sleep(0.2)
            sampler.done.set()
            sampler.join()
            framing = "chunked" if chunked else "Content-Length"
            print(
                f"  {size // 2**20} MiB body ({framing}): {status!r} after {elapsed:.2f}s, "
                f"peak RSS {sampler.peak / 1024:.1f} MiB (+{(sampler.peak - idle) / 1024:.1f} MiB over idle)"
            )
    finally:
        api.stop()


def main(megabytes: int) -> None:
    size = megabytes * 2**20
    with tempfile.TemporaryDirectory() as tmp:
        project = bake(Path(tmp), task_runner="none", project_name="Bench Shop")
        backend = project / "backend"
        subprocess.run(["uv", "sync", "--quiet"], cwd=backend, env=project_env(), check=True)
        measure(backend, 1_048_576, size, Path(tmp))
        measure(backend, 2 * size, size, Path(tmp))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
