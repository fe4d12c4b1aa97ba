"""Hostile input gets a clear 4xx, never a 500: bounds, NUL bytes, unencodable input, body size,
unexpected errors, and what production shows (docs, CORS, security headers, readiness detail)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from pydantic import TypeAdapter, ValidationError

from internal.config import Settings
from internal.errors import MAX_ECHOED_CHARS
from internal.fields import NonNegativeInt32, PositiveInt32
from internal.main import create_app
from internal.services.failed_jobs import record_failed_job
from tests.support import PASSWORD, api_client, headers_for, make_admin

TOO_BIG_ID = 2**31
PRODUCTION = {"environment": "production", "secret_key": "Kq8vR2mZ7pL4xW9nB3tY6hJ1cF5dG0sA8eU2iO7x"}


@asynccontextmanager
async def app_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that would raise any exception the app lets escape (the server would then drop the
    connection): every test here gets a complete response or fails."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        yield client


# --- values the database cannot store ---------------------------------------------------------


@pytest.mark.parametrize("path", [f"/api/v1/users/{TOO_BIG_ID}", "/api/v1/users/0", "/api/v1/users/-1"])
async def test_an_id_outside_the_columns_range_is_422(
    client: httpx.AsyncClient, admin_headers: dict[str, str], path: str
) -> None:
    response = await client.get(path, headers=admin_headers)
    assert response.status_code == 422, response.text


async def test_a_retry_id_outside_the_columns_range_is_422(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(f"/api/v1/jobs/failed/{TOO_BIG_ID}/retry", headers=admin_headers)
    assert response.status_code == 422, response.text


async def test_a_nul_byte_in_text_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/users", json={"email": "nul@example.com", "name": "a\x00b"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "name"]


async def test_a_lone_surrogate_is_422_and_echoed_as_valid_text(client: httpx.AsyncClient) -> None:
    body = b'{"email": "s@example.com", "name": "a\\ud800b"}'
    response = await client.post("/api/v1/users", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "name"]


async def test_a_number_too_large_for_a_float_is_422(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get("/api/v1/jobs/failed", params={"limit": "1e400"}, headers=admin_headers)
    assert response.status_code == 422, response.text
    body = b'{"email": 1e400, "name": "x"}'
    response = await client.post("/api/v1/users", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text


async def test_a_422_echoes_only_a_bounded_prefix_of_the_input(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/users", json={"email": "long@example.com", "name": "x" * 500_000, "password": PASSWORD}
    )
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["input"] == "x" * MAX_ECHOED_CHARS + "..."
    assert len(response.content) < 2_000


# --- request size ------------------------------------------------------------------------------


async def test_a_body_over_max_request_bytes_is_413_with_the_limit(settings: Settings) -> None:
    limited = settings.model_copy(update={"max_request_bytes": 1_000})
    async with api_client(limited) as client:
        response = await client.post("/api/v1/users", json={"email": "big@example.com", "name": "x" * 2_000})
    assert response.status_code == 413
    assert response.json() == {"detail": "The request body is larger than the limit of 1000 bytes."}


async def test_a_chunked_body_over_max_request_bytes_is_413(settings: Settings) -> None:
    limited = settings.model_copy(update={"max_request_bytes": 1_000})

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"email": "chunked@example.com", "name": "'
        for _ in range(100):
            yield b"x" * 100
        yield b'"}'

    async with app_client(create_app(limited)) as client:
        response = await client.post(
            "/api/v1/users", content=chunks(), headers={"content-type": "application/json"}
        )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json() == {"detail": "The request body is larger than the limit of 1000 bytes."}


async def test_a_body_within_max_request_bytes_is_accepted(settings: Settings) -> None:
    limited = settings.model_copy(update={"max_request_bytes": 1_000})
    async with api_client(limited) as client:
        response = await client.post(
            "/api/v1/users", json={"email": "small@example.com", "name": "Small", "password": PASSWORD}
        )
    assert response.status_code == 201, response.text


# --- unexpected errors -------------------------------------------------------------------------


async def test_an_unexpected_exception_is_a_json_500_with_the_request_id_and_nothing_internal(
    settings: Settings,
) -> None:
    app = create_app(settings)

    async def broken() -> None:
        raise RuntimeError("secret-host.internal:5432 refused")

    app.add_api_route("/broken", broken)
    async with app_client(app) as client:
        response = await client.get("/broken", headers={"X-Request-ID": "trace-123"})
        after = await client.get("/health")
    assert response.status_code == 500
    assert response.json() == {"detail": response.json()["detail"], "request_id": "trace-123"}
    assert "secret-host" not in response.text
    assert "RuntimeError" not in response.text
    assert response.headers["x-request-id"] == "trace-123"
    assert after.status_code == 200


async def test_every_response_gets_a_request_id_of_its_own(client: httpx.AsyncClient) -> None:
    first = await client.get("/health")
    second = await client.get("/health", headers={b"X-Request-ID": b"not a token\xe9"})
    assert len(first.headers["x-request-id"]) == 32
    assert second.headers["x-request-id"] not in {first.headers["x-request-id"], "not a token\xe9"}


# --- production surface ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/health", "/api/v1/users/0", "/no-such-page"])
async def test_every_response_carries_the_security_headers(client: httpx.AsyncClient, path: str) -> None:
    headers = (await client.get(path)).headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
async def test_docs_are_off_in_production(settings: Settings, path: str) -> None:
    async with api_client(settings.model_copy(update=PRODUCTION)) as client:
        assert (await client.get(path)).status_code == 404


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
async def test_docs_are_served_in_production_when_enabled(settings: Settings, path: str) -> None:
    async with api_client(settings.model_copy(update={**PRODUCTION, "docs_enabled": True})) as client:
        assert (await client.get(path)).status_code == 200


async def test_docs_are_served_outside_production(client: httpx.AsyncClient) -> None:
    assert (await client.get("/openapi.json")).status_code == 200


async def test_no_cors_headers_without_cors_origins(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"Origin": "https://app.example.com"})
    assert "access-control-allow-origin" not in response.headers


async def test_cors_allows_exactly_the_configured_origins(settings: Settings) -> None:
    configured = settings.model_copy(
        update={"cors_origins": "https://app.example.com, https://admin.example.com"}
    )
    preflight = {"Access-Control-Request-Method": "POST"}
    async with api_client(configured) as client:
        allowed = await client.options(
            "/api/v1/users", headers={"Origin": "https://admin.example.com", **preflight}
        )
        refused = await client.options(
            "/api/v1/users", headers={"Origin": "https://evil.example.com", **preflight}
        )
    assert allowed.headers["access-control-allow-origin"] == "https://admin.example.com"
    assert allowed.headers["x-content-type-options"] == "nosniff"
    assert "access-control-allow-origin" not in refused.headers


async def test_the_413s_and_500s_the_api_edge_answers_itself_carry_the_cors_headers(
    settings: Settings,
) -> None:
    configured = settings.model_copy(
        update={"cors_origins": "https://app.example.com", "max_request_bytes": 1_000}
    )
    app = create_app(configured)

    async def broken() -> None:
        raise RuntimeError("unexpected")

    app.add_api_route("/broken", broken)
    origin = {"Origin": "https://app.example.com"}
    async with app_client(app) as client:
        too_large = await client.post("/api/v1/users", json={"name": "x" * 2_000}, headers=origin)
        failed = await client.get("/broken", headers=origin)
    assert (too_large.status_code, failed.status_code) == (413, 500)
    for response in (too_large, failed):
        assert response.headers["access-control-allow-origin"] == "https://app.example.com"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-request-id"]


async def test_ready_in_production_names_what_failed_without_host_or_port(settings: Settings) -> None:
    broken = settings.model_copy(
        update={**PRODUCTION, "database_url": "postgresql+psycopg://nobody:hunter2@10.9.8.7:1/none"}
    )
    async with api_client(broken) as client:
        response = await client.get("/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] in {"unavailable", "timed out after 3s"}
    assert "10.9.8.7" not in response.text
    assert "hunter2" not in response.text


async def test_failed_jobs_in_production_show_the_error_type_only(settings: Settings) -> None:
    record_failed_job(
        settings,
        job_name="send_welcome_email",
        arguments={"user_id": 1},
        exception="ConnectionRefusedError(111, \"Connect call failed ('10.9.8.7', 1025)\")",
        attempts=3,
    )
    production = settings.model_copy(update=PRODUCTION)
    admin = headers_for(production, make_admin(production))
    async with api_client(production) as client:
        [entry] = (await client.get("/api/v1/jobs/failed", headers=admin)).json()
    assert entry["exception"] == "ConnectionRefusedError (full error in the logs)"


# --- the field types every route uses ------------------------------------------------------------


@pytest.mark.parametrize("value", [1, 5.0, 2**31 - 1])
def test_a_body_integer_within_the_column_is_accepted(value: object) -> None:
    assert TypeAdapter(PositiveInt32).validate_python(value) == int(value)  # type: ignore[call-overload]


@pytest.mark.parametrize("value", [0, 2**31, True, "5", 5.5, 1e400])
def test_a_body_integer_outside_the_column_or_not_a_json_integer_is_refused(value: object) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(PositiveInt32).validate_python(value)


def test_the_integer_bounds_are_in_the_openapi_schema() -> None:
    assert TypeAdapter(NonNegativeInt32).json_schema() == {
        "type": "integer",
        "minimum": 0,
        "maximum": 2**31 - 1,
    }


async def test_every_operation_with_a_body_documents_400_and_413(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    with_body = [
        operation for path in paths.values() for operation in path.values() if "requestBody" in operation
    ]
    assert with_body
    for operation in with_body:
        assert {"400", "413"} <= set(operation["responses"]), operation["operationId"]
