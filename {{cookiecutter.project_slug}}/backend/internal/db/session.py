"""The API's async engine, and the unit of work each request runs in.

Commit and rollback happen in exactly one place (`UnitOfWork.run`); work that must only start once
the data is committed (dispatching a job) is registered with `after_commit`.
"""

from __future__ import annotations

import select
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from internal.db.base import configure_sqlite


def create_engine_for(url: str) -> AsyncEngine:
    engine = create_async_engine(url)
    configure_sqlite(engine.sync_engine)
    discard_connections_closed_by_the_server(engine.sync_engine)
    return engine


def discard_connections_closed_by_the_server(engine: Engine) -> None:
    """Replace a pooled connection the server has closed (database restarted, backend terminated,
    idle timeout) before a request uses it, so that the request succeeds instead of failing with 503.

    `pool_pre_ping` would find it too, but with a round trip on every checkout; here the check is one
    non-blocking poll of the socket. An idle connection receives nothing, so a readable socket means
    the server hung up (its farewell message, then end of file): the pool opens a new connection in
    its place. A connection that dies silently (a cut network) fails its request with 503 and the
    pool then replaces it, as a failed ping would.
    """
    if engine.dialect.name != "postgresql":
        return

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: object, _proxy: object) -> None:
        driver = dbapi_connection.driver_connection
        if driver.closed or _readable(driver.fileno()):
            raise DisconnectionError("the server closed this pooled connection")


def _readable(fileno: int) -> bool:
    if hasattr(select, "poll"):  # any descriptor number (select() stops at 1024); not on Windows
        poller = select.poll()
        poller.register(fileno, select.POLLIN)
        return bool(poller.poll(0))
    readable, _, _ = select.select([fileno], [], [], 0)
    return bool(readable)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


class UnitOfWork:
    """One session and the callbacks to run after it commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._after_commit: list[Callable[[], Awaitable[None]]] = []

    def after_commit(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run `callback` once the transaction is committed; never if it rolls back."""
        self._after_commit.append(callback)

    @classmethod
    @asynccontextmanager
    async def run(cls, sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[UnitOfWork]:
        async with sessionmaker() as session:
            uow = cls(session)
            try:
                yield uow
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
        for callback in uow._after_commit:
            await callback()
