"""The FastAPI application: `uvicorn internal.main:app`.

The lifespan owns every client (database engine, job runner) and, where the runner has no scheduler
of its own, the periodic jobs' scheduler: nothing connects at import time, and everything is closed
on shutdown.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from internal import PROJECT_NAME
from internal.api import API_PREFIX, api_routers, health
from internal.api.middleware import ApiEdge
from internal.api.outages import install_outage_handlers
from internal.config import Settings, get_settings
from internal.db.session import create_engine_for, create_sessionmaker
from internal.errors import install_error_handlers
from internal.jobs.periodic import api_scheduler
from internal.jobs.relay import Relay
from internal.jobs.runner import JobRunner
from internal.logs import configure_logging
from internal.schemas import Problem

log = logging.getLogger(__name__)
BODY_ERRORS = {
    "400": "The body is not valid UTF-8 JSON.",
    "413": "The body is larger than MAX_REQUEST_BYTES.",
}
AUTH_ERRORS = {"401": "No valid bearer token."}
PROBLEM = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    engine = create_engine_for(settings.database_url)
    runner = JobRunner(settings)
    await runner.start()
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    app.state.runner = runner
    # Delivers the job outbox to the runner (every API process runs one; they share the work).
    relay = Relay(app.state.sessionmaker, runner)
    await relay.start()
    log.info("api started", extra={"environment": settings.environment})
    # What start-up built (modules, routes, schemas: 100,000+ objects) lives as long as the app:
    # out of the cyclic garbage collector's sight, its full passes under load scan only what
    # requests allocate (a full pass over start-up's objects takes a tenth of a second on a
    # 2-core machine, every request waiting). Given back on shutdown: tests start many apps.
    gc.freeze()
    try:
        async with api_scheduler(runner):
            yield
    finally:
        gc.unfreeze()
        await relay.close()
        await runner.close()
        await engine.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(json_lines=settings.environment == "production")
    docs = settings.docs_served
    app = FastAPI(
        title=PROJECT_NAME,
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    install_error_handlers(app)
    install_outage_handlers(app)
    install_middleware(app, settings)
    include_routes(app)
    document_common_errors(app)
    return app


def include_routes(app: FastAPI) -> None:
    """The probes as the app's own routes, and each API router once, under /api/v1.

    FastAPI matches an included router's routes through that router on every request (to find the
    route, then again to handle it), and through each level of nesting: `/health`, which
    orchestrators call every few seconds, spent a fifth of its time there. Its routes are therefore
    the app's own, and the API routers are included side by side rather than in one parent router.
    """
    app.router.routes.extend(health.router.routes)
    for router in api_routers:
        app.include_router(router, prefix=API_PREFIX)


def document_common_errors(app: FastAPI) -> None:
    """Say in the OpenAPI schema what any route can answer besides its own statuses, for every route,
    present or future: with a body, 400 (not UTF-8 JSON) and 413 (over MAX_REQUEST_BYTES); behind a
    security scheme, 401 (no or a bad token)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {}).setdefault("schemas", {}).setdefault(
                "Problem", Problem.model_json_schema()
            )
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    errors = {**(BODY_ERRORS if "requestBody" in operation else {})}
                    errors.update(AUTH_ERRORS if operation.get("security") else {})
                    for code, meaning in errors.items():
                        operation["responses"].setdefault(code, {"description": meaning, **PROBLEM})
            app.openapi_schema = schema
        return app.openapi_schema

    # FastAPI's documented way to extend the schema is to replace this method.
    app.openapi = openapi  # type: ignore[method-assign]


def install_middleware(app: FastAPI, settings: Settings) -> None:
    """The API's edge (request ids, security headers, body limit, JSON 500s) around CORS, when
    origins are configured: every response gets the request id and the security headers, a CORS
    preflight included, and the edge's own 413s and 500s get the CORS headers."""
    cors_options = (
        {
            "allow_origins": settings.cors_origin_list,
            "allow_methods": ["*"],
            "allow_headers": ["*"],
            "expose_headers": ["X-Request-ID"],
        }
        if settings.cors_origin_list
        else None
    )
    app.add_middleware(ApiEdge, max_bytes=settings.max_request_bytes, cors_options=cors_options)


app = create_app()
