"""The API during an outage: the database unreachable is a JSON 503 with Retry-After, not a 500."""

from __future__ import annotations

from internal.config import Settings
from tests.processes import free_port
from tests.support import api_client, sign_up


async def test_database_down_is_503_json_with_retry_after(settings: Settings, job_worker: None) -> None:
    unreachable = settings.model_copy(
        update={"database_url": f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/gone"}
    )
    async with api_client(unreachable) as client:
        response = await sign_up(client, "x@example.com")
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    assert "unavailable" in response.json()["detail"]
