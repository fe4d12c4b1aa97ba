"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])
CHECK_TIMEOUT_SECONDS = 3.0


class Liveness(BaseModel):
    status: Literal["ok"]


ALIVE = Liveness(status="ok").model_dump_json().encode()


@router.get("/health", response_model=Liveness)
async def health() -> Response:
    """Liveness: the process serves requests. No I/O, so a slow database never restarts the API.

    Orchestrators ask every few seconds: the answer is bytes made once, not a model validated and
    serialised per request (the schema above is what the bytes say)."""
    return Response(ALIVE, media_type="application/json")


async def _check(name: str, probe: Callable[[], Awaitable[None]], *, detailed: bool) -> tuple[str, str]:
    """Run one probe. The error's text (hosts, ports, maybe user names) goes to the log always and
    to the response only outside production; production says just what failed."""
    try:
        await asyncio.wait_for(probe(), timeout=CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return name, f"timed out after {CHECK_TIMEOUT_SECONDS:g}s"
    except Exception as exc:
        log.warning("readiness check failed", extra={"check": name, "error": repr(exc)})
        return name, f"{type(exc).__name__}: {exc}".strip() if detailed else "unavailable"
    return name, "ok"


@router.get("/ready", responses={503: {"description": "Something the API needs does not answer."}})
async def ready(request: Request) -> JSONResponse:
    """Readiness: the database and the task runner's backend answer. 503 names what failed."""
    engine: AsyncEngine = request.app.state.engine

    async def database() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    probes = {"database": database, **request.app.state.runner.readiness_checks()}
    detailed = request.app.state.settings.environment != "production"
    checks = dict(
        await asyncio.gather(*(_check(name, probe, detailed=detailed) for name, probe in probes.items()))
    )
    healthy = all(result == "ok" for result in checks.values())
    return JSONResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status_code=200 if healthy else 503,
    )
