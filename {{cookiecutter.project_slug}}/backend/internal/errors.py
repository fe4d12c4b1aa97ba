"""Domain errors and their HTTP mapping, in one place.

Services raise these without knowing about HTTP; `install_error_handlers` turns them into
responses of the form ``{"detail": "..."}`` with the status code each class declares. It also
replaces FastAPI's 422 handler, which echoes the whole input back and fails on input JSON cannot
encode (a lone surrogate, ``1e400``).
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

# The most of a rejected value (or of a field name) a 422 repeats back.
MAX_ECHOED_CHARS = 100


class DomainError(Exception):
    status_code = 400
    headers: dict[str, str] | None = None

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class NotAuthenticated(DomainError):
    """No valid credentials. The header tells clients (and /docs) to send a bearer token."""

    status_code = 401
    headers = {"WWW-Authenticate": "Bearer"}  # noqa: RUF012  (read-only)


class Forbidden(DomainError):
    status_code = 403


def bounded_text(value: str) -> str:
    """At most MAX_ECHOED_CHARS of `value`, with anything UTF-8 cannot hold replaced by '?'."""
    cut = value[: MAX_ECHOED_CHARS + 1]
    text = cut.encode("utf-8", "replace").decode("utf-8")
    return text[:MAX_ECHOED_CHARS] + "..." if len(cut) > MAX_ECHOED_CHARS else text


def echoed_input(value: Any) -> str | None:
    """What a 422 may say about a rejected value: scalars as bounded text, containers not at all."""
    if isinstance(value, str):
        return bounded_text(value)
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return str(value) if value.bit_length() <= 256 else "a very large integer"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else "a number too large to represent"
    return None


def public_validation_error(error: dict[str, Any]) -> dict[str, Any]:
    loc = [part if isinstance(part, int) else bounded_text(str(part)) for part in error.get("loc", ())]
    public: dict[str, Any] = {"type": str(error["type"]), "loc": loc, "msg": bounded_text(str(error["msg"]))}
    echoed = echoed_input(error.get("input"))
    if echoed is not None:
        public["input"] = echoed
    return public


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [public_validation_error(error) for error in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)
