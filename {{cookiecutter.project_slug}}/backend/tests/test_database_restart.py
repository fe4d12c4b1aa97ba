"""The database dropped every connection (restarted, failed over, killed idle sessions): the pool
holds connections the server has closed, and the next request must still succeed, not answer 503.

The pool does not ping on checkout (a round trip per request); it notices a closed connection from
its socket instead (`internal.db.session`). Restarting the test server is not possible here, so the
test does what a restart does to the app's connections: the server ends their backends.
"""

from __future__ import annotations

import asyncio
import os

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from internal.config import Settings
from tests.support import api_client, headers_for, make_admin

OTHER_BACKENDS = "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"


def require_postgres(settings: Settings) -> None:
    if not settings.database_url.startswith("postgresql"):
        reason = "SKIPPED: server-side connections exist on Postgres only (set TEST_DATABASE_URL)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


async def end_every_other_backend(admin: AsyncEngine) -> list[bool]:
    """Terminate the other sessions of this database, as a server restart does, each waited for
    (up to 5 s) until it has exited, so that its client has been told; one result per session."""
    async with admin.connect() as connection:
        ended = await connection.execute(text(f"SELECT pg_terminate_backend(pid, 5000) {OTHER_BACKENDS}"))
        return list(ended.scalars())


async def test_a_request_after_the_server_closed_the_pooled_connections_succeeds(settings: Settings) -> None:
    require_postgres(settings)
    headers = headers_for(settings, make_admin(settings))
    admin = create_async_engine(settings.database_url)
    try:
        async with api_client(settings) as client:
            # Concurrent requests, so that the pool holds several connections; then as many again,
            # each checking out one whose server side has gone.
            warm = await asyncio.gather(*(client.get("/api/v1/users/me", headers=headers) for _ in range(3)))
            assert [response.status_code for response in warm] == [200, 200, 200]
            ended = await end_every_other_backend(admin)
            after = await asyncio.gather(*(client.get("/api/v1/users/me", headers=headers) for _ in range(3)))
    finally:
        await admin.dispose()
    assert ended, "the app held no connection to end"
    assert all(ended), ended
    assert [response.status_code for response in after] == [200, 200, 200], [r.text for r in after]
