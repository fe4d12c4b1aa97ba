"""GET /health and GET /ready."""

from __future__ import annotations

import httpx

from internal.config import Settings
from tests.support import api_client


async def test_health_answers_ok_without_touching_anything(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_is_200_when_the_database_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    assert set(body["checks"].values()) == {"ok"}


async def test_ready_is_503_naming_the_database_when_it_is_down(settings: Settings) -> None:
    broken = settings.model_copy(update={"database_url": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    async with api_client(broken) as client:
        response = await client.get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] != "ok"
