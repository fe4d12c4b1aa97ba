"""The API's async engine, and the unit of work each request runs in.

Commit and rollback happen in exactly one place (`UnitOfWork.run`); work that must only start once
the data is committed (dispatching a job) is registered with `after_commit`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from internal.db.base import configure_sqlite


def create_engine_for(url: str) -> AsyncEngine:
    engine = create_async_engine(url, pool_pre_ping=True)
    configure_sqlite(engine.sync_engine)
    return engine


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
