"""The FastAPI application: `uvicorn internal.main:app`.

The lifespan owns every client (database engine, job runner) and, where the runner has no scheduler
of its own, the periodic jobs' scheduler: nothing connects at import time, and everything is closed
on shutdown.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from internal import PROJECT_NAME
from internal.api import api_router, health
from internal.api.outages import install_outage_handlers
from internal.config import Settings, get_settings
from internal.db.session import create_engine_for, create_sessionmaker
from internal.errors import install_error_handlers
from internal.jobs.periodic import api_scheduler
from internal.jobs.relay import Relay
from internal.jobs.runner import JobRunner
from internal.logs import configure_logging

log = logging.getLogger(__name__)


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
    try:
        async with api_scheduler(runner):
            yield
    finally:
        await relay.close()
        await runner.close()
        await engine.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(json_lines=settings.environment == "production")
    app = FastAPI(title=PROJECT_NAME, version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    install_error_handlers(app)
    install_outage_handlers(app)
    app.include_router(health.router)
    app.include_router(api_router, prefix="/api/v1")
    return app


app = create_app()
