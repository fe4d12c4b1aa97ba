"""A backend the API depends on is unreachable: answer 503 with Retry-After, as JSON.

The database being down (or any backend reached during a request) is an outage, not a bug in the
request: clients and load balancers should retry shortly, and the connection stays usable (an
unhandled exception would end in a plain-text 500 and a closed connection). Jobs are never
reached during a request (they go through the job outbox), so a runner outage costs no request.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
# Connection refused or lost, the pool exhausted, a socket timing out.
OUTAGES: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeoutError,
    ConnectionError,
    TimeoutError,
)


async def unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("backend unavailable", extra={"path": request.url.path, "error": repr(exc)})
    return JSONResponse(
        {"detail": "a backend service is unavailable; retry shortly"},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def install_outage_handlers(app: FastAPI) -> None:
    for error in OUTAGES:
        app.add_exception_handler(error, unavailable)
