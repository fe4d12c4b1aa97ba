"""Domain errors and their HTTP mapping, in one place.

Services raise these without knowing about HTTP; `install_error_handlers` turns them into
responses of the form ``{"detail": "..."}`` with the status code each class declares.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


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


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
